import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelStore } from './model-store.js';
import { SessionCache } from './sessions.js';

const root = mkdtempSync(join(tmpdir(), 'sift-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A minimal valid manifest, as the store's parser reads it. */
const manifest = (name: string, version: string) => ({
  name,
  version,
  task: 'classification',
  files: { model: 'model.onnx' },
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
});

function put(name: string, version: string, text: string) {
  mkdirSync(join(root, name, version), { recursive: true });
  writeFileSync(join(root, name, version, 'model.json'), text);
}

describe('ModelStore', () => {
  put('alpha', '1', JSON.stringify(manifest('alpha', '1')));
  put('alpha', '10', JSON.stringify(manifest('alpha', '10')));
  put('alpha', '2', JSON.stringify(manifest('alpha', '2')));
  put('broken', '1', '{ "name": "broken", ');
  mkdirSync(join(root, 'recipes', 'scripts'), { recursive: true }); // a folder that is not a model

  it('lists every readable version in numeric order and reports, not throws, a broken manifest', async () => {
    const skipped: string[] = [];
    const store = new ModelStore(root, (path, err) => skipped.push(`${path}: ${err.kind}`));
    expect((await store.list()).map((m) => `${m.name}/${m.version}`)).toEqual(['alpha/1', 'alpha/2', 'alpha/10']);
    expect(skipped).toEqual([`${join(root, 'broken', '1', 'model.json')}: failed_precondition`]);
  });

  it('resolves the highest version by default and names what the store has for an unknown model', async () => {
    const store = new ModelStore(root);
    expect((await store.resolve('alpha')).version).toBe('10');
    await expect(store.resolve('nope')).rejects.toMatchObject({
      kind: 'not_found',
      message: 'unknown model "nope"; the store has: alpha, broken',
    });
    await expect(store.resolve('alpha', '3')).rejects.toMatchObject({ kind: 'not_found' });
    await expect(store.resolve('broken')).rejects.toMatchObject({ kind: 'failed_precondition' });
  });

  it('quotes at most 200 characters of a name or version it cannot find or accept', async () => {
    const store = new ModelStore(root);
    const long = 'n'.repeat(100_000);
    const cut = `${'n'.repeat(200)}…`;
    await expect(store.resolve(long)).rejects.toMatchObject({
      kind: 'not_found',
      message: `unknown model "${cut}"; the store has: alpha, broken`,
    });
    await expect(store.resolve(`${long}!`)).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `model name "${cut}" is not valid (letters, digits, ".", "_", "-")`,
    });
    await expect(store.resolve('alpha', long)).rejects.toMatchObject({
      kind: 'not_found',
      message: `model "alpha" has no version "${cut}"; versions: 1, 2, 10`,
    });
    await expect(store.resolve('alpha', `${long}/`)).rejects.toMatchObject({
      message: `model version "${cut}" is not valid`,
    });
  });
});

describe('SessionCache integrity check', () => {
  it('refuses a graph whose bytes differ from its manifest sha256, and loads it when they match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sift-sha-'));
    try {
      cpSync(new URL('../../../models/digits-cls/1', import.meta.url).pathname, join(dir, 'digits-cls', '1'), {
        recursive: true,
      });
      const store = new ModelStore(dir);
      const sessions = new SessionCache({ provider: 'cpu', logger: createLogger('sha-test', 'error') });
      try {
        const model = await store.resolve('digits-cls');
        await expect(sessions.get(model)).resolves.toMatchObject({ provider: 'cpu' });
        await sessions.close();
        const path = join(dir, 'digits-cls', '1', 'model.onnx');
        const bytes = readFileSync(path);
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff; // one weight byte flipped
        writeFileSync(path, bytes);
        await expect(sessions.get(model)).rejects.toMatchObject({
          kind: 'failed_precondition',
          message: expect.stringContaining('model.onnx has sha256 '),
        });
      } finally {
        await sessions.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
