import { describe, expect, it } from 'vitest';
import { formatFromExtension } from './dataset-files.js';

describe('formatFromExtension', () => {
  it('maps each known extension to its format, ignoring case', () => {
    expect(formatFromExtension('a/b.jsonl')).toBe('jsonl');
    expect(formatFromExtension('b.JSON')).toBe('jsonl');
    expect(formatFromExtension('b.jsonl.gz')).toBe('jsonl-gzip');
    expect(formatFromExtension('b.json.GZ')).toBe('jsonl-gzip');
    expect(formatFromExtension('b.parquet')).toBe('parquet');
  });

  it('knows nothing of other extensions', () => {
    expect(formatFromExtension('b.csv')).toBeUndefined();
    expect(formatFromExtension('b.gz')).toBeUndefined();
    expect(formatFromExtension('parquet')).toBeUndefined();
  });
});
