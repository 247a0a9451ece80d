/**
 * A Hugging Face `tokenizers` pipeline read from its `tokenizer.json`, for the BERT family: the file a
 * sentence-transformer exported to ONNX ships with.
 *
 * The pipeline is the library's: added tokens (e.g. `[MASK]` typed in the text) are cut out first, the rest
 * is normalized, pre-tokenized into words, each word is split into WordPiece pieces, and the post-processor
 * wraps the pieces in special tokens (`[CLS] A [SEP]`). Supported components:
 * - normalizers: BertNormalizer, Lowercase, NFD, NFC, NFKD, NFKC, StripAccents, Strip, Replace (string
 *   pattern), Sequence;
 * - pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, Sequence;
 * - model: WordPiece;
 * - post-processors: TemplateProcessing, BertProcessing (single sequences).
 * Anything else is refused with an {@link HfTokenizerError} naming the component, rather than tokenizing
 * differently from the model's training. Character classes follow the Rust implementation (Unicode
 * White_Space, general categories C/P/Mn/M), so ids match the reference library, not a JS approximation.
 * The file is over 400 lines because it is one pipeline, mirroring one file format, whose parts are only used
 * together; splitting it would scatter the format across files.
 */

/** What went wrong with a `tokenizer.json`: a component this implementation lacks, or a malformed file. */
export type HfTokenizerErrorKind = 'unsupported' | 'invalid';

/** A `tokenizer.json` cannot be used; the message names the component or key. */
export class HfTokenizerError extends Error {
  override readonly name = 'HfTokenizerError';
  constructor(
    readonly kind: HfTokenizerErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One text as the model sees it: special tokens included, cut to the requested length. */
export interface HfEncoding {
  /** Token ids, `[CLS] ... [SEP]` included. */
  readonly ids: Int32Array;
  /** Segment (token type) id of each token; all 0 for a single sequence under the BERT template. */
  readonly typeIds: Int32Array;
  /** The tokens themselves (`##` continuation pieces keep their prefix). */
  readonly tokens: readonly string[];
  /** Tokens the text produced before truncation, special tokens included. */
  readonly tokenCount: number;
  /** Whether pieces were cut to fit `maxTokens`. */
  readonly truncated: boolean;
}

type Json = Record<string, unknown>;
type Normalizer = (text: string) => string;
type PreTokenizer = (text: string) => string[];
type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

// ------------------------------------------------------------------------------ character classes

const WHITE_SPACE = /^\p{White_Space}$/u;
// Cc, Cf, Cs, Co: what Rust's `is_other` drops. Not Cn: `tokenizers` keeps an unassigned code point (it
// becomes [UNK]), checked against the `tokenizers` npm package over every code point. Characters whose
// category changed between Unicode versions (a few hundred marks and punctuation) still follow Node's ICU
// tables, not the Rust crate's.
const OTHER = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}]$/u;
const PUNCTUATION = /^\p{P}$/u;
const NONSPACING_MARK = /\p{Mn}/gu;
const MARK = /\p{M}/gu;
const NUMERIC = /^[\p{Nd}\p{Nl}\p{No}]$/u;
/** Rust regex's Unicode `\w` (UTS #18 Annex C), which JS `\w` is not even under the `u` flag. */
const WORD_CLASS = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
const WHITESPACE_WORDS = new RegExp(`[${WORD_CLASS}]+|[^${WORD_CLASS}\\p{White_Space}]+`, 'gu');
const STARTS_WITH_WORD = new RegExp(`^[${WORD_CLASS}]`, 'u');
const ENDS_WITH_WORD = new RegExp(`[${WORD_CLASS}]$`, 'u');

const isWhitespace = (ch: string): boolean => WHITE_SPACE.test(ch);

function isControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && OTHER.test(ch);
}

