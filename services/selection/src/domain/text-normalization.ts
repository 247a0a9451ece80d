/**
 * Text normalisation before hashing or shingling (the proto's TextNormalization). Every option is off by
 * default so that `noTextNormalization` hashes the text exactly as stored.
 */
export interface TextNormalization {
  /**
   * Unicode NFKC: folds compatibility forms (full-width letters and digits, ligatures like "ﬁ", superscripts)
   * and composes accents, so text copied through different tools matches. Applied first, so the later
   * steps see the folded characters (a full-width "１" is a digit for `maskDigits`).
   */
  unicodeNfkc: boolean;
  /** Lower-case with the locale-independent Unicode mapping (`String.prototype.toLowerCase`). */
  lowercase: boolean;
  /**
   * Replace every run of Unicode whitespace with one space and trim both ends. Applied last, so the gaps
   * that `stripPunctuation` leaves ("a - b" → "a  b") collapse too.
   */
  collapseWhitespace: boolean;
  /**
   * Remove punctuation characters (Unicode general category P). They are deleted, not replaced by a
   * space: "end.Start" becomes "endStart", "don't" becomes "dont".
   */
  stripPunctuation: boolean;
  /** Replace every decimal digit (category Nd, any script) with "0", so records differing only in numbers match. */
  maskDigits: boolean;
}

/** Every option off: the text as stored. */
export const noTextNormalization: Readonly<TextNormalization> = Object.freeze({
  unicodeNfkc: false,
  lowercase: false,
  collapseWhitespace: false,
  stripPunctuation: false,
  maskDigits: false,
});

const textNormalizationKeys = [
  'unicodeNfkc',
  'lowercase',
  'collapseWhitespace',
  'stripPunctuation',
  'maskDigits',
] as const;

const punctuation = /\p{P}/gu;
const decimalDigit = /\p{Nd}/gu;
const whitespaceRun = /\s+/g;

/**
 * `text` normalised as `opts` asks, in a fixed order: NFKC, lower-case, strip punctuation, mask digits,
 * collapse whitespace (see each option for why it sits where it does). With every option off the text is
 * returned unchanged.
 */
export function normalizeText(text: string, opts: TextNormalization): string {
  let out = text;
  if (opts.unicodeNfkc) out = out.normalize('NFKC');
  if (opts.lowercase) out = out.toLowerCase();
  if (opts.stripPunctuation) out = out.replace(punctuation, '');
  if (opts.maskDigits) out = out.replace(decimalDigit, '0');
  if (opts.collapseWhitespace) out = out.replace(whitespaceRun, ' ').trim();
  return out;
}

/** True when both normalisations set the same options (an index built with one can serve the other). */
export function sameTextNormalization(a: TextNormalization, b: TextNormalization): boolean {
  return textNormalizationKeys.every((key) => a[key] === b[key]);
}

/** The five options as plain booleans (missing ones false), e.g. to store in an index header. */
export function textNormalizationOf(value: Partial<TextNormalization> | undefined): TextNormalization {
  const v = value ?? {};
  return {
    unicodeNfkc: v.unicodeNfkc === true,
    lowercase: v.lowercase === true,
    collapseWhitespace: v.collapseWhitespace === true,
    stripPunctuation: v.stripPunctuation === true,
    maskDigits: v.maskDigits === true,
  };
}

/** The options that are on, for messages: "lowercase, collapseWhitespace" or "none". */
export function describeTextNormalization(opts: TextNormalization): string {
  const on = textNormalizationKeys.filter((key) => opts[key]);
  return on.length === 0 ? 'none' : on.join(', ');
}
