import { echoed, SiftError } from '@sift/kit';
import { aliveIndices, drop, type PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { isZeroRow } from './clustered-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * Embeds the alive records with the embedding service: the vectors every later embedding-space step reads.
 * A new embedding invalidates the clustering of the previous one.
 */
export async function embedStage(step: StepOf<'embed'>, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  const alive = aliveIndices(state);
  const texts = Array.from(alive, (i) => state.texts[i] as string);
  const r = await ctx.embedder.embed(
    texts,
    { model: step.model, version: step.version, dimensions: step.dimensions, batchSize: step.batchSize },
    (done) => ctx.progress(done, texts.length),
    ctx.signal,
  );
  checkFinite(r.vectors, r.dims, alive, state.ids, `${r.model.name}@${r.model.version}`);
  // Rows of records dropped before this step stay zero: no later step reads them.
  const vectors = new Float32Array(state.ids.length * r.dims);
  alive.forEach((rec, row) => {
    vectors.set(r.vectors.subarray(row * r.dims, (row + 1) * r.dims), rec * r.dims);
  });
  state.embeddings = { vectors, dims: r.dims, model: `${r.model.name}@${r.model.version}` };
  state.clustering = undefined;
  // Records the encoder could read nothing of have zero vectors, which no embedding-space step can place
  // (cosine to them is undefined): they are dropped here, or kept aside by those steps.
  const unreadable = alive.filter((rec) => isZeroRow(vectors, rec, r.dims));
  if (step.unreadable === 'drop') {
    for (const rec of unreadable) drop(state, rec, { stage: step.name, reason: 'unreadable' });
  }
  return {
    facts: {
      model: state.embeddings.model,
      dims: r.dims,
      unreadable: unreadable.length,
      ...(unreadable.length > 0 ? { unreadablePolicy: step.unreadable } : {}),
    },
  };
}

/**
 * Fails the stage when the encoder returned NaN or infinite values: one such row would turn its centroid,
 * and through it every clustering-based decision, into NaN without any error.
 */
function checkFinite(vectors: Float32Array, dims: number, alive: Int32Array, ids: string[], model: string): void {
  const bad: number[] = [];
  for (let row = 0; row < alive.length; row++) {
    for (let j = row * dims; j < (row + 1) * dims; j++) {
      if (!Number.isFinite(vectors[j] as number)) {
        bad.push(row);
        break;
      }
    }
  }
  if (bad.length === 0) return;
  const named = bad.slice(0, 3).map((row) => JSON.stringify(echoed(ids[alive[row] as number] ?? '')));
  throw new SiftError(
    'failed_precondition',
    `embedding model ${model} returned NaN or infinite values for ${bad.length} record(s) (ids ${named.join(', ')}${bad.length > 3 ? ', ...' : ''}); the model is broken for these inputs, so no embedding-space step can use them`,
  );
}