/** BERT's punctuation: every ASCII punctuation or symbol character (`$`, `+`, `^`, ...) and Unicode P*. */
function isBertPunctuation(ch: string): boolean {
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
function isCjkIdeograph(cp: number): boolean {
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
function lowercaseChars(text: string): string {
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

// ------------------------------------------------------------------------------------ normalizers

function bertNormalizer(config: Json): Normalizer {
  const cleanText = config.clean_text !== false;
  const chineseChars = config.handle_chinese_chars !== false;
  const lowercase = config.lowercase !== false;
  // `strip_accents: null` means "do whatever lowercase does" (uncased BERT strips, cased keeps).
  const stripAccents = typeof config.strip_accents === 'boolean' ? config.strip_accents : lowercase;
  return (text) => {
    let out = '';
    for (const ch of text) {
      if (cleanText) {
        if (ch === '\0' || ch === '\ufffd' || isControl(ch)) continue;
        if (isWhitespace(ch)) {
          out += ' ';
          continue;
        }
      }
      out += chineseChars && isCjkIdeograph(ch.codePointAt(0)!) ? ` ${ch} ` : ch;
    }
    if (stripAccents) out = out.normalize('NFD').replace(NONSPACING_MARK, '');
    return lowercase ? lowercaseChars(out) : out;
  };
}

function stripWhitespace(text: string, left: boolean, right: boolean): string {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (left && start < end && isWhitespace(chars[start]!)) start++;
  while (right && end > start && isWhitespace(chars[end - 1]!)) end--;
  return chars.slice(start, end).join('');
}

function buildNormalizer(config: unknown): Normalizer | null {
  if (config === null || config === undefined) return null;
  const c = asObject(config, 'normalizer');
  switch (c.type) {
    case 'BertNormalizer':
      return bertNormalizer(c);
    case 'Lowercase':
      return lowercaseChars;
    case 'NFD':
    case 'NFC':
    case 'NFKD':
    case 'NFKC': {
      const form = c.type;
      return (text) => text.normalize(form);
    }
    // Unlike BertNormalizer (nonspacing marks only), StripAccents drops every combining mark (M*).
    case 'StripAccents':
      return (text) => text.replace(MARK, '');
    case 'Strip': {
      const left = c.strip_left !== false;
      const right = c.strip_right !== false;
      return (text) => stripWhitespace(text, left, right);
    }
    case 'Replace': {
      const pattern = asObject(c.pattern, 'normalizer Replace.pattern');
      if (typeof pattern.String !== 'string' || typeof c.content !== 'string') {
        throw new HfTokenizerError('unsupported', 'normalizer Replace: only a String pattern is supported, not Regex');
      }
      const from = pattern.String;
      const to = c.content;
      return (text) => (from === '' ? text : text.replaceAll(from, to));
    }
    case 'Sequence': {
      const parts = asArray(c.normalizers, 'normalizer Sequence.normalizers').map(buildNormalizer);
      return (text) => parts.reduce((t, n) => (n ? n(t) : t), text);
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported normalizer ${describeType(c.type)}`);
  }
}

// --------------------------------------------------------------------------------- pre-tokenizers

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

function buildPreTokenizer(config: unknown): PreTokenizer | null {
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
    case 'Sequence': {
      const parts = asArray(c.pretokenizers, 'pre_tokenizer Sequence.pretokenizers').map(buildPreTokenizer);
      return (text) => parts.reduce<string[]>((words, p) => (p ? words.flatMap(p) : words), [text]);
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported pre_tokenizer ${describeType(c.type)}`);
  }
}

// -------------------------------------------------------------------------------------- WordPiece

/** Greedy longest-match-first WordPiece (Wu et al. 2016, §4.1; BERT's `WordpieceTokenizer`). */
class WordPiece {
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkId: number;
  /** Characters of the longest vocabulary entry: no longer candidate can match, so none is built. */
  private readonly longestPiece: number;
  private readonly cache = new Map<string, readonly number[]>();

  constructor(
    vocab: Map<string, number>,
    readonly unkToken: string,
    readonly prefix: string,
    readonly maxCharsPerWord: number,
  ) {
    const unkId = vocab.get(unkToken);
    if (unkId === undefined) {
      throw new HfTokenizerError(
        'invalid',
        `model WordPiece: unk_token ${JSON.stringify(unkToken)} is not in the vocab`,
      );
    }
    this.vocab = vocab;
    this.unkId = unkId;
    let longest = 1;
    for (const entry of vocab.keys()) longest = Math.max(longest, Array.from(entry).length);
    this.longestPiece = longest;
  }

  /** Ids of one pre-tokenized word: its pieces, or the unknown token alone if any part has no piece. */
  pieces(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = Array.from(word);
    let ids: number[] = [];
    if (chars.length > this.maxCharsPerWord) {
      ids = [this.unkId];
    } else {
      for (let start = 0; start < chars.length; ) {
        let found: number | undefined;
        // Longest match first, from the longest candidate that could be in the vocabulary: trying every
        // length up to the word's end made a 100-character word cost ~5,000 string builds.
        let end = Math.min(chars.length, start + this.longestPiece);
        for (; end > start; end--) {
          const piece = chars.slice(start, end).join('');
          found = this.vocab.get(start === 0 ? piece : this.prefix + piece);
          if (found !== undefined) break;
        }
        if (found === undefined) {
          ids = [this.unkId];
          break;
        }
        ids.push(found);
        start = end;
      }
    }
    // Bounded: a long-running service sees open vocabularies. A word too long for any piece is not kept (its
    // answer is cheap, and 65,536 such words could hold gigabytes of keys).
    if (chars.length > this.maxCharsPerWord) return ids;
    if (this.cache.size >= 65536) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }
}

function buildModel(config: unknown): WordPiece {
  const c = asObject(config, 'model');
  // Files written by older `tokenizers` versions may omit `type`; WordPiece is recognizable by its keys.
  const type = c.type ?? (c.continuing_subword_prefix !== undefined && c.merges === undefined ? 'WordPiece' : c.type);
  if (type !== 'WordPiece') {
    throw new HfTokenizerError(
      'unsupported',
      `unsupported model ${describeType(type)}: only WordPiece (BERT family) is implemented, not BPE, Unigram or WordLevel`,
    );
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(asObject(c.vocab, 'model.vocab'))) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new HfTokenizerError(
        'invalid',
        `model.vocab: id of ${JSON.stringify(token)} is not a non-negative integer`,
      );
    }
    vocab.set(token, id);
  }
  return new WordPiece(
    vocab,
    typeof c.unk_token === 'string' ? c.unk_token : '[UNK]',
    typeof c.continuing_subword_prefix === 'string' ? c.continuing_subword_prefix : '##',
    typeof c.max_input_chars_per_word === 'number' ? c.max_input_chars_per_word : 100,
  );
}

// -------------------------------------------------------------------------------- post-processors

/** A single-sequence template: special tokens around the sequence, with a type id per part. */
interface Template {
  readonly before: readonly TemplatePart[];
  readonly sequenceTypeId: number;
  readonly after: readonly TemplatePart[];
}
interface TemplatePart {
  readonly ids: readonly number[];
  readonly tokens: readonly string[];
  readonly typeId: number;
}

const NO_TEMPLATE: Template = { before: [], sequenceTypeId: 0, after: [] };

function buildPostProcessor(config: unknown): Template {
  if (config === null || config === undefined) return NO_TEMPLATE;
  const c = asObject(config, 'post_processor');
  switch (c.type) {
    case 'BertProcessing': {
      const [cls, sep] = [tokenAndId(c.cls, 'BertProcessing.cls'), tokenAndId(c.sep, 'BertProcessing.sep')];
      return { before: [{ ...cls, typeId: 0 }], sequenceTypeId: 0, after: [{ ...sep, typeId: 0 }] };
    }
    case 'TemplateProcessing':
      return templateProcessing(c);
    default:
      throw new HfTokenizerError('unsupported', `unsupported post_processor ${describeType(c.type)}`);
  }
}

function tokenAndId(value: unknown, where: string): { ids: number[]; tokens: string[] } {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') {
    throw new HfTokenizerError('invalid', `post_processor ${where} must be [token, id]`);
  }
  return { ids: [value[1]], tokens: [value[0]] };
}

