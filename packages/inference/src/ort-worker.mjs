// One ONNX Runtime session on a worker thread. onnxruntime-node runs `session.run` synchronously on the
// thread that calls it, so on the main thread every model call stops gRPC I/O, deadlines and health checks
// until it returns. Here the main thread only posts feeds and receives outputs (`worker-session.ts`).
//
// Plain JavaScript on purpose: a worker thread starts without the TypeScript loader of its parent (vitest,
// tsx), and this file needs nothing but onnxruntime-node.
//
// Protocol (main -> worker): {kind: 'run', id, feeds: {name: {type, data, dims}}, fetches?} | {kind: 'release'}
// (worker -> main): {kind: 'ready', inputNames, outputNames, inputMetadata} | {kind: 'failed', message}
//                   | {kind: 'result', id, outputs} | {kind: 'result', id, error} | {kind: 'released'}
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const port = parentPort;
if (!port) throw new Error('ort-worker.mjs runs as a worker thread only');

const messageOf = (err) => (err instanceof Error ? err.message : String(err));

let session;
try {
  session = await ort.InferenceSession.create(workerData.source, workerData.options);
  port.postMessage({
    kind: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
  });
} catch (err) {
  port.postMessage({ kind: 'failed', message: messageOf(err) });
}

if (session) {
  port.on('message', async (msg) => {
    if (msg.kind === 'release') {
      await session.release();
      port.postMessage({ kind: 'released' });
      port.close();
      return;
    }
    try {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = msg.fetches ? await session.run(feeds, msg.fetches) : await session.run(feeds);
      const outputs = {};
      // Output buffers are fresh copies made for this call: hand them over instead of copying them again.
      const transfer = new Set();
      for (const [name, t] of Object.entries(results)) {
        outputs[name] = { type: t.type, data: t.data, dims: t.dims };
        if (ArrayBuffer.isView(t.data)) transfer.add(t.data.buffer);
      }
      port.postMessage({ kind: 'result', id: msg.id, outputs }, [...transfer]);
    } catch (err) {
      port.postMessage({ kind: 'result', id: msg.id, error: messageOf(err) });
    }
  });
}
