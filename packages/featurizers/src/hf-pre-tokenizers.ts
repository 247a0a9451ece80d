/**
 * The `pre_tokenizer` of a `tokenizer.json`, which cuts normalized text into the words the model splits
 * into pieces: BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, ByteLevel (GPT-2's split
 * and byte alphabet, in `hf-byte-level.ts`) and Sequence, treating delimiters as `tokenizers`'
 * SplitDelimiterBehavior says.
 */
import { byteLevelWords } from './hf-byte-level.js';
import { isBertPunctuation, isWhitespace, NUMERIC, WHITESPACE_WORDS } from './hf-character-classes.js';
import { asArray, asObject, describeType, HfTokenizerError, type Json } from './hf-tokenizer-json.js';

/** Normalized text in, words out. */
export type PreTokenizer = (text: string) => string[];
type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/**
 * Splits at every character `isDelimiter` accepts, treating the delimiters as `tokenizers`'
 * SplitDelimiterBehavior says (each delimiter character is its own match).
 */
function splitAt(text: string, isDelimiter: (ch: string) => boolean, behavior: SplitBehavior): string[] {
  const runs: { text: string; delimiter: boolean }[] = [];
  let run = '';
  for (const ch of text) {
    if (!isDelimiter(ch)) {
      run += ch;
      continue;
    }
    if (run !== '') runs.push({ text: run, delimiter: false });
    run = '';
    runs.push({ text: ch, delimiter: true });
  }
  if (run !== '') runs.push({ text: run, delimiter: false });

  const out: string[] = [];
  switch (behavior) {
    case 'Removed':
      for (const r of runs) if (!r.delimiter) out.push(r.text);
      return out;
    case 'Isolated':
      return runs.map((r) => r.text);
    case 'Contiguous': {
      let previous = false;
      for (const r of runs) {
        if (r.delimiter && previous) out[out.length - 1] += r.text;
        else out.push(r.text);
        previous = r.delimiter;
      }
      return out;
    }
    case 'MergedWithPrevious': {
      let previous = false;
      for (const r of runs) {
        if (r.delimiter && !previous && out.length > 0) out[out.length - 1] += r.text;
        else out.push(r.text);
        previous = r.delimiter;
      }
      return out;
    }
    case 'MergedWithNext': {
      let next = false;
      for (let i = runs.length - 1; i >= 0; i--) {
        const r = runs[i]!;
        if (r.delimiter && !next && out.length > 0) out[out.length - 1] = r.text + out[out.length - 1];
        else out.push(r.text);
        next = r.delimiter;
      }
      return out.reverse();
    }
  }
}

function splitBehavior(value: unknown, where: string): SplitBehavior {
  const known: readonly string[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];
  if (value === undefined) return 'Isolated';
  if (typeof value !== 'string' || !known.includes(value)) {
    throw new HfTokenizerError('unsupported', `${where}: unsupported behavior ${JSON.stringify(value)}`);
  }
  return value as SplitBehavior;
}

/**
 * The pre-tokenizer the file's `pre_tokenizer` entry describes, or null when it has none.
 * @throws HfTokenizerError
 */
export function buildPreTokenizer(config: unknown): PreTokenizer | null {
  if (config === null || config === undefined) return null;
  const c = asObject(config, 'pre_tokenizer');
  switch (c.type) {
    case 'BertPreTokenizer':
      return (text) => splitAt(text, isWhitespace, 'Removed').flatMap((w) => splitAt(w, isBertPunctuation, 'Isolated'));
    case 'Whitespace':
      return (text) => text.match(WHITESPACE_WORDS) ?? [];
    case 'WhitespaceSplit':
      return (text) => splitAt(text, isWhitespace, 'Removed');
    case 'Punctuation': {
      const behavior = splitBehavior(c.behavior, 'pre_tokenizer Punctuation');
      return (text) => splitAt(text, isBertPunctuation, behavior);
    }
    case 'Digits': {
      const behavior = c.individual_digits === true ? 'Isolated' : 'Contiguous';
      return (text) => splitAt(text, (ch) => NUMERIC.test(ch), behavior);
    }
    case 'ByteLevel': {
      // The library requires add_prefix_space (it changes the first word's ids); use_regex defaults to true.
      if (typeof c.add_prefix_space !== 'boolean') {
        throw new HfTokenizerError('invalid', 'pre_tokenizer ByteLevel: add_prefix_space must be a boolean');
      }
      const options = { addPrefixSpace: c.add_prefix_space, useRegex: c.use_regex !== false };
      return (text) => byteLevelWords(text, options);
    }
    case 'Sequence': {
      const parts = asArray(c.pretokenizers, 'pre_tokenizer Sequence.pretokenizers').map(buildPreTokenizer);
      return (text) => parts.reduce<string[]>((words, p) => (p ? words.flatMap(p) : words), [text]);
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported pre_tokenizer ${describeType(c.type)}`);
  }
}

/**
 * Whether the `pre_tokenizer` entry is ByteLevel or a Sequence holding one: then the model's tokens are
 * strings of byte-level characters, one per UTF-8 byte of the text.
 */
export function isByteLevel(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return false;
  const c = config as Json;
  if (c.type === 'ByteLevel') return true;
  return c.type === 'Sequence' && Array.isArray(c.pretokenizers) && c.pretokenizers.some(isByteLevel);
}
