import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectionV1 } from '@sift/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from './outputs.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadDataset', () => {
  it('fails, naming the setting, when the texts pass the job’s character budget', async () => {
    const path = join(dir, 'c.jsonl');
    writeFileSync(path, ['{"text": "0123456789"}', '{"text": "abcdefghij"}', '{"text": "klmnopqrst"}'].join('\n'));
    const dataset = selectionV1.Dataset.fromPartial({ paths: [path], textField: 'text' });
    await expect(loadDataset(dataset, () => {}, 30)).resolves.toMatchObject({ ids: ['0', '1', '2'] });
    await expect(loadDataset(dataset, () => {}, 25)).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringMatching(
        /holds more than 25 characters of text \(passed at record 2\).*SIFT_SELECTION_MAX_DATASET_CHARS/,
      ),
    });
  });
});
