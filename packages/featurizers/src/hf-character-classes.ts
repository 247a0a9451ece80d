/**
 * The character classes the `tokenizer.json` components test, as the Rust `tokenizers` implementation
 * defines them (Unicode White_Space, general categories C/P/Mn/M, Rust regex's Unicode `\w`, BERT's
 * punctuation and CJK ranges), so ids match the reference library, not a JS approximation.
 */

const WHITE_SPACE = /^\p{White_Space}$/u;
// Cc, Cf, Cs, Co: what Rust's `is_other` drops. Not Cn: `tokenizers` keeps an unassigned code point (it
// becomes [UNK]), checked against the `tokenizers` npm package over every code point. Characters whose
// category changed between Unicode versions (a few hundred marks and punctuation) still follow Node's ICU
// tables, not the Rust crate's.
const OTHER = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}]$/u;
const PUNCTUATION = /^\p{P}$/u;
/** Nonspacing marks (Mn): the accents BertNormalizer strips. */
export const NONSPACING_MARK = /\p{Mn}/gu;
/** Every combining mark (M*): what StripAccents strips. */
export const MARK = /\p{M}/gu;
/** A numeric character (Nd, Nl, No): where the Digits pre-tokenizer splits. */
export const NUMERIC = /^[\p{Nd}\p{Nl}\p{No}]$/u;
/** Rust regex's Unicode `\w` (UTS #18 Annex C), which JS `\w` is not even under the `u` flag. */
const WORD_CLASS = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
/** The Whitespace pre-tokenizer's words: runs of `\w`, or of what is neither `\w` nor whitespace. */
export const WHITESPACE_WORDS = new RegExp(`[${WORD_CLASS}]+|[^${WORD_CLASS}\\p{White_Space}]+`, 'gu');
/** Text that starts with a `\w` character (a single_word added token must not be followed by one). */
export const STARTS_WITH_WORD = new RegExp(`^[${WORD_CLASS}]`, 'u');
/** Text that ends with a `\w` character (a single_word added token must not follow one). */
export const ENDS_WITH_WORD = new RegExp(`[${WORD_CLASS}]$`, 'u');

/** Unicode White_Space (tab, newline and carriage return included). */
export const isWhitespace = (ch: string): boolean => WHITE_SPACE.test(ch);

/** A control character BertNormalizer drops: Cc, Cf, Cs or Co other than tab, newline and carriage return. */
export function isControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && OTHER.test(ch);
}

/** BERT's punctuation: every ASCII punctuation or symbol character (`$`, `+`, `^`, ...) and Unicode P*. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return PUNCTUATION.test(ch);
}

/**
 * The CJK Unified Ideographs blocks BERT surrounds with spaces (so each ideograph is a word), as the Rust
 * `tokenizers` BertPreTokenizer lists them: its Extension E range starts at 0x2B920 where Google's BERT has
 * 0x2B820, and the tokenizer.json reference implementation is the one followed here.
 */
export function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Lowercases code point by code point, as Rust's `char::to_lowercase` (no final-sigma context rule). */
export function lowercaseChars(text: string): string {
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}
