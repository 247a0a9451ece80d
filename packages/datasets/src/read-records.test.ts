import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordWriter, type InvalidRecord, readRecords } from './index.js';
import { jsonl, readAll, temporaryDirectory } from './test-files.js';

/** How many descriptors this process holds open on `path` (Linux: the links in /proc/self/fd). */
function descriptorsOpenOn(path: string): number {
  const target = realpathSync(path);
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === target;
    } catch {
      return false; // closed between the listing and the read
    }
  }).length;
}

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryDirectory());
});
afterEach(() => remove());

describe('readRecords on JSONL', () => {
  it('reads CRLF lines, skips blank lines and takes a last line without a newline', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, '{"text":"a"}\r\n\r\n   \n{"text":"b","n":1}\n\n{"text":"c"}');
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 'text' });
    expect(records).toEqual([
      { index: 0, id: '0', text: 'a', raw: { text: 'a' }, line: '{"text":"a"}' },
      { index: 1, id: '1', text: 'b', raw: { text: 'b', n: 1 }, line: '{"text":"b","n":1}' },
      { index: 2, id: '2', text: 'c', raw: { text: 'c' }, line: '{"text":"c"}' },
    ]);
  });

  it('takes ids from the id field, stringifying numbers, and lets duplicates through', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(
      path,
      jsonl([
        { id: 'x', t: 'a' },
        { id: 7, t: 'b' },
        { id: 'x', t: 'c' },
      ]),
    );
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 't', idField: 'id' });
    expect(records.map((r) => r.id)).toEqual(['x', '7', 'x']);
  });

  it('keeps integer ids beyond 2^53 exact: two tweet ids that a double would merge stay two', async () => {
    const path = join(dir, 'tweets.jsonl');
    await writeFile(
      path,
      [
        '{"id": 1234567890123456789, "text": "first", "likes": 9007199254740991}',
        '{"id": 1234567890123456790, "text": "a \\"quoted\\" 12345678901234567890 in text", "n": -98765432109876543210}',
        '{"id": 1.5e300, "text": "not an integer"}',
      ].join('\n'),
    );
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 'text', idField: 'id' });
    expect(records.map((r) => r.id)).toEqual(['1234567890123456789', '1234567890123456790', '1.5e+300']);
    // The largest safe integer stays a number; digits inside a string stay text.
    expect(records[0]?.raw.likes).toBe(9007199254740991);
    expect(records[1]?.text).toBe('a "quoted" 12345678901234567890 in text');
    expect(records[1]?.raw.n).toBe('-98765432109876543210');
  });

  it('reaches nested text with a dotted field name', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, jsonl([{ doc: { body: 'nested' } }, { 'doc.body': 'literal' }]));
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 'doc.body' });
    expect(records.map((r) => r.text)).toEqual(['nested', 'literal']);
  });

  it('reads gzip-compressed JSONL', async () => {
    const path = join(dir, 'data.jsonl.gz');
    await writeFile(path, gzipSync(jsonl([{ text: 'zipped' }, { text: 'twice' }])));
    const records = await readAll({ paths: [path], format: 'jsonl-gzip', textField: 'text' });
    expect(records.map((r) => r.text)).toEqual(['zipped', 'twice']);
  });

  it('numbers records across files in the order given', async () => {
    const first = join(dir, 'b.jsonl');
    const second = join(dir, 'a.jsonl');
    await writeFile(first, jsonl([{ text: 'b0' }, { text: 'b1' }]));
    await writeFile(second, jsonl([{ text: 'a0' }]));
    const records = await readAll({ paths: [first, second], format: 'auto', textField: 'text' });
    expect(records.map((r) => [r.index, r.text])).toEqual([
      [0, 'b0'],
      [1, 'b1'],
      [2, 'a0'],
    ]);
  });

  it('stops after limit records, across files', async () => {
    const first = join(dir, 'a.jsonl');
    const second = join(dir, 'b.jsonl');
    await writeFile(first, jsonl([{ text: '0' }, { text: '1' }]));
    await writeFile(second, jsonl([{ text: '2' }, { text: '3' }]));
    const records = await readAll({ paths: [first, second], format: 'jsonl', textField: 'text', limit: 3 });
    expect(records.map((r) => r.text)).toEqual(['0', '1', '2']);
    const all = await readAll({ paths: [first, second], format: 'jsonl', textField: 'text', limit: 0 });
    expect(all).toHaveLength(4);
  });

  it('rejects a limit that is not a non-negative integer', async () => {
    const path = join(dir, 'a.jsonl');
    await writeFile(path, jsonl([{ text: '0' }]));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text', limit: -1 })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: 'limit must be a non-negative integer, got -1',
    });
  });

  it('streams a 50,000-record file record by record', async () => {
    const path = join(dir, 'big.jsonl');
    const writer = await createRecordWriter({ path, format: 'auto' });
    for (let i = 0; i < 50_000; i++) await writer.write({ id: `doc-${i}`, text: `record number ${i} `.repeat(8) });
    await writer.close();
    let count = 0;
    let last = '';
    for await (const record of readRecords({ paths: [path], format: 'auto', textField: 'text', idField: 'id' })) {
      count += 1;
      last = record.id;
    }
    expect(count).toBe(50_000);
    expect(last).toBe('doc-49999');
  });

  it('closes the file when the reader stops early', async () => {
    const path = join(dir, 'data.jsonl');
    // 2.5 MB: more than one read chunk (1 MiB), so the file is not at its end, and closed, after two records.
    await writeFile(path, jsonl(Array.from({ length: 20_000 }, (_, i) => ({ text: String(i), pad: 'x'.repeat(100) }))));
    const seen: string[] = [];
    for await (const record of readRecords({ paths: [path], format: 'jsonl', textField: 'text' })) {
      seen.push(record.text);
      if (seen.length === 2) {
        expect(descriptorsOpenOn(path)).toBe(1);
        break;
      }
    }
    expect(seen).toEqual(['0', '1']);
    expect(descriptorsOpenOn(path)).toBe(0);
  });
});

