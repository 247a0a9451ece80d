/**
 * The quick-start demo: starts NATS, the metrics consumer (embedded ClickHouse), the embedding service and
 * the gateway as separate processes, does the work a user would do through the HTTP API and gRPC, stops
 * everything cleanly and shows what landed in ClickHouse.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { credentials } from '@grpc/grpc-js';
import { commonV1, embeddingV1, pruningV1 } from '@sift/contracts';
import { repoRoot, startPlatform, waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import { markdownSentences } from '../models/builders/markdown-prose.js';
import { writeDemoCorpus } from './demo-corpus.js';

const dataDir = join(repoRoot, '.data', 'demo');
mkdirSync(dataDir, { recursive: true });
const say = (s = '') => process.stdout.write(`${s}\n`);

say('== starting NATS, metrics consumer, embedding, selection and pruning services, and the gateway');
// The pruning service writes new model versions: give it a copy of the store, never the repository's.
const demoModels = join(dataDir, 'models');
rmSync(demoModels, { recursive: true, force: true });
for (const name of ['byte-gpt', 'bpe-gpt', 'llama-mini'])
  cpSync(join(repoRoot, 'models', name), join(demoModels, name), { recursive: true });
const platform = await startPlatform(
  dataDir,
  {},
  { selection: true, pruning: true, pruningEnv: { SIFT_MODELS_DIR: demoModels } },
);
say(`   gateway ${platform.gatewayUrl}   embedding gRPC ${platform.embeddingAddress}   NATS ${platform.natsUrl}`);

interface StreamedStatus {
  state: string;
  progress?: { stage?: string; done?: number; total?: number; etaSeconds?: number; unit?: string };
  error?: string;
}

/**
 * Reads a job's Server-Sent Events as they arrive and prints each stage once it is over, with the units
 * it finished (records for selection), then the final state.
 */
async function followJobEvents(url: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  const started = Date.now();
  let current: StreamedStatus | undefined;
  const show = (st: StreamedStatus) => {
    const p = st.progress ?? {};
    const units = p.total ? `${p.done ?? 0}/${p.total} ${p.unit ?? ''}` : '';
    const state = st.state.replace('JOB_STATE_', '');
    const at = `${((Date.now() - started) / 1000).toFixed(1)} s`;
    say(
      `     ${at.padStart(7)}  ${state.padEnd(10)} ${(p.stage ?? '').padEnd(10)} ${units}${st.error ? `  ${st.error}` : ''}`,
    );
  };
  let buffered = '';
  for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const data = buffered
        .slice(0, end)
        .split('\n')
        .find((l) => l.startsWith('data: '));
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
      if (!data) continue;
      const st = JSON.parse(data.slice(6)) as StreamedStatus;
      // A stage is over when the next begins; "queued" is only the stage a job is marked running in.
      const ended = current?.state === 'JOB_STATE_RUNNING' && current.progress?.stage !== st.progress?.stage;
      if (current && ended && current.progress?.stage !== 'queued') show(current);
      current = st;
      if (st.state !== 'JOB_STATE_RUNNING' && st.state !== 'JOB_STATE_QUEUED') show(st);
    }
  }
}

