import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel } from './onnx-writer.js';
import { WorkerSession } from './worker-session.js';

/** y = x · w for x [n, 3] and a fixed w [3, 2]; s = ReduceSum(y) as a second output. */
const matmul = encodeModel({
  graphName: 'matmul',
  inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 3] }],
  outputs: [
    { name: 'y', dtype: 'float32', shape: ['n', 2] },
    { name: 's', dtype: 'float32', shape: [] },
  ],
  nodes: [
    { op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] },
    { op: 'ReduceSum', inputs: ['y'], outputs: ['s'], attributes: { keepdims: { int: 0 } } },
  ],
  initializers: [{ name: 'w', dtype: 'float32', dims: [3, 2], data: Float32Array.of(1, 0, 0, 1, 1, 1) }],
});

describe('WorkerSession', () => {
  it('computes on its own thread what the same graph computes on the main thread', async () => {
    const worker = await WorkerSession.create(matmul, {});
    const main = await ort.InferenceSession.create(matmul);
    try {
      expect(worker.inputNames).toEqual(['x']);
      expect(worker.outputNames).toEqual(['y', 's']);
      expect(worker.inputMetadata).toEqual(main.inputMetadata);
      const feeds = () => ({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) });
      const [a, b] = await Promise.all([worker.run(feeds()), main.run(feeds())]);
      expect(a.y?.dims).toEqual([2, 2]);
      expect(Array.from(a.y?.data as Float32Array)).toEqual([4, 5, 10, 11]);
      expect(Array.from(a.y?.data as Float32Array)).toEqual(Array.from(b.y?.data as Float32Array));
      expect(a.s?.data[0]).toBe(30);
      const onlyY = await worker.run(feeds(), ['y']);
      expect(Object.keys(onlyY)).toEqual(['y']);
    } finally {
      await worker.release();
      await main.release();
    }
  });

  it('answers concurrent runs in order, each with its own result', async () => {
    const worker = await WorkerSession.create(matmul, {});
    try {
      const runs = Array.from({ length: 20 }, (_, i) =>
        worker.run({ x: new ort.Tensor('float32', Float32Array.of(i, 0, 0), [1, 3]) }),
      );
      const sums = (await Promise.all(runs)).map((r) => r.s?.data[0]);
      expect(sums).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await worker.release();
    }
  });

  it('sends only the viewed part of a larger buffer, and leaves the caller its inputs', async () => {
    const worker = await WorkerSession.create(matmul, {});
    try {
      const big = new Float32Array(1_000_000).fill(1);
      const view = big.subarray(3, 6);
      const out = await worker.run({ x: new ort.Tensor('float32', view, [1, 3]) });
      expect(out.s?.data[0]).toBe(4);
      expect(big.length).toBe(1_000_000);
      expect(view[0]).toBe(1);
    } finally {
      await worker.release();
    }
  });

  it('rejects a wrong input shape with ONNX Runtime’s message and keeps serving', async () => {
    const worker = await WorkerSession.create(matmul, {});
    try {
      await expect(worker.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [1, 2]) })).rejects.toThrow(
        /dimension|shape|Got invalid/i,
      );
      const ok = await worker.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 1), [1, 3]) });
      expect(ok.s?.data[0]).toBe(4);
    } finally {
      await worker.release();
    }
  });

  it('keeps the event loop turning while a long model call computes', async () => {
    // Three chained 1200 x 1200 matrix products: long enough (~0.1-0.5 s) for timers to fire meanwhile.
    const n = 1200;
    const w = new Float32Array(n * n).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
    const slow = encodeModel({
      graphName: 'slow',
      inputs: [{ name: 'x', dtype: 'float32', shape: [n, n] }],
      outputs: [{ name: 'z', dtype: 'float32', shape: [n, n] }],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['a'] },
        { op: 'MatMul', inputs: ['a', 'w'], outputs: ['b'] },
        { op: 'MatMul', inputs: ['b', 'w'], outputs: ['z'] },
      ],
      initializers: [{ name: 'w', dtype: 'float32', dims: [n, n], data: w }],
    });
    const worker = await WorkerSession.create(slow, {});
    try {
      const order: string[] = [];
      const run = worker.run({ x: new ort.Tensor('float32', w.slice(), [n, n]) }).then(() => order.push('run'));
      setTimeout(() => order.push('timer'), 0);
      await run;
      // A session on this thread would hold the loop for the whole call: the timer would fire after it returned.
      expect(order).toEqual(['timer', 'run']);
    } finally {
      await worker.release();
    }
  });

  it('fails to open a corrupt graph with ONNX Runtime’s reason, and refuses runs after release', async () => {
    await expect(WorkerSession.create(Uint8Array.of(1, 2, 3, 4), {})).rejects.toThrow(/protobuf|parse|load/i);
    const worker = await WorkerSession.create(matmul, {});
    await worker.release();
    await expect(worker.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 1), [1, 3]) })).rejects.toThrow(
      /released/,
    );
  });
});
