import { describe, expect, it } from 'vitest';
import type { TextEmbedder } from '../ports.js';
import { runStage, type StageContext } from './stages.js';
import type { PipelineState } from './state.js';

/** An encoder that maps each text to a fixed 2-d row: the contract of the port, without a service. */
function encoder(rows: Record<string, [number, number]>): TextEmbedder {
  return {
    embed: async (texts) => ({
      vectors: Float32Array.from(texts.flatMap((t) => rows[t] ?? [0, 0])),
      dims: 2,
      model: { name: 'fixed', version: '1' },
      unreadable: 0,
    }),
    checkModel: async () => {},
  };
}

const context = (embedder: TextEmbedder): StageContext => ({
  embedder,
  kernels: undefined as never,
  progress: () => {},
  signal: new AbortController().signal,
});

function state(texts: string[]): PipelineState {
  return {
    ids: texts.map((_, i) => `doc-${i}`),
    texts,
    alive: new Uint8Array(texts.length).fill(1),
    drops: new Map(),
    stageFacts: [],
  };
}

const embed = {
  name: 'embed',
  kind: 'embed',
  model: '',
  version: '',
  batchSize: 8,
  dimensions: 0,
  unreadable: 'keep',
} as const;

describe('the embed stage', () => {
  it('fails, naming the records, when the encoder returns NaN or infinite values', async () => {
    const s = state(['ok', 'broken', 'fine', 'huge']);
    const run = runStage(
      embed,
      s,
      context(encoder({ ok: [1, 0], broken: [Number.NaN, 0], fine: [0, 1], huge: [Number.POSITIVE_INFINITY, 1] })),
    );
    await expect(run).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining(
        'embedding model fixed@1 returned NaN or infinite values for 2 record(s) (ids "doc-1", "doc-3")',
      ),
    });
  });

  it('stores finite rows and counts all-zero ones as unreadable', async () => {
    const s = state(['ok', '???']);
    const facts = await runStage(embed, s, context(encoder({ ok: [1, 0] })));
    expect(facts.facts).toMatchObject({ model: 'fixed@1', dims: 2, unreadable: 1 });
    expect(Array.from(s.embeddings?.vectors ?? [])).toEqual([1, 0, 0, 0]);
  });
});
