/**
 * GPT-2's byte-level alphabet and word split, as the `tokenizers` ByteLevel pre-tokenizer applies them
 * (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", §2.2; OpenAI's `encoder.py`).
 *
 * Text is cut into words by GPT-2's pattern, and each word's UTF-8 bytes are written one character per byte:
 * the 188 printable bytes stand for themselves and the other 68 for U+0100 onwards, so a byte-level BPE
 * vocabulary is a set of strings over 256 characters and no text is ever out of vocabulary.
 */

/** `bytes_to_unicode()`: the character that stands for each byte. */
export const BYTE_CHARS: readonly string[] = byteChars();
const BYTE_OF_CHAR = new Map(BYTE_CHARS.map((ch, byte) => [ch, byte]));

function byteChars(): string[] {
  const chars: string[] = [];
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    // '!'..'~', '¡'..'¬', '®'..'ÿ' are printable; the rest (controls, space, DEL, NBSP, soft hyphen) are
    // moved to 256 + n in byte order.
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    chars.push(String.fromCodePoint(printable ? byte : 256 + shifted++));
  }
  return chars;
}

/**
 * The text's UTF-8 bytes as byte-level characters ("é" -> "Ã©", " " -> "Ġ"). A lone surrogate, which no
 * Rust string can hold, is encoded as U+FFFD like `TextEncoder` does.
 */
export function toByteLevel(text: string): string {
  const b = BYTE_CHARS;
  let out = '';
  // Encoded by hand: a TextEncoder buffer per word cost more than the GPT-2 split itself.
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp < 0x80) {
      out += b[cp]!;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x800) out += b[0xc0 | (cp >> 6)]! + b[0x80 | (cp & 63)]!;
    else if (cp < 0x10000) out += b[0xe0 | (cp >> 12)]! + b[0x80 | ((cp >> 6) & 63)]! + b[0x80 | (cp & 63)]!;
    else {
      out += b[0xf0 | (cp >> 18)]! + b[0x80 | ((cp >> 12) & 63)]! + b[0x80 | ((cp >> 6) & 63)]! + b[0x80 | (cp & 63)]!;
    }
  }
  return out;
}

const utf8 = new TextEncoder();

/**
 * Bytes a vocabulary token stands for: one per byte-level character; a character outside the alphabet (in a
 * token the byte-level pre-tokenizer cannot produce, e.g. a special token's) counts as its own UTF-8 bytes.
 */
export function byteLevelLength(token: string): number {
  let bytes = 0;
  for (const ch of token) bytes += BYTE_OF_CHAR.has(ch) ? 1 : utf8.encode(ch).length;
  return bytes;
}

// `tokenizers` compiles GPT-2's pattern with Oniguruma, whose `\s` in UTF-8 is Unicode White_Space. JS `\s`
// is not: it lacks U+0085 (NEL) and adds U+FEFF (BOM), so the class is spelled out. Compared with the
// library (npm `tokenizers` 0.23.2) over every code point, the split differs only at ~4,650 characters that
// Node 20's Unicode 17 tables call letters or digits and the library's older tables leave unassigned (the
// newest scripts); like the other classes here, those follow Node's tables.
const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/**
 * GPT-2's words: contractions, letters, digits or other symbols each with at most one leading space, and
 * runs of whitespace (a run before a word leaves its last space to that word: "a   b" -> "a", "  ", " b").
 * Matches and any text between them are kept in order, as `tokenizers` splits with `Isolated`.
 */
export function splitGpt2(text: string): string[] {
  const words: string[] = [];
  let done = 0;
  for (const match of text.matchAll(GPT2_SPLIT)) {
    if (match.index > done) words.push(text.slice(done, match.index));
    words.push(match[0]);
    done = match.index + match[0].length;
  }
  if (done < text.length) words.push(text.slice(done));
  return words;
}

/** Options of the ByteLevel pre-tokenizer that change ids (`trim_offsets` only moves offsets). */
export interface ByteLevelOptions {
  /** Prepend a space to text that does not start with one, so its first word looks like any other. */
  readonly addPrefixSpace: boolean;
  /** Split with GPT-2's pattern; false when an earlier pre-tokenizer of a Sequence already split. */
  readonly useRegex: boolean;
}

/** The ByteLevel pre-tokenizer: split (optionally), then write every word in the byte-level alphabet. */
export function byteLevelWords(text: string, options: ByteLevelOptions): string[] {
  if (text === '') return [];
  // `tokenizers` tests for the space character itself: a text starting with a tab still gets one.
  const prefixed = options.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
  const words = options.useRegex ? splitGpt2(prefixed) : [prefixed];
  return words.map(toByteLevel);
}