const embed = async (input: string[], model?: string): Promise<number[][]> => {
  const res = await fetch(`${platform.gatewayUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, ...(model ? { model } : {}) }),
  });
  const body = (await res.json()) as { data: { embedding: number[] }[] };
  return body.data.map((d) => d.embedding);
};
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

try {
  say('\n== models in the store (gRPC ListModels)');
  const client = new embeddingV1.EmbeddingServiceClient(platform.embeddingAddress, credentials.createInsecure());
  const models = await new Promise<embeddingV1.ListModelsResponse>((resolve, reject) =>
    client.listModels({}, (err, res) => (err ? reject(err) : resolve(res))),
  );
  client.close();
  for (const m of models.models) {
    say(
      `   ${`${m.model?.name}@${m.model?.version}`.padEnd(28)} ${m.task.padEnd(15)} dims=${m.dimensions} maxTokens=${m.maxInputTokens}`,
    );
  }

  say('\n== semantic search over a few documents (POST /v1/embeddings, default model glove-sif-100d)');
  const docs = [
    'The central bank raised interest rates to fight inflation.',
    'A striker scored twice as the home team won the cup final.',
    'Heavy snow closed mountain roads and schools across the region.',
    'The new phone has a faster chip and a brighter screen.',
    'Doctors recommend regular exercise to lower blood pressure.',
  ];
  const queries = ['football match result', 'monetary policy and prices', 'winter storm weather', 'health advice'];
  const [docVecs, queryVecs] = [await embed(docs), await embed(queries)];
  for (const [qi, q] of queries.entries()) {
    const scores = docVecs.map((d, i) => ({ i, s: dot(queryVecs[qi] ?? [], d) })).sort((a, b) => b.s - a.s);
    const best = scores[0] as { i: number; s: number };
    say(`   "${q}" -> "${docs[best.i]}" (cosine ${best.s.toFixed(3)})`);
  }

  say('\n== near-duplicate code (code-ngram model)');
  const code = [
    'def mean(values):\n    return sum(values) / len(values)\n',
    'def average(xs):\n    return sum(xs) / len(xs)\n',
    'class HttpClient:\n    def get(self, url, timeout=10):\n        return self.session.get(url, timeout=timeout)\n',
  ];
  const cv = await embed(code, 'code-ngram');
  say(
    `   cos(mean, average) = ${dot(cv[0] ?? [], cv[1] ?? []).toFixed(3)}   cos(mean, HttpClient) = ${dot(cv[0] ?? [], cv[2] ?? []).toFixed(3)}`,
  );

  say('\n== curating a dataset: README prose of the installed npm packages (gzip JSONL)');
  const corpus = await writeDemoCorpus(repoRoot, join(dataDir, 'readme-prose.jsonl.gz'));
  say(`   ${corpus.records} records (${corpus.planted.length} planted near-copies) -> ${corpus.path}`);
  const outDir = join(dataDir, `curated-${Date.now()}`);
  const submitted = await fetch(`${platform.gatewayUrl}/v1/selection/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      dataset: { paths: [corpus.path], textField: 'text', idField: 'id' },
      steps: [
        { name: 'embed', embed: { batchSize: 256 } },
        { name: 'cluster', kmeans: { k: 40, seed: 1 } },
        { name: 'semdedup', semDedup: { eps: 0.03, reportEps: [0.01, 0.03, 0.05, 0.1] } },
        { name: 'density', densityPruning: { keepFraction: 0.8 } },
      ],
      output: { path: outDir, writeDropped: true },
    }),
  });
  const { jobId } = (await submitted.json()) as { jobId: string };
  say(`   job ${jobId} submitted; progress as it streams (Server-Sent Events), one line per stage:`);
  await followJobEvents(`${platform.gatewayUrl}/v1/selection/jobs/${jobId}/events`);
  if (!existsSync(join(outDir, 'report.json'))) throw new Error(`selection job ${jobId} did not succeed`);
  const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as {
    recordsTotal: number;
    recordsKept: number;
    stages: {
      stage: string;
      recordsIn: number;
      recordsKept: number;
      seconds: number;
      epsSweep?: { eps: number; wouldDrop: number }[];
    }[];
  };
  for (const st of report.stages)
    say(
      `   ${st.stage.padEnd(9)} ${String(st.recordsIn).padStart(5)} -> ${String(st.recordsKept).padStart(5)}  (${st.seconds.toFixed(2)} s)`,
    );
  const sweep = report.stages.find((st) => st.epsSweep)?.epsSweep ?? [];
  say(`   SemDeDup sweep: ${sweep.map((p) => `eps ${p.eps} drops ${p.wouldDrop}`).join(', ')}`);
  const decisions = readFileSync(join(outDir, 'decisions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string | boolean>);
  const byId = new Map(decisions.map((d) => [d.recordId as string, d]));
  const found = corpus.planted.filter((p) => !byId.get(p.id)?.kept || !byId.get(p.of)?.kept).length;
  say(
    `   planted near-copies caught: ${found}/${corpus.planted.length}; kept ${report.recordsKept} of ${report.recordsTotal}`,
  );
  const texts = new Map<string, string>();
  for (const line of gunzipSync(readFileSync(corpus.path)).toString('utf8').trim().split('\n')) {
    const r = JSON.parse(line) as { id: string; text: string };
    texts.set(r.id, r.text);
  }
  const natural = decisions
    .filter((d) => d.reason === 'DECISION_REASON_SEMANTIC_DUPLICATE' && !String(d.recordId).endsWith('~copy'))
    .slice(0, 2);
  for (const d of natural) {
    say(`   dropped  ${d.recordId}: "${texts.get(d.recordId as string)?.slice(0, 90)}"`);
    say(`   dup of   ${d.duplicateOf}: "${texts.get(d.duplicateOf as string)?.slice(0, 90)}"`);
  }
  say(`   outputs: ${outDir}/{kept.jsonl.gz, dropped.jsonl.gz, decisions.jsonl, report.json, report.md}`);

  say('\n== pruning a layer from byte-gpt (pruning service, gRPC)');
  const prose = markdownSentences(readFileSync(join(repoRoot, 'node_modules/@grpc/grpc-js/README.md'), 'utf8'))
    .concat(markdownSentences(readFileSync(join(repoRoot, 'node_modules/protobufjs/README.md'), 'utf8')))
    .join(' ');
  const chunk = (i: number) => prose.slice(i * 256, (i + 1) * 256);
  const calibration = Array.from({ length: 16 }, (_, i) => chunk(i));
  const evaluation = Array.from({ length: 8 }, (_, i) => chunk(16 + i));
  const pruning = new pruningV1.PruningServiceClient(platform.pruningAddress ?? '', credentials.createInsecure());
  const inline = (t: string[]) => ({ source: { $case: 'inline' as const, value: { texts: t } } });
  /** Polls GetJob until the job is final; its result, or undefined after printing why it failed. */
  const finished = async (jobId: string) => {
    let job: pruningV1.Job | undefined;
    await waitUntil(
      async () => {
        job = await new Promise<pruningV1.GetJobResponse>((resolve, reject) =>
          pruning.getJob({ jobId }, (err, res) => (err ? reject(err) : resolve(res))),
        ).then((r) => r.job);
        return (job?.status?.state ?? 0) >= commonV1.JobState.JOB_STATE_SUCCEEDED;
      },
      120_000,
      250,
    );
    if (job?.status?.state !== commonV1.JobState.JOB_STATE_SUCCEEDED) {
      say(`   job ${jobId} ended ${commonV1.jobStateToJSON(job?.status?.state ?? 0)}: ${job?.status?.error}`);
      return undefined;
    }
    return job.result;
  };
  const healing = { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES };
  const calibrationSpec = { texts: inline(calibration), sequenceLength: 256 };
  // 20 timed forward passes per model (after 2 warm-up passes): fewer make the p50 latencies below noise.
  const evaluationSpec = { texts: inline(evaluation), latencyRuns: 20 };

  // 1. How many layers can it lose? The analysis removes each l*(n) in memory and measures it.
  const analysisJob = await new Promise<pruningV1.SubmitAnalysisResponse>((resolve, reject) =>
    pruning.submitAnalysis(
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '1' },
          calibration: calibrationSpec,
          maxBlockSize: 3,
          evaluation: evaluationSpec,
          healing,
        },
      }),
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  const analysed = await finished(analysisJob.jobId);
  if (analysed?.$case === 'analysisResult') {
    const a = analysed.value;
    const base = a.sourceMetrics?.bitsPerByte ?? Number.NaN;
    say(`   held-out bits/byte of the 8-layer model: ${base.toFixed(3)}; removing the most redundant block l*(n):`);
    for (const e of a.blockEvaluations) {
      const b = e.block;
      const d = (m?: pruningV1.ModelMetrics) =>
        `${m?.bitsPerByte.toFixed(3)} (+${((m?.bitsPerByte ?? 0) - base).toFixed(3)})`;
      say(
        `     n = ${b?.blockSize}: layers ${b?.startLayer}..${(b?.startLayer ?? 0) + (b?.blockSize ?? 0) - 1}, ` +
          `distance ${b?.distance?.toFixed(3)} -> ${d(e.unhealed)} unhealed, ${d(e.healed)} healed`,
      );
    }
    say(`   report: ${a.markdownReportPath}`);
  }

  // 2. Remove one layer for real, healed, as a new model version.
  const submittedPruning = await new Promise<pruningV1.SubmitPruningResponse>((resolve, reject) =>
    pruning.submitPruning(
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '1' },
          blockSize: 1,
          analysisJobId: analysisJob.jobId,
          calibration: calibrationSpec,
          healing,
          evaluation: evaluationSpec,
        },
      }),
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  const prunedResult = await finished(submittedPruning.jobId);
  if (prunedResult?.$case === 'pruningResult') {
    const r = prunedResult.value;
    const f = (m?: { bitsPerByte: number; latencyMsP50: number; fileSizeBytes: number; layerCount: number }) =>
      `${m?.layerCount} layers, ${m?.bitsPerByte.toFixed(3)} bits/byte, p50 ${m?.latencyMsP50.toFixed(1)} ms, ${((m?.fileSizeBytes ?? 0) / 1e6).toFixed(2)} MB`;
    say(`   removed layer ${r.removedBlock?.startLayer} (angular distance ${r.removedBlock?.distance?.toFixed(3)})`);
    say(`   before          ${f(r.before)}`);
    say(`   after           ${f(r.afterUnhealed)}`);
    say(`   after + healing ${f(r.afterHealed)}`);
    say(
      r.healing?.foldedInto
        ? `   healing: least-squares map folded into ${r.healing.foldedInto} (no new parameters)`
        : `   healing: least-squares map inserted as a MatMul (${r.healing?.addedParameters} parameters)`,
    );
    say(`   stored as ${r.prunedModel?.name}@${r.prunedModel?.version} in ${demoModels}`);
  }

  // 3. Models as most arrive: a byte-level BPE tokenizer.json, layers known only by node names; the second
  // with the Llama layout and a key/value cache, as Optimum exports it.
  for (const [name, what] of [
    ['bpe-gpt', 'a tokenizer model exported like a Hugging Face GPT-2, layers found by graph analysis'],
    ['llama-mini', 'the Llama layout (RMSNorm, rotary, grouped-query attention) with a key/value cache'],
  ] as const) {
    say(`\n== pruning ${name}: ${what}`);
    const submitted = await new Promise<pruningV1.SubmitPruningResponse>((resolve, reject) =>
      pruning.submitPruning(
        pruningV1.SubmitPruningRequest.fromPartial({
          spec: {
            model: { name, version: '1' },
            blockSize: 1,
            calibration: { texts: inline(calibration), sequenceLength: 128 },
            healing,
            evaluation: evaluationSpec,
          },
        }),
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    const result = await finished(submitted.jobId);
    if (result?.$case === 'pruningResult') {
      const r = result.value;
      const bpb = (m?: pruningV1.ModelMetrics) => m?.bitsPerByte.toFixed(3);
      say(
        `   removed layer ${r.removedBlock?.startLayer} of ${r.before?.layerCount} (angular distance ${r.removedBlock?.distance?.toFixed(3)}): ` +
          `${bpb(r.before)} -> ${bpb(r.afterUnhealed)} bits/byte unhealed, ${bpb(r.afterHealed)} healed ` +
          `(same texts as byte-gpt, bits per UTF-8 byte whatever the vocabulary)`,
      );
      say(`   stored with its tokenizer.json as ${r.prunedModel?.name}@${r.prunedModel?.version} in ${demoModels}`);
    }
  }
  pruning.close();

  say('\n== a bad request gets a precise error');
  const bad = await fetch(`${platform.gatewayUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: ['x'], model: 'glove-sif-100d', dimensions: 4096 }),
  });
  say(`   HTTP ${bad.status} ${JSON.stringify(await bad.json())}`);
} finally {
  say('\n== stopping (services drain, the metrics consumer flushes to ClickHouse)');
  await platform.stop();
}

const store = await openMetricsStore({ embeddedPath: platform.clickhouseDir });
const decided = await store.query({
  query: `SELECT reason, count() AS n FROM selection_decisions GROUP BY reason ORDER BY n DESC`,
  format: 'JSONEachRow',
});
say(`\n== ClickHouse selection_decisions (all demo runs so far)`);
for (const r of await decided.json<{ reason: string; n: string }>()) say(`   ${r.reason.padEnd(20)} ${r.n}`);
const rs = await store.query({
  query: `SELECT service, method, status, count() AS calls, sum(batch_size) AS items,
                 round(quantile(0.5)(latency_ms), 2) AS p50_ms
          FROM requests GROUP BY service, method, status ORDER BY service, method, status`,
  format: 'JSONEachRow',
});
say(`\n== ClickHouse requests table (${platform.clickhouseDir}, all demo runs so far)`);
for (const r of await rs.json<Record<string, unknown>>()) {
  say(
    `   ${String(r.service).padEnd(10)} ${String(r.method).padEnd(22)} ${String(r.status).padEnd(18)} calls=${r.calls} items=${r.items} p50=${r.p50_ms}ms`,
  );
}
await store.close();
say('\ndemo finished');
