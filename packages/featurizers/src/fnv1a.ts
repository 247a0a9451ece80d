/**
 * FNV-1a, 32-bit (Fowler, Noll and Vo; offset basis 2166136261, prime 16777619), over the UTF-8 bytes of a
 * string. Hashed features must be reproducible outside this codebase (a Python re-implementation of a
 * featurizer has to land every feature in the same bucket), so the hash is a published one over a
 * published byte encoding, never JavaScript's UTF-16 code units.
 */

/** Hash state before any byte has been fed. */
export const FNV1A32_OFFSET = 0x811c9dc5;
const FNV1A32_PRIME = 0x01000193;

/** Feeds one byte (0..255) into a running FNV-1a state; returns the new state as an unsigned 32-bit integer. */
export function fnv1a32Byte(state: number, byte: number): number {
  return Math.imul(state ^ byte, FNV1A32_PRIME) >>> 0;
}

/**
 * Feeds the UTF-8 encoding of one code point. Lone surrogates are encoded as three bytes (as WTF-8 does),
 * so every JavaScript string hashes without throwing.
 */
export function fnv1a32CodePoint(state: number, codePoint: number): number {
  let h = state;
  if (codePoint < 0x80) return fnv1a32Byte(h, codePoint);
  if (codePoint < 0x800) {
    h = fnv1a32Byte(h, 0xc0 | (codePoint >> 6));
    return fnv1a32Byte(h, 0x80 | (codePoint & 0x3f));
  }
  if (codePoint < 0x10000) {
    h = fnv1a32Byte(h, 0xe0 | (codePoint >> 12));
    h = fnv1a32Byte(h, 0x80 | ((codePoint >> 6) & 0x3f));
    return fnv1a32Byte(h, 0x80 | (codePoint & 0x3f));
  }
  h = fnv1a32Byte(h, 0xf0 | (codePoint >> 18));
  h = fnv1a32Byte(h, 0x80 | ((codePoint >> 12) & 0x3f));
  h = fnv1a32Byte(h, 0x80 | ((codePoint >> 6) & 0x3f));
  return fnv1a32Byte(h, 0x80 | (codePoint & 0x3f));
}

/** Continues a running state with the UTF-8 bytes of `text` (so `fnv1a32(a + b)` = `fnv1a32Continue(fnv1a32(a), b)`). */
export function fnv1a32Continue(state: number, text: string): number {
  let h = state;
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    h = fnv1a32CodePoint(h, cp);
  }
  return h;
}

/** FNV-1a 32-bit hash of the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  return fnv1a32Continue(FNV1A32_OFFSET, text);
}