function templateProcessing(c: Json): Template {
  const specials = asObject(c.special_tokens ?? {}, 'TemplateProcessing.special_tokens');
  // The JSON form is a list of {SpecialToken: {id, type_id}} / {Sequence: {id, type_id}}; the string form
  // "[CLS]:0 $A:0 [SEP]:0" is accepted too.
  const pieces = typeof c.single === 'string' ? c.single.split(/\s+/).filter(Boolean) : asArray(c.single, 'single');
  const template = { before: [] as TemplatePart[], sequenceTypeId: 0, after: [] as TemplatePart[] };
  let seen = false;
  for (const piece of pieces) {
    let name: string;
    let typeId: number;
    let isSequence: boolean;
    if (typeof piece === 'string') {
      const [head, type] = piece.split(':');
      isSequence = head!.startsWith('$');
      name = isSequence ? head!.slice(1) || 'A' : head!;
      typeId = type === undefined ? 0 : Number(type);
    } else {
      const p = asObject(piece, 'TemplateProcessing.single[]');
      const inner = asObject(p.Sequence ?? p.SpecialToken, 'TemplateProcessing.single[]');
      isSequence = p.Sequence !== undefined;
      name = String(inner.id);
      typeId = typeof inner.type_id === 'number' ? inner.type_id : 0;
    }
    if (isSequence) {
      if (name !== 'A' || seen) throw new HfTokenizerError('invalid', 'TemplateProcessing.single must hold $A once');
      seen = true;
      template.sequenceTypeId = typeId;
      continue;
    }
    const special = asObject(specials[name], `TemplateProcessing.special_tokens[${JSON.stringify(name)}]`);
    const ids = asArray(special.ids, `special token ${name}.ids`).map(Number);
    const tokens = asArray(special.tokens, `special token ${name}.tokens`).map(String);
    (seen ? template.after : template.before).push({ ids, tokens, typeId });
  }
  if (!seen) throw new HfTokenizerError('invalid', 'TemplateProcessing.single has no $A sequence');
  return template;
}

