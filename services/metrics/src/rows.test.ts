import { pruningV1, type selectionV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { checkRow, earliestEventMs, futureSlackMs } from './row-checks.js';
import { decisionRows, pruningRunRow, requestRow } from './rows.js';

const receivedAtMs = Date.UTC(2026, 0, 2, 3, 4, 5); // 2026-01-02T03:04:05Z
const finishedAtMs = Date.UTC(2026, 0, 2, 3, 4, 0);

const request = (over: Partial<Parameters<typeof requestRow>[0]> = {}) =>
  requestRow(
    {
      service: 'embedding',
      method: 'Embed',
      status: 'OK',
      latencyMs: 12.5,
      batchSize: 4,
      model: undefined,
      finishedAtMs,
      httpStatus: 0,
      ...over,
    },
    receivedAtMs,
  );

describe('requestRow', () => {
  it('takes a valid request as it is', () => {
    const { row, problems } = request();
    expect(problems).toEqual([]);
    expect(row).toMatchObject({ finished_at: finishedAtMs, latency_ms: 12.5, batch_size: 4, http_status: 0 });
  });

  it('skips a request whose batch size a UInt32 cannot hold, never wrapping it', () => {
    for (const batchSize of [-5, 2 ** 32, 2 ** 53 - 1, 1.5]) {
      expect(request({ batchSize })).toEqual({
        row: undefined,
        problems: [{ field: 'batch_size', value: batchSize, action: 'skipped' }],
      });
    }
    expect(request({ batchSize: 2 ** 32 - 1 }).row?.batch_size).toBe(4294967295);
  });

  it('skips an HTTP status of more than three digits (4e9 would be stored as 10240 in UInt16)', () => {
    expect(request({ httpStatus: 4e9 }).problems).toEqual([{ field: 'http_status', value: 4e9, action: 'skipped' }]);
    expect(request({ httpStatus: 4e9 }).row).toBeUndefined();
    expect(request({ httpStatus: 413 }).row?.http_status).toBe(413);
  });

  it('skips a NaN or negative latency instead of storing 0', () => {
    expect(request({ latencyMs: Number.NaN }).row).toBeUndefined();
    expect(request({ latencyMs: -1 }).row).toBeUndefined();
    expect(request({ latencyMs: Number.POSITIVE_INFINITY }).row).toBeUndefined();
  });

  it('replaces a finish time before 2020 or over a day ahead with the receive time', () => {
    for (const t of [1e15, -1e13, 0, earliestEventMs - 1, receivedAtMs + futureSlackMs + 1]) {
      const { row, problems } = request({ finishedAtMs: t });
      expect(row?.finished_at).toBe(receivedAtMs);
      expect(problems).toEqual([{ field: 'finished_at', value: t, action: 'receive time' }]);
    }
    expect(request({ finishedAtMs: earliestEventMs }).row?.finished_at).toBe(earliestEventMs);
    expect(request({ finishedAtMs: receivedAtMs + futureSlackMs }).problems).toEqual([]);
  });
});

describe('decisionRows', () => {
  const event = (score: number | undefined, cluster: number | undefined): selectionV1.RecordsDecided => ({
    jobId: 'job-1',
    sequence: 1,
    publishedAtMs: finishedAtMs,
    decisions: [
      {
        recordId: 'r1',
        kept: true,
        stage: 'kmeans',
        reason: 0,
        duplicateOf: '',
        cluster,
        score,
        scoreStage: '',
        detail: '',
      },
    ],
  });

  it('stores NULL for a NaN score and keeps the row', () => {
    const [checked] = decisionRows(event(Number.NaN, 3), receivedAtMs);
    expect(checked?.row).toMatchObject({ record_id: 'r1', score: null, cluster: 3 });
    expect(checked?.problems).toEqual([{ field: 'score', value: Number.NaN, action: 'null' }]);
  });

  it('takes an unset score and cluster as NULL without a problem', () => {
    const [checked] = decisionRows(event(undefined, undefined), receivedAtMs);
    expect(checked?.row).toMatchObject({ score: null, cluster: null });
    expect(checked?.problems).toEqual([]);
  });
});

describe('pruningRunRow', () => {
  const metrics = (bitsPerByte: number, latencyMsP50: number): pruningV1.ModelMetrics => ({
    bitsPerByte,
    perplexity: 0,
    latencyMsP50,
    latencyMsP95: 0,
    fileSizeBytes: 1000,
    parameterCount: 100,
    layerCount: 12,
  });
  const run = (afterUnhealed: pruningV1.ModelMetrics, completedAtMs = finishedAtMs) =>
    pruningRunRow(
      {
        jobId: 'prune-1',
        completedAtMs,
        result: {
          before: metrics(1.25, 8),
          afterUnhealed,
          healing: { method: pruningV1.HealingMethod.HEALING_METHOD_NONE } as pruningV1.HealingSpec,
        } as pruningV1.PruningResult,
      },
      receivedAtMs,
    );

  it('stores NULL, not 0, for NaN bits per byte and a NaN latency p50 (0 would read as a perfect model)', () => {
    const { row, problems } = run(metrics(Number.NaN, Number.NaN));
    expect(row).toMatchObject({
      bits_per_byte_before: 1.25,
      bits_per_byte_unhealed: null,
      bits_per_byte_healed: null,
      latency_ms_p50_before: 8,
      latency_ms_p50_after: null,
      layers_after: 12,
    });
    expect(problems.map((p) => [p.field, p.action])).toEqual([
      ['bits_per_byte_unhealed', 'null'],
      ['latency_ms_p50_after', 'null'],
    ]);
  });

  it('skips a run whose parameter count a JS number cannot hold exactly', () => {
    const { row, problems } = run({ ...metrics(1.5, 7), parameterCount: 2 ** 53 });
    expect(row).toBeUndefined();
    expect(problems).toEqual([{ field: 'parameters_after', value: 2 ** 53, action: 'skipped' }]);
  });
});

describe('checkRow', () => {
  it('leaves columns it has no check for untouched and does not change its input', () => {
    const input = { name: 'x', n: -1 };
    expect(checkRow(input, { n: { kind: 'uint', max: 10, nullable: true } }, receivedAtMs)).toEqual({
      row: { name: 'x', n: null },
      problems: [{ field: 'n', value: -1, action: 'null' }],
    });
    expect(input.n).toBe(-1);
  });
});
