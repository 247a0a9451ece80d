import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelStore } from '@sift/inference';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputName, originalOf } from './output-name.js';

const root = mkdtempSync(join(tmpdir(), 'sift-pruning-output-name-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const models = new ModelStore(root);

/** Writes `<name>/<version>/model.json` with the given provenance. */
function writeModel(name: string, version: string, provenance: Record<string, unknown> = {}): void {
  const dir = join(root, name, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({ name, version, task: 'language-model', inputs: [], outputs: [], provenance }),
  );
}

/** Provenance of a pruning of `source`/`version` whose own provenance was `sourceProvenance`. */
function pruningOf(source: string, version: string, sourceProvenance: Record<string, unknown> = {}) {
  return { pruning: { jobId: 'j', source: { name: source, version, sha256: '' } }, sourceProvenance };
}

// lm (original) -> lm-pruned/1 -> lm-pruned-pruned/1; other (original) -> other-pruned/1.
writeModel('lm', '1', { recipe: 'lm.py' });
writeModel('lm-pruned', '1', pruningOf('lm', '1', { recipe: 'lm.py' }));
writeModel('lm-pruned-pruned', '1', pruningOf('lm-pruned', '1', pruningOf('lm', '1', { recipe: 'lm.py' })));
writeModel('other', '1');
writeModel('other-pruned', '1', pruningOf('other', '1'));

describe('checkOutputName', () => {
  it('reads a chain of prunings back to the original model', async () => {
    expect(originalOf((await models.resolve('lm')).manifest)).toBeUndefined();
    expect(originalOf((await models.resolve('lm-pruned')).manifest)).toBe('lm');
    expect(originalOf((await models.resolve('lm-pruned-pruned')).manifest)).toBe('lm');
  });

  it("refuses the original's name for a pruning of a pruning of it (plain requests would get the pruned model)", async () => {
    const source = await models.resolve('lm-pruned');
    await expect(checkOutputName(models, 'lm', source)).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringMatching(/model lm holds version 1, which is not a pruning \(an original model\)/),
    });
    const deeper = await models.resolve('lm-pruned-pruned');
    await expect(checkOutputName(models, 'lm', deeper)).rejects.toMatchObject({ kind: 'failed_precondition' });
  });

  it('refuses the source name and names holding prunings of another original', async () => {
    const source = await models.resolve('lm-pruned');
    await expect(checkOutputName(models, 'lm-pruned', source)).rejects.toMatchObject({ kind: 'invalid_argument' });
    await expect(checkOutputName(models, 'other-pruned', source)).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringMatching(/model other-pruned holds version 1, a pruning of other/),
    });
  });

  it('allows a new name, and a name holding only prunings that start at the same original', async () => {
    const source = await models.resolve('lm-pruned-pruned');
    await expect(checkOutputName(models, 'lm-new', source)).resolves.toBeUndefined();
    await expect(checkOutputName(models, 'lm-pruned', source)).resolves.toBeUndefined();
    // No output name: <source>-pruned, which does not exist yet.
    await expect(checkOutputName(models, '', source)).resolves.toBeUndefined();
    // lm's default output lm-pruned holds a pruning of lm itself.
    await expect(checkOutputName(models, '', await models.resolve('lm'))).resolves.toBeUndefined();
  });
});