// ------------------------------------------------------------------------------------ added tokens

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}

/** Finds added tokens leftmost-longest, honouring single_word/lstrip/rstrip as `tokenizers` does. */
class AddedTokenMatcher {
  private readonly byFirstChar = new Map<string, AddedToken[]>();

  constructor(tokens: readonly AddedToken[]) {
    for (const t of tokens) {
      if (t.content === '') continue;
      const list = this.byFirstChar.get(t.content[0]!) ?? [];
      list.push(t);
      this.byFirstChar.set(t.content[0]!, list);
    }
    for (const list of this.byFirstChar.values()) list.sort((a, b) => b.content.length - a.content.length);
  }

  get empty(): boolean {
    return this.byFirstChar.size === 0;
  }

  /** Text between matches (id undefined) and the matched added tokens, in order. */
  split(text: string): { text: string; id?: number }[] {
    const out: { text: string; id?: number }[] = [];
    let done = 0;
    for (let i = 0; i < text.length; i++) {
      const match = this.byFirstChar.get(text[i]!)?.find((t) => text.startsWith(t.content, i) && this.fits(t, text, i));
      if (!match) continue;
      let start = i;
      let stop = i + match.content.length;
      if (match.lstrip) while (start > done && isWhitespace(text[start - 1]!)) start--;
      if (match.rstrip) while (stop < text.length && isWhitespace(text[stop]!)) stop++;
      if (start > done) out.push({ text: text.slice(done, start) });
      out.push({ text: match.content, id: match.id });
      done = stop;
      i = stop - 1;
    }
    if (done < text.length || out.length === 0) out.push({ text: text.slice(done) });
    return out;
  }

  private fits(t: AddedToken, text: string, at: number): boolean {
    if (!t.singleWord) return true;
    const end = at + t.content.length;
    return !ENDS_WITH_WORD.test(text.slice(0, at)) && !STARTS_WITH_WORD.test(text.slice(end));
  }
}

// ------------------------------------------------------------------------------------- tokenizer

/** A parsed `tokenizer.json`: text -> ids for a single sequence, with special tokens and truncation. */
export class HfTokenizer {
  /** Id that pads batches (the file's `padding.pad_id`, else `[PAD]`'s id, else 0). */
  readonly padId: number;
  /** Token type id of padding positions (`padding.pad_type_id`, else 0). */
  readonly padTypeId: number;
  /** Truncation length the file itself declares (`truncation.max_length`), if any. */
  readonly fileMaxLength: number | undefined;
  /** Special tokens the post-processor adds around one sequence (2 for `[CLS] A [SEP]`). */
  readonly addedTokenCount: number;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly model: WordPiece;
  private readonly template: Template;
  private readonly truncateLeft: boolean;
  private readonly rawAdded: AddedTokenMatcher;
  private readonly normalizedAdded: AddedTokenMatcher;
  private readonly tokenById = new Map<number, string>();
  private readonly addedIds = new Map<string, number>();

