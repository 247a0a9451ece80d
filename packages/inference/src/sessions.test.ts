import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createOrtGemmTransposed } from './gemm.js';
import { encodeModel } from './onnx-writer.js';
import { openSession } from './sessions.js';

/** A logger that keeps its lines. */
function recordingLogger(lines: { level: string; msg: string; fields: Record<string, unknown> }[]): Logger {
  const at =
    (level: string, base: Record<string, unknown>) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, msg, fields: { ...base, ...fields } });
  const make = (base: Record<string, unknown>): Logger => ({
    debug: at('debug', base),
    info: at('info', base),
    warn: at('warn', base),
    error: at('error', base),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make({});
}

const identity = encodeModel({
  graphName: 'identity',
  inputs: [{ name: 'x', dtype: 'float32', shape: ['n'] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  initializers: [],
});

/**
 * Whether ONNX Runtime can run CUDA here, judged apart from the code under test: its CUDA provider library
 * is installed beside the binding (this project installs onnxruntime-node without it) and a GPU is present.
 */
const cudaUsable =
  existsSync(
    join(
      dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
      `../bin/napi-v6/${process.platform}/${process.arch}/libonnxruntime_providers_cuda.so`,
    ),
  ) && existsSync('/dev/nvidia0');

describe('openSession', () => {
  it('runs on CPU when asked for CPU, and says which provider runs the graph', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const { session, provider } = await openSession(identity, {}, 'cpu', recordingLogger(lines));
    expect(provider).toBe('cpu');
    expect(lines).toEqual([{ level: 'info', msg: 'graph loaded', fields: { provider: 'cpu', thread: 'main' } }]);
    await session.release();
  });

  it('falls back to CPU with a warning naming the reason when CUDA cannot be used, and still runs', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const { session, provider } = await openSession(identity, {}, 'cuda', recordingLogger(lines));
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
      expect(Array.from(out.y?.data as Float32Array)).toEqual([1, 2]);
      if (cudaUsable) {
        expect(provider).toBe('cuda');
        expect(lines).toEqual([{ level: 'info', msg: 'graph loaded', fields: { provider: 'cuda', thread: 'main' } }]);
      } else {
        expect(provider).toBe('cpu');
        expect(lines).toEqual([
          {
            level: 'warn',
            msg: 'CUDA execution provider unavailable; falling back to CPU',
            fields: { reason: expect.stringMatching(/\S/) },
          },
          { level: 'info', msg: 'graph loaded', fields: { provider: 'cpu', thread: 'main' } },
        ]);
      }
    } finally {
      await session.release();
    }
  });

  it('lets the ONNX kernels ask for CUDA and fall back the same way', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const gemm = await createOrtGemmTransposed({ provider: 'cuda', logger: recordingLogger(lines) });
    const out = new Float32Array(1);
    await gemm(Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 1, 2, out);
    expect(out[0]).toBe(11);
    expect(lines.at(-1)).toMatchObject({ msg: 'graph loaded', fields: { graph: 'gemm-transposed' } });
  });

  it('opens a graph on a worker thread with the same provider fallback, and says so', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const { session, provider } = await openSession(identity, {}, 'cuda', recordingLogger(lines), 'worker');
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(3, 4), [2]) });
      expect(Array.from(out.y?.data as Float32Array)).toEqual([3, 4]);
      expect(lines.at(-1)).toMatchObject({ msg: 'graph loaded', fields: { provider, thread: 'worker' } });
    } finally {
      await session.release();
    }
  });
});
