/**
 * The `Precompiled` normalizer of a `tokenizer.json`: SentencePiece's normalization rules (`nmt_nfkc` and
 * friends: NFKC plus whitespace and control-character folding) as the trained model ships them, a
 * darts-clone double-array trie from UTF-8 input to the offset of its replacement in a blob of
 * NUL-terminated strings. Files converted from SentencePiece models (T5, XLM-R, the multilingual sentence
 * encoders) start their normalizer with it.
 *
 * Layout of `precompiled_charsmap` (base64 in the file): a little-endian u32 trie size in bytes, the trie's
 * u32 units, then the replacement strings. As in the Rust `tokenizers` (crate `spm_precompiled`), the text
 * is walked by extended grapheme cluster: a cluster shorter than 6 bytes is looked up whole, and the first
 * (shortest) key that prefixes it replaces the whole cluster; otherwise, or when nothing matches, each
 * character is looked up on its own and kept when nothing matches.
 */
import type { Normalizer } from './hf-normalizers.js';
import { HfTokenizerError } from './hf-tokenizer-json.js';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
/** A cluster this long in UTF-8 or longer is normalized character by character. */
const WHOLE_CLUSTER_BYTES = 6;

/** A darts-clone double array: `commonPrefixSearch`'s first result only. */
class DoubleArray {
  constructor(private readonly units: Uint32Array) {}

  /** The value of the shortest key that prefixes `key` (stopping at a NUL byte), or -1. */
  firstPrefixValue(key: Uint8Array): number {
    const units = this.units;
    let pos = offset(units[0]!);
    for (const byte of key) {
      if (byte === 0) break;
      pos ^= byte;
      const unit = units[pos];
      // A position past the array is no key; the reference implementation would index out of bounds.
      if (unit === undefined || label(unit) !== byte) return -1;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) {
        const leaf = units[pos];
        return leaf === undefined ? -1 : leaf & 0x7fffffff;
      }
    }
    return -1;
  }
}

function offset(unit: number): number {
  return (unit >>> 10) * ((unit & (1 << 9)) !== 0 ? 256 : 1);
}

function label(unit: number): number {
  return (unit & 0x800000ff) >>> 0;
}

/** The normalizer a base64 `precompiled_charsmap` describes. @throws HfTokenizerError for a malformed map */
export function precompiledNormalizer(charsmapBase64: string): Normalizer {
  const bytes = Buffer.from(charsmapBase64, 'base64');
  const invalid = (why: string) =>
    new HfTokenizerError('invalid', `normalizer Precompiled.precompiled_charsmap: ${why}`);
  if (bytes.length < 4) throw invalid(`${bytes.length} bytes, too short for its header`);
  const trieBytes = bytes.readUInt32LE(0);
  if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > bytes.length) {
    throw invalid(`trie size ${trieBytes} does not fit the map's ${bytes.length} bytes`);
  }
  const units = new Uint32Array(trieBytes / 4);
  for (let i = 0; i < units.length; i++) units[i] = bytes.readUInt32LE(4 + 4 * i);
  const trie = new DoubleArray(units);
  const replacements = bytes.subarray(4 + trieBytes);
  try {
    utf8Strict.decode(replacements); // as the library does on loading: the strings must be UTF-8
  } catch {
    throw invalid('its replacement strings are not UTF-8');
  }

  /** The replacement of the shortest key prefixing `text`, or undefined. */
  const transform = (text: string): string | undefined => {
    const at = trie.firstPrefixValue(utf8.encode(text));
    if (at < 0 || at > replacements.length) return undefined;
    const end = replacements.indexOf(0, at);
    return utf8Strict.decode(replacements.subarray(at, end < 0 ? replacements.length : end));
  };
  // ASCII characters are graphemes of their own (but for CR LF) and are looked up once, up front.
  const ascii = Array.from({ length: 128 }, (_, code) => transform(String.fromCharCode(code)));
  const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const clusters = new Map<string, string>();
  const cluster = (grapheme: string): string => {
    let out = clusters.get(grapheme);
    if (out !== undefined) return out;
    const whole = utf8.encode(grapheme).length < WHOLE_CLUSTER_BYTES ? transform(grapheme) : undefined;
    out = whole ?? Array.from(grapheme, (ch) => transform(ch) ?? ch).join('');
    if (clusters.size < 65536) clusters.set(grapheme, out);
    return out;
  };

  return (text) => {
    let out = '';
    let simple = true;
    for (let i = 0; i < text.length && simple; i++) simple = text.charCodeAt(i) < 0x80 && text[i] !== '\r';
    if (simple) {
      for (let i = 0; i < text.length; i++) out += ascii[text.charCodeAt(i)] ?? text[i];
      return out;
    }
    for (const { segment } of segmenter.segment(text)) out += cluster(segment);
    return out;
  };
}