  /** Builds the pipeline from a parsed `tokenizer.json`. @throws HfTokenizerError */
  constructor(config: unknown) {
    const c = asObject(config, 'tokenizer.json');
    this.normalizer = buildNormalizer(c.normalizer);
    this.preTokenizer = buildPreTokenizer(c.pre_tokenizer);
    this.model = buildModel(c.model);
    this.template = buildPostProcessor(c.post_processor);
    this.addedTokenCount = [...this.template.before, ...this.template.after].reduce((n, p) => n + p.ids.length, 0);
    for (const [token, id] of this.model.vocab) this.tokenById.set(id, token);

    const raw: AddedToken[] = [];
    const normalized: AddedToken[] = [];
    for (const entry of asArray(c.added_tokens ?? [], 'added_tokens')) {
      const t = asObject(entry, 'added_tokens[]');
      if (typeof t.content !== 'string' || typeof t.id !== 'number') {
        throw new HfTokenizerError('invalid', 'added_tokens[]: each needs a string content and a numeric id');
      }
      this.tokenById.set(t.id, t.content);
      this.addedIds.set(t.content, t.id);
      // Special tokens default to normalized=false, others to true, as in `tokenizers`.
      const isNormalized = typeof t.normalized === 'boolean' ? t.normalized : t.special !== true;
      const token: AddedToken = {
        id: t.id,
        content: isNormalized && this.normalizer ? this.normalizer(t.content) : t.content,
        singleWord: t.single_word === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
      };
      (isNormalized ? normalized : raw).push(token);
    }
    this.rawAdded = new AddedTokenMatcher(raw);
    this.normalizedAdded = new AddedTokenMatcher(normalized);

    const truncation =
      c.truncation === null || c.truncation === undefined ? null : asObject(c.truncation, 'truncation');
    this.truncateLeft = truncation?.direction === 'Left';
    this.fileMaxLength = typeof truncation?.max_length === 'number' ? truncation.max_length : undefined;
    const padding = c.padding === null || c.padding === undefined ? null : asObject(c.padding, 'padding');
    this.padId = typeof padding?.pad_id === 'number' ? padding.pad_id : (this.model.vocab.get('[PAD]') ?? 0);
    this.padTypeId = typeof padding?.pad_type_id === 'number' ? padding.pad_type_id : 0;
  }

  /** Parses the text of a `tokenizer.json` file. @throws HfTokenizerError */
  static fromJsonText(text: string): HfTokenizer {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new HfTokenizerError('invalid', `tokenizer.json is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new HfTokenizer(parsed);
  }

  /** Id of a vocabulary or added token, or undefined. */
  idOf(token: string): number | undefined {
    return this.model.vocab.get(token) ?? this.addedIds.get(token);
  }

  /** The text's token ids without special tokens or truncation. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const part of this.rawAdded.split(text)) {
      if (part.id !== undefined) {
        ids.push(part.id);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer(part.text) : part.text;
      for (const inner of this.normalizedAdded.split(normalized)) {
        if (inner.id !== undefined) {
          ids.push(inner.id);
          continue;
        }
        const words = this.preTokenizer ? this.preTokenizer(inner.text) : [inner.text];
        for (const word of words) if (word !== '') ids.push(...this.model.pieces(word));
      }
    }
    return ids;
  }

  /**
   * Encodes one sequence with the post-processor's special tokens, keeping at most `maxTokens` tokens in
   * all (the pieces are cut, from the end unless the file truncates on the left; the specials stay).
   */
  encode(text: string, maxTokens = Number.POSITIVE_INFINITY): HfEncoding {
    if (maxTokens < this.addedTokenCount + 1) {
      throw new RangeError(`maxTokens ${maxTokens} leaves no room beside ${this.addedTokenCount} special tokens`);
    }
    let pieces = this.tokenize(text);
    const produced = pieces.length + this.addedTokenCount;
    const room = maxTokens - this.addedTokenCount;
    const truncated = pieces.length > room;
    if (truncated) pieces = this.truncateLeft ? pieces.slice(pieces.length - room) : pieces.slice(0, room);
    const ids: number[] = [];
    const typeIds: number[] = [];
    const push = (partIds: readonly number[], typeId: number): void => {
      for (const id of partIds) {
        ids.push(id);
        typeIds.push(typeId);
      }
    };
    for (const part of this.template.before) push(part.ids, part.typeId);
    push(pieces, this.template.sequenceTypeId);
    for (const part of this.template.after) push(part.ids, part.typeId);
    return {
      ids: Int32Array.from(ids),
      typeIds: Int32Array.from(typeIds),
      tokens: ids.map((id) => this.tokenById.get(id) ?? this.model.unkToken),
      tokenCount: produced,
      truncated,
    };
  }
}

// ----------------------------------------------------------------------------------------- helpers

function asObject(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HfTokenizerError('invalid', `${where} must be an object, got ${JSON.stringify(value) ?? 'undefined'}`);
  }
  return value as Json;
}

function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new HfTokenizerError('invalid', `${where} must be an array`);
  return value;
}

function describeType(type: unknown): string {
  return typeof type === 'string' ? `"${type}"` : `(type ${JSON.stringify(type) ?? 'missing'})`;
}