describe('readRecords errors name the file and 1-based line', () => {
  it('reports a line that is not valid JSON', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, '{"text":"a"}\n\n{"text": oops}\n');
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringMatching(new RegExp(`^invalid JSON at ${escapeRegExp(path)}:3: `)),
      file: path,
      position: 3,
    });
  });

  it('reports a record without the text field', async () => {
    const path = join(dir, 'data.jsonl');
    const good = Array.from({ length: 16 }, (_, i) => ({ text: `t${i}` }));
    await writeFile(path, jsonl([...good, { body: 'no text here' }]));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `missing text field "text" (the record has fields body) at ${path}:17`,
    });
  });

  it('reports a text field that is not a string', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, jsonl([{ text: 'fine' }, { text: 42 }]));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      message: `text field "text" is not a string (got number) at ${path}:2`,
    });
  });

  it('reports a missing id field when one is named', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, jsonl([{ id: 'a', text: 'x' }, { text: 'y' }]));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text', idField: 'id' })).rejects.toMatchObject({
      message: `missing id field "id" at ${path}:2`,
    });
  });

  it('reports bytes that are not UTF-8 at their line', async () => {
    const path = join(dir, 'data.jsonl');
    const bad = Buffer.concat([
      Buffer.from('{"text":"ok"}\n{"text":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}\n'),
    ]);
    await writeFile(path, bad);
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `invalid UTF-8 at ${path}:2, byte 10 of the line (0xc3); JSONL must be UTF-8: convert the file from its encoding, e.g. iconv -f WINDOWS-1252 -t UTF-8`,
      position: 2,
    });
  });

  it('points at the first byte that is not UTF-8: Latin-1, a lone continuation byte, a surrogate, a cut sequence', async () => {
    const cases: [number[], number, string][] = [
      [[0x63, 0x61, 0x66, 0xe9], 4, 'e9'], // "café" in Latin-1
      [[0xe2, 0x82, 0xac, 0x80], 4, '80'], // "€" then a stray continuation byte
      [[0x61, 0xed, 0xa0, 0x80], 2, 'ed'], // U+D800, a surrogate
      [[0xf0, 0x9f, 0x98], 1, 'f0'], // an emoji cut short
      [[0xc0, 0xaf], 1, 'c0'], // overlong "/"
    ];
    for (const [bytes, column, hex] of cases) {
      const path = join(dir, `bad-${hex}.jsonl`);
      await writeFile(path, Buffer.concat([Buffer.from(bytes), Buffer.from('\n')]));
      await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
        message: expect.stringContaining(`invalid UTF-8 at ${path}:1, byte ${column} of the line (0x${hex})`),
      });
    }
  });

  it('says when a file is UTF-16, as Windows tools write it', async () => {
    const path = join(dir, 'utf16.jsonl');
    await writeFile(path, Buffer.from('\ufeff{"text":"hello"}\n', 'utf16le'));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      message: `invalid UTF-8 at ${path}:1 (the file is UTF-16: it starts with a UTF-16 byte-order mark); convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8`,
    });
  });

  it('reads a UTF-8 file that starts with a byte-order mark', async () => {
    const path = join(dir, 'bom.jsonl');
    await writeFile(path, `\ufeff${jsonl([{ text: 'a' }, { text: 'b' }])}`);
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 'text' });
    expect(records.map((r) => r.text)).toEqual(['a', 'b']);
  });

  it('says when a .json file is one JSON array rather than JSONL', async () => {
    const path = join(dir, 'records.json');
    await writeFile(path, JSON.stringify([{ text: 'a' }, { text: 'b' }]));
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      message: `line is not a JSON object at ${path}:1 (the file is one JSON array; JSONL has one object per line, e.g. jq -c ".[]" turns one into the other)`,
    });
  });

  it('says so when a file read as plain JSONL is gzip-compressed, suggesting the format field only where there is one', async () => {
    const path = join(dir, 'really-gzip.jsonl');
    await writeFile(path, gzipSync('{"text":"hello"}\n'));
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      message: expect.stringContaining('(the file is gzip-compressed: name it .jsonl.gz or set dataset.format)'),
    });
    // A caller whose requests have no format field (pruning's texts) is not told to set one.
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text', formatField: '' })).rejects.toMatchObject({
      message: `invalid UTF-8 at ${path}:1 (the file is gzip-compressed: name it .jsonl.gz)`,
    });
  });

  it('decodes a multi-byte character split across read chunks', async () => {
    const path = join(dir, 'data.jsonl');
    // 1 MiB read chunks: push a 3-byte character across the first chunk boundary.
    const padding = 'a'.repeat(1024 * 1024 - 10);
    await writeFile(path, `{"text":"${padding}€€€"}\n`);
    const [record] = await readAll({ paths: [path], format: 'jsonl', textField: 'text' });
    expect(record?.text.endsWith('€€€')).toBe(true);
  });

  it('reports a line that is JSON but not an object', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, '{"text":"a"}\n[1,2]\n');
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      message: `line is not a JSON object at ${path}:2`,
    });
  });

  it('refuses a line longer than maxLineBytes', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, `{"text":"a"}\n{"text":"${'x'.repeat(100)}"}\n`);
    await expect(
      readAll({ paths: [path], format: 'jsonl', textField: 'text', maxLineBytes: 50 }),
    ).rejects.toMatchObject({ message: `line longer than 50 bytes at ${path}:2; is the file JSONL?` });
  });

  it('reports broken gzip data', async () => {
    const path = join(dir, 'data.jsonl.gz');
    const zipped = gzipSync(jsonl(Array.from({ length: 1000 }, (_, i) => ({ text: `record ${i}` }))));
    await writeFile(path, zipped.subarray(0, zipped.length - 20));
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`invalid gzip data in ${path} after line`),
    });
  });

  it('reports a missing file as not_found', async () => {
    const path = join(dir, 'nope.jsonl');
    await expect(readAll({ paths: [path], format: 'jsonl', textField: 'text' })).rejects.toMatchObject({
      kind: 'not_found',
      message: `dataset file not found: ${path}`,
    });
  });

  it('hands invalid records to onInvalidRecord and goes on, counting them in the index', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, jsonl([{ text: 'a' }, { other: 1 }, { text: 'c' }]));
    const invalid: InvalidRecord[] = [];
    const records = await readAll({
      paths: [path],
      format: 'jsonl',
      textField: 'text',
      onInvalidRecord: (record) => invalid.push(record),
    });
    expect(records.map((r) => [r.index, r.text])).toEqual([
      [0, 'a'],
      [2, 'c'],
    ]);
    expect(invalid).toEqual([
      {
        index: 1,
        location: `${path}:2`,
        reason: 'missing text field "text" (the record has fields other)',
        raw: { other: 1 },
      },
    ]);
  });
});

