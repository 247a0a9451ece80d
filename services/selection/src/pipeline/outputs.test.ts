import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectionV1 } from '@sift/contracts';
import { readRecords } from '@sift/datasets';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset, writeOutputs } from './outputs.js';
import { drop, initialState, loadSnapshot, saveSnapshot } from './state.js';

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

describe('invalid records skipped at load', () => {
  // Lines 2, 3 and 5 are invalid: a null text, no text, a numeric text in a record without an id.
  const lines = [
    '{"id": "a", "text": "alpha"}',
    '{"id": "b", "text": null}',
    '{"id": "c"}',
    '{"id":"d",  "text": "alpha"}',
    '{"text": 7}',
    '{"id": "f", "text": "foxtrot", "n": 1.50}',
  ];
  const path = join(dir, 'invalid.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  const skipping = (d: Partial<selectionV1.Dataset> = {}) =>
    selectionV1.Dataset.fromPartial({
      paths: [path],
      textField: 'text',
      idField: 'id',
      invalidRecords: selectionV1.InvalidRecords.INVALID_RECORDS_SKIP,
      maxInvalidFraction: 0.5,
      ...d,
    });
  const readLines = (p: string) => readFileSync(p, 'utf8').trim().split('\n');

  it('fails on the first by default, naming file and line', async () => {
    await expect(
      loadDataset(selectionV1.Dataset.fromPartial({ paths: [path], textField: 'text', idField: 'id' }), () => {}, 1e6),
    ).rejects.toMatchObject({ message: `text field "text" is null at ${path}:2` });
  });

  it('keeps their positions, ids (or position) and details when skipping', async () => {
    const loaded = await loadDataset(skipping(), () => {}, 1e6);
    expect(loaded.ids).toEqual(['a', 'b', 'c', 'd', '#4', 'f']);
    expect(loaded.texts).toEqual(['alpha', '', '', 'alpha', '', 'foxtrot']);
    expect([...loaded.invalid]).toEqual([
      [1, `text field "text" is null at ${path}:2`],
      [2, `missing text field "text" (the record has fields id) at ${path}:3`],
      [4, `text field "text" is not a string (got number) at ${path}:5`],
    ]);
  });

  it('fails when their share passes the cap, with the count and where', async () => {
    await expect(loadDataset(skipping({ maxInvalidFraction: 0 }), () => {}, 1e6)).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringMatching(
        /^3 of 6 records \(50\.0%\) are invalid, more than dataset\.max_invalid_fraction \(0\.01\) allows;.* The first: text field "text" is null at .*invalid\.jsonl:2; missing text field/,
      ),
    });
  });

  it('copies the kept records line for line past them after a resume, and decides each in dataset order', async () => {
    const dataset = skipping();
    const loaded = await loadDataset(dataset, () => {}, 1e6);
    const state = initialState(loaded.ids, loaded.texts, loaded.invalid);
    drop(state, 3, { stage: 'exact', reason: 'exact-duplicate', duplicateOf: 0 });
    state.stageFacts.push({ summary: { stage: 'exact' } });
    // A restarted worker loads the dataset again and restores the saved stage onto it.
    await saveSnapshot(join(dir, 'job'), 0, state, false);
    const again = await loadDataset(dataset, () => {}, 1e6);
    const resumed = await loadSnapshot(join(dir, 'job'), 0, again.ids, again.texts);
    const out = join(dir, 'out');
    const report = await writeOutputs(
      'job-invalid',
      dataset,
      selectionV1.OutputSpec.fromPartial({ path: out, writeDropped: true }),
      [],
      resumed,
      [],
      () => {},
    );
    expect(readLines(join(out, 'kept.jsonl'))).toEqual([lines[0], lines[5]]);
    const decisions = readLines(join(out, 'decisions.jsonl')).map((l) => JSON.parse(l));
    expect(decisions.map((d) => [d.recordId, d.kept, d.stage, d.reason, d.detail ?? ''])).toEqual([
      ['a', true, 'exact', 'DECISION_REASON_KEPT', ''],
      ['b', false, 'load', 'DECISION_REASON_INVALID_RECORD', `text field "text" is null at ${path}:2`],
      [
        'c',
        false,
        'load',
        'DECISION_REASON_INVALID_RECORD',
        `missing text field "text" (the record has fields id) at ${path}:3`,
      ],
      ['d', false, 'exact', 'DECISION_REASON_EXACT_DUPLICATE', ''],
      [
        '#4',
        false,
        'load',
        'DECISION_REASON_INVALID_RECORD',
        `text field "text" is not a string (got number) at ${path}:5`,
      ],
      ['f', true, 'exact', 'DECISION_REASON_KEPT', ''],
    ]);
    // Dropped records as read, the invalid ones included, each with its decision.
    const dropped = readLines(join(out, 'dropped.jsonl')).map((l) => JSON.parse(l));
    expect(dropped.map((r) => [r.id, r.text, r._sift.reason])).toEqual([
      ['b', null, 'DECISION_REASON_INVALID_RECORD'],
      ['c', undefined, 'DECISION_REASON_INVALID_RECORD'],
      ['d', 'alpha', 'DECISION_REASON_EXACT_DUPLICATE'],
      [undefined, 7, 'DECISION_REASON_INVALID_RECORD'],
    ]);
    expect(report).toMatchObject({ recordsTotal: 6, recordsKept: 2, recordsInvalid: 3 });
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(json.invalidRecords).toEqual({
      count: 3,
      first: [
        { id: 'b', detail: `text field "text" is null at ${path}:2` },
        { id: 'c', detail: `missing text field "text" (the record has fields id) at ${path}:3` },
        { id: '#4', detail: `text field "text" is not a string (got number) at ${path}:5` },
      ],
    });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain(
      `- \`#4\`: text field "text" is not a string (got number) at ${path}:5`,
    );
  });

  it('writes a Parquet output whole: the dropped invalid records, whose text no column type fits, to invalid.jsonl', async () => {
    const dataset = skipping();
    const loaded = await loadDataset(dataset, () => {}, 1e6);
    const state = initialState(loaded.ids, loaded.texts, loaded.invalid);
    drop(state, 3, { stage: 'exact', reason: 'exact-duplicate', duplicateOf: 0 });
    const out = join(dir, 'out-parquet');
    const report = await writeOutputs(
      'job-invalid-parquet',
      dataset,
      selectionV1.OutputSpec.fromPartial({
        path: out,
        writeDropped: true,
        format: selectionV1.DatasetFormat.DATASET_FORMAT_PARQUET,
      }),
      [],
      state,
      [],
      () => {},
    );
    const read = async (p: string) => {
      const rows: Record<string, unknown>[] = [];
      for await (const r of readRecords({ paths: [p], format: 'auto', textField: 'text', formatField: '' })) {
        rows.push(r.raw);
      }
      return rows;
    };
    expect((await read(join(out, 'kept.parquet'))).map((r) => r.id)).toEqual(['a', 'f']);
    const dropped = await read(join(out, 'dropped.parquet'));
    expect(dropped.map((r) => [r.id, r.text])).toEqual([['d', 'alpha']]);
    // Every record lands somewhere: the invalid ones as read (null, missing, a number), with their decision.
    const invalid = readLines(join(out, 'invalid.jsonl')).map((l) => JSON.parse(l));
    expect(invalid.map((r) => [r.id, r.text, r._sift.reason, r._sift.detail])).toEqual([
      ['b', null, 'DECISION_REASON_INVALID_RECORD', `text field "text" is null at ${path}:2`],
      [
        'c',
        undefined,
        'DECISION_REASON_INVALID_RECORD',
        `missing text field "text" (the record has fields id) at ${path}:3`,
      ],
      [undefined, 7, 'DECISION_REASON_INVALID_RECORD', `text field "text" is not a string (got number) at ${path}:5`],
    ]);
    expect(report.recordsInvalid).toBe(3);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).outputs.invalid).toBe(join(out, 'invalid.jsonl'));
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain(
      `- dropped invalid records, as read: ${join(out, 'invalid.jsonl')}`,
    );
  });

  it('refuses to write when a record invalid at load is valid now: the dataset changed under the job', async () => {
    const changing = join(dir, 'changing.jsonl');
    writeFileSync(changing, `${lines.slice(0, 2).join('\n')}\n{"id": "x", "text": "x"}\n`);
    const dataset = skipping({ paths: [changing] });
    const loaded = await loadDataset(dataset, () => {}, 1e6);
    writeFileSync(changing, `${lines[0]}\n{"id": "b", "text": "now valid"}\n{"id": "x", "text": "x"}\n`);
    const state = initialState(loaded.ids, loaded.texts, loaded.invalid);
    await expect(
      writeOutputs(
        'job-changed',
        dataset,
        selectionV1.OutputSpec.fromPartial({ path: join(dir, 'out-changed') }),
        [],
        state,
        [],
        () => {},
      ),
    ).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringMatching(/record 1 of dataset .* is valid now/),
    });
  });
});
