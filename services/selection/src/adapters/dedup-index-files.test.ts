import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '@sift/numeric';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exactDedup, exactIndexOf, minHashDedup, minHashIndexOf, noTextNormalization } from '../domain/index.js';
import {
  isDedupIndexFile,
  loadExactIndex,
  loadMinHashIndex,
  saveExactIndex,
  saveMinHashIndex,
} from './dedup-index-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sift-dedup-index-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function document(seed: number, length = 80): string[] {
  const random = seededRandom(seed);
  return Array.from({ length }, () => `w${Math.floor(random() * 1000)}`);
}

describe('exact index files', () => {
  it('round-trip digests and ids, including non-ASCII ids, and leave no partial file', async () => {
    const result = exactDedup(['a', 'b', 'a', 'c']);
    const index = exactIndexOf(result, ['id-ä', 'id-🙂', 'id-2', '']);
    await saveExactIndex(join(dir, 'nested', 'exact.idx'), index);
    expect(await readdir(join(dir, 'nested'))).toEqual(['exact.idx']);
    const loaded = await loadExactIndex([join(dir, 'nested', 'exact.idx')]);
    expect(loaded).toEqual(index);
    expect([...loaded.records.values()]).toEqual(['id-ä', 'id-🙂', '']);
  });

  it('merge several files, the first path winning for a digest both hold', async () => {
    await saveExactIndex(join(dir, '1.idx'), exactIndexOf(exactDedup(['a', 'b']), ['first-a', 'first-b']));
    await saveExactIndex(join(dir, '2.idx'), exactIndexOf(exactDedup(['a', 'c']), ['second-a', 'second-c']));
    const index = await loadExactIndex([join(dir, '1.idx'), join(dir, '2.idx')]);
    const r = exactDedup(['c', 'a', 'd'], { index });
    expect(r.indexedDuplicateOf).toEqual(['second-c', 'first-a', '']);
    expect(Array.from(r.kept)).toEqual([0, 0, 1]);
  });

  it('refuse files built with different normalisations together', async () => {
    const lower = { ...noTextNormalization, lowercase: true };
    await saveExactIndex(join(dir, '1.idx'), exactIndexOf(exactDedup(['a']), ['x']));
    await saveExactIndex(join(dir, '2.idx'), exactIndexOf(exactDedup(['a'], { normalization: lower }), ['y']));
    await expect(loadExactIndex([join(dir, '1.idx'), join(dir, '2.idx')])).rejects.toMatchObject({
      kind: 'invalid_argument',
    });
  });
});

describe('MinHash index files', () => {
  it('support incremental dedup: a near-copy of an earlier kept record is dropped with its id', async () => {
    const earlier = [document(1), document(2), document(1)].map((w) => w.join(' '));
    const first = minHashDedup(earlier, { seed: 11 });
    expect(Array.from(first.kept)).toEqual([1, 1, 0]);
    const path = join(dir, 'minhash.idx');
    await saveMinHashIndex(path, minHashIndexOf(first, ['doc-1', 'doc-2', 'doc-3']));

    const index = await loadMinHashIndex([path]);
    expect(index.ids).toEqual(['doc-1', 'doc-2']);
    expect(index.params).toEqual(first.params);
    const nearCopy = document(2);
    nearCopy[79] = 'changed';
    const second = minHashDedup([document(3).join(' '), nearCopy.join(' ')], { seed: 11, index });
    expect(Array.from(second.duplicateOf)).toEqual([-1, -2]);
    expect(second.indexedDuplicateOf).toEqual(['', 'doc-2']);

    // The second dataset's own index, saved and loaded with the first, covers both datasets.
    await saveMinHashIndex(join(dir, 'second.idx'), minHashIndexOf(second, ['new-0', 'new-1']));
    const both = await loadMinHashIndex([path, join(dir, 'second.idx')]);
    expect(both.ids).toEqual(['doc-1', 'doc-2', 'new-0']);
    const third = minHashDedup([document(3).join(' '), document(1).join(' ')], { seed: 11, index: both });
    expect(third.indexedDuplicateOf).toEqual(['new-0', 'doc-1']);
  });

  it('refuse to merge files built with different parameters', async () => {
    await saveMinHashIndex(join(dir, '1.idx'), minHashIndexOf(minHashDedup(['a b c d e f'], { seed: 1 }), ['x']));
    await saveMinHashIndex(join(dir, '2.idx'), minHashIndexOf(minHashDedup(['a b c d e f'], { seed: 2 }), ['y']));
    await expect(loadMinHashIndex([join(dir, '1.idx'), join(dir, '2.idx')])).rejects.toThrow(
      /2\.idx was built with another seed than .*1\.idx/,
    );
  });

  it('refuse an index built with another seed when deduplicating', async () => {
    const path = join(dir, 'seed.idx');
    await saveMinHashIndex(path, minHashIndexOf(minHashDedup(['a b c d e f'], { seed: 1 }), ['x']));
    const index = await loadMinHashIndex([path]);
    expect(() => minHashDedup(['a b c d e f'], { seed: 2, index })).toThrow(/^index was built with seed 1/);
  });
});