describe('readRecords with directories and auto format', () => {
  it('reads the dataset files directly inside a directory in name order, each by its extension', async () => {
    const data = join(dir, 'corpus');
    await mkdir(join(data, 'nested'), { recursive: true });
    await writeFile(join(data, 'part-2.jsonl.gz'), gzipSync(jsonl([{ text: 'two' }])));
    await writeFile(join(data, 'part-1.json'), jsonl([{ text: 'one' }]));
    await writeFile(join(data, '_SUCCESS'), '');
    await writeFile(join(data, '.part-1.json.crc'), 'junk');
    await writeFile(join(data, 'README.md'), '# not data');
    await writeFile(join(data, 'nested', 'part-0.jsonl'), jsonl([{ text: 'ignored' }]));
    const writer = await createRecordWriter({ path: join(data, 'part-3.parquet'), format: 'auto' });
    await writer.write({ text: 'three' });
    await writer.close();
    const records = await readAll({ paths: [data], format: 'auto', textField: 'text' });
    expect(records.map((r) => r.text)).toEqual(['one', 'two', 'three']);
  });

  it('fails with not_found for a directory without dataset files', async () => {
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await expect(readAll({ paths: [dir], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      kind: 'not_found',
      message: `no dataset files (.jsonl.gz, .json.gz, .jsonl, .json, .parquet) directly inside directory ${dir}`,
    });
  });

  it('fails for a file whose extension does not say its format', async () => {
    const path = join(dir, 'data.txt');
    await writeFile(path, jsonl([{ text: 'a' }]));
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `cannot infer the format of ${path} from its extension; name it .jsonl.gz, .json.gz, .jsonl, .json, .parquet or set the format`,
    });
    const records = await readAll({ paths: [path], format: 'jsonl', textField: 'text' });
    expect(records).toHaveLength(1);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
