/**
 * The `pre_tokenizer` of a `tokenizer.json`, which cuts normalized text into the words the model splits
 * into pieces: BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, ByteLevel (GPT-2's split
 * and byte alphabet, in `hf-byte-level.ts`), Split (a string or an Oniguruma regex, `hf-oniguruma.ts`: Llama 3
 * and Qwen2 split this way before a ByteLevel without its own regex) and Sequence, treating delimiters as
 * `tokenizers`' SplitDelimiterBehavior says.
 */
import { byteLevelWords } from './hf-byte-level.js';
import { isBertPunctuation, isWhitespace, NUMERIC, WHITESPACE_WORDS } from './hf-character-classes.js';
import { oniguramaToRegExp } from './hf-oniguruma.js';
import { asArray, asObject, describeType, HfTokenizerError, type Json } from './hf-tokenizer-json.js';

/**
 * Normalized text in, words out. `atStart`: the text begins the input (no added token before it), which
 * Metaspace's `prepend_scheme: "first"` asks.
 */
export type PreTokenizer = (text: string, atStart: boolean) => string[];
type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/** Text cut into delimiters and the runs between them, in order. */
type Runs = { text: string; delimiter: boolean }[];

/**
 * Splits at every character `isDelimiter` accepts, treating the delimiters as `tokenizers`'
 * SplitDelimiterBehavior says (each delimiter character is its own match).
 */
function splitAt(text: string, isDelimiter: (ch: string) => boolean, behavior: SplitBehavior): string[] {
  const runs: Runs = [];
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
  return applyBehavior(runs, behavior);
}

/**
 * Splits at every match of `pattern` (a global RegExp), each match one delimiter; with `invert` the matches
 * are what is kept and the text between them the delimiters, as the Split pre-tokenizer's `invert` says.
 */
function splitMatches(text: string, pattern: RegExp, behavior: SplitBehavior, invert: boolean): string[] {
  const runs: Runs = [];
  let done = 0;
  for (const match of text.matchAll(pattern)) {
    if (match[0] === '') continue; // the library drops empty pieces
    if (match.index > done) runs.push({ text: text.slice(done, match.index), delimiter: invert });
    runs.push({ text: match[0], delimiter: !invert });
    done = match.index + match[0].length;
  }
  if (done < text.length) runs.push({ text: text.slice(done), delimiter: invert });
  return applyBehavior(runs, behavior);
}

/** The pieces `tokenizers` keeps of delimiter-marked runs under a SplitDelimiterBehavior. */
function applyBehavior(runs: Runs, behavior: SplitBehavior): string[] {
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
    case 'Split': {
      const behavior = splitBehavior(c.behavior, 'pre_tokenizer Split');
      const pattern = asObject(c.pattern, 'pre_tokenizer Split.pattern');
      let regex: RegExp;
      if (typeof pattern.String === 'string') {
        regex = new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gu');
      } else if (typeof pattern.Regex === 'string') {
        regex = oniguramaToRegExp(pattern.Regex);
      } else {
        throw new HfTokenizerError('invalid', 'pre_tokenizer Split: pattern must be {"String": ...} or {"Regex": ...}');
      }
      const invert = c.invert === true;
      return (text) => splitMatches(text, regex, behavior, invert);
    }
    case 'Metaspace':
      return metaspace(c);
    case 'Sequence': {
      const parts = asArray(c.pretokenizers, 'pre_tokenizer Sequence.pretokenizers').map(buildPreTokenizer);
      return (text, atStart) =>
        parts.reduce<string[]>(
          (words, p) => (p ? words.flatMap((word, i) => p(word, atStart && i === 0)) : words),
          [text],
        );
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported pre_tokenizer ${describeType(c.type)}`);
  }
}

/**
 * SentencePiece's word marker (Llama 2, Mistral with newer `tokenizers`): spaces become `replacement` ("▁"),
 * which is prepended to the text as `prepend_scheme` says ("always"; "first": only where the text begins the
 * input; "never"; older files: `add_prefix_space`) unless it starts with one, and with `split` each word
 * starts at a marker.
 */
function metaspace(c: Json): PreTokenizer {
  const replacement = c.replacement ?? '▁';
  if (typeof replacement !== 'string' || [...replacement].length !== 1) {
    throw new HfTokenizerError('invalid', 'pre_tokenizer Metaspace: replacement must be one character');
  }
  const scheme = c.prepend_scheme ?? (c.add_prefix_space === false ? 'never' : 'always');
  if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') {
    throw new HfTokenizerError(
      'unsupported',
      `pre_tokenizer Metaspace: unsupported prepend_scheme ${JSON.stringify(scheme)}`,
    );
  }
  const split = c.split !== false;
  return (text, atStart) => {
    let marked = text.replaceAll(' ', replacement);
    if ((scheme === 'always' || (scheme === 'first' && atStart)) && !marked.startsWith(replacement)) {
      marked = replacement + marked;
    }
    return split ? splitAt(marked, (ch) => ch === replacement, 'MergedWithNext') : [marked];
  };
}

/** The word marker of a Metaspace pre-tokenizer (alone or in a Sequence), if the entry has one. */
export function metaspaceReplacement(config: unknown): string | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Json;
  if (c.type === 'Metaspace') return typeof c.replacement === 'string' ? c.replacement : '▁';
  if (c.type !== 'Sequence' || !Array.isArray(c.pretokenizers)) return undefined;
  for (const p of c.pretokenizers) {
    const found = metaspaceReplacement(p);
    if (found !== undefined) return found;
  }
  return undefined;
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