describe('index file errors', () => {
  it('name a missing file as not_found and a foreign, truncated or wrong-kind file as invalid_argument', async () => {
    await expect(loadExactIndex([join(dir, 'missing.idx')])).rejects.toMatchObject({ kind: 'not_found' });
    await writeFile(join(dir, 'foreign.idx'), 'not an index at all');
    await expect(loadExactIndex([join(dir, 'foreign.idx')])).rejects.toThrow(/foreign\.idx is not a Sift dedup index/);

    const good = join(dir, 'good.idx');
    await saveExactIndex(good, exactIndexOf(exactDedup(['a', 'b']), ['x', 'y']));
    const bytes = await readFile(good);
    await writeFile(join(dir, 'cut.idx'), bytes.subarray(0, bytes.length - 3));
    await expect(loadExactIndex([join(dir, 'cut.idx')])).rejects.toThrow(/cut\.idx is truncated/);
    await expect(loadMinHashIndex([good])).rejects.toThrow(/is of kind 'exact', expected 'minhash'/);
    await expect(loadExactIndex([])).rejects.toMatchObject({ kind: 'invalid_argument' });
  });
});

describe('what an index may replace', () => {
  it('recognises index files Sift wrote, of either kind, and nothing else', async () => {
    await saveExactIndex(join(dir, 'exact.idx'), exactIndexOf(exactDedup(['a']), ['x']));
    await saveMinHashIndex(join(dir, 'minhash.idx'), minHashIndexOf(minHashDedup(['a b c d e f']), ['x']));
    await writeFile(join(dir, 'job.json'), '{"status": {}}');
    await writeFile(join(dir, 'short'), 'SIFT');
    await mkdir(join(dir, 'folder'));
    expect(await isDedupIndexFile(join(dir, 'exact.idx'))).toBe(true);
    expect(await isDedupIndexFile(join(dir, 'minhash.idx'))).toBe(true);
    for (const other of ['job.json', 'short', 'folder', 'missing']) {
      expect(await isDedupIndexFile(join(dir, other)), other).toBe(false);
    }
  });

  it('replace an earlier index, but leave any other file that appeared at the path as it was', async () => {
    const path = join(dir, 'exact.idx');
    await saveExactIndex(path, exactIndexOf(exactDedup(['a']), ['x']));
    await saveExactIndex(path, exactIndexOf(exactDedup(['b']), ['y']));
    expect([...(await loadExactIndex([path])).records.values()]).toEqual(['y']);
    const record = join(dir, 'job.json');
    await writeFile(record, '{"status": {}}');
    await expect(saveExactIndex(record, exactIndexOf(exactDedup(['a']), ['x']))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `${record} exists and is not a Sift dedup index; the index was not saved, so as not to replace it`,
    });
    expect(await readFile(record, 'utf8')).toBe('{"status": {}}');
    expect((await readdir(dir)).sort()).toEqual(['exact.idx', 'job.json']);
  });
});
