import { describe, expect, it } from 'vitest';
import { FNV1A32_OFFSET, fnv1a32, fnv1a32Byte, fnv1a32Continue } from './fnv1a.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    // "é" is U+00E9 = C3 A9 in UTF-8; "😀" is U+1F600 = F0 9F 98 80.
    expect(fnv1a32('é')).toBe(fnv1a32Byte(fnv1a32Byte(FNV1A32_OFFSET, 0xc3), 0xa9));
    const bytes = [0xf0, 0x9f, 0x98, 0x80];
    expect(fnv1a32('😀')).toBe(bytes.reduce((h, b) => fnv1a32Byte(h, b), FNV1A32_OFFSET));
  });

  it('continues a running hash as if the strings were concatenated', () => {
    expect(fnv1a32Continue(fnv1a32('foo'), 'bar')).toBe(fnv1a32('foobar'));
  });
});
