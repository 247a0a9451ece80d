/**
 * A Hugging Face `tokenizers` pipeline read from its `tokenizer.json`: the BERT family's (the file a
 * sentence-transformer exported to ONNX ships with), SentencePiece's Unigram (T5, XLM-R and the multilingual
 * sentence encoders) and byte-level or SentencePiece-style BPE (the file of a decoder language model: GPT-2,
 * Llama, Qwen).
 *
 * The pipeline is the library's: added tokens (e.g. `[MASK]` or `<|endoftext|>` typed in the text) are cut
 * out first, the rest is normalized, pre-tokenized into words, each word is split into pieces by the model,
 * and the post-processor wraps the pieces in special tokens (`[CLS] A [SEP]`). Supported components:
 * - normalizers: BertNormalizer, Lowercase, Nmt, NFD, NFC, NFKD, NFKC, StripAccents, Strip, Replace (string or
 *   regex pattern), Prepend, Precompiled (SentencePiece's compiled normalization rules), Sequence;
 * - pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Digits, ByteLevel, Split
 *   (string or Oniguruma regex pattern, as Llama 3 and Qwen2 split), Metaspace (SentencePiece's "▁"), Sequence;
 * - models: WordPiece, BPE (with byte fallback; no dropout or subword prefix/suffix), Unigram (with byte
 *   fallback), WordLevel;
 * - post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence (single sequences;
 *   Llama 3 wraps its template in a Sequence with ByteLevel).
 * Anything else is refused with an {@link HfTokenizerError} naming the component, rather than tokenizing
 * differently from the model's training. Character classes follow the Rust implementation (Unicode
 * White_Space, general categories C/P/Mn/M), so ids match the reference library, not a JS approximation.
 * The `decoder` entry is not read: nothing here turns ids back into text.
 *
 * Each stage is its own module, in pipeline order:
 * - `hf-added-tokens.ts`: finding added tokens in the text;
 * - `hf-normalizers.ts`: the normalizers, with SentencePiece's compiled rules in `hf-precompiled.ts`;
 * - `hf-pre-tokenizers.ts`: the pre-tokenizers, with GPT-2's split and byte alphabet in `hf-byte-level.ts`;
 * - `hf-models.ts`: the model interface and choice, `hf-wordpiece.ts`, `hf-bpe.ts` and `hf-unigram.ts` the
 *   three models;
 * - `hf-post-processors.ts`: the special-token template;
 * - this module: the tokenizer that reads the file, runs the stages and truncates, with its padding ids.
 * Beside them, `hf-character-classes.ts` holds the Unicode classes the stages test and `hf-tokenizer-json.ts`
 * the error type and JSON readers they share.
 */
import { type AddedToken, AddedTokenMatcher } from './hf-added-tokens.js';
import { byteLevelLength } from './hf-byte-level.js';
import { buildModel, type TokenizerModel } from './hf-models.js';
import { buildNormalizer, type Normalizer, spaceReplacement } from './hf-normalizers.js';
import { buildPostProcessor, type Template } from './hf-post-processors.js';
import { buildPreTokenizer, isByteLevel, metaspaceReplacement, type PreTokenizer } from './hf-pre-tokenizers.js';
import { asArray, asObject, HfTokenizerError } from './hf-tokenizer-json.js';

const utf8 = new TextEncoder();
/** A byte_fallback token: `<0x0A>`, one byte of text. */
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/;

export { HfTokenizerError, type HfTokenizerErrorKind } from './hf-tokenizer-json.js';

/** One text as the model sees it: special tokens included, cut to the requested length. */
export interface HfEncoding {
  /** Token ids, `[CLS] ... [SEP]` included. */
  readonly ids: Int32Array;
  /** Segment (token type) id of each token; all 0 for a single sequence under the BERT template. */
  readonly typeIds: Int32Array;
  /** The tokens themselves (`##` continuation pieces keep their prefix; byte-level ones read "Ġworld"). */
  readonly tokens: readonly string[];
  /** Tokens the text produced before truncation, special tokens included. */
  readonly tokenCount: number;
  /** Whether pieces were cut to fit `maxTokens`. */
  readonly truncated: boolean;
}

/** A parsed `tokenizer.json`: text -> ids for a single sequence, with special tokens and truncation. */
export class HfTokenizer {
  /**
   * Id that pads batches (the file's `padding.pad_id`, else `[PAD]`'s id, else 0). GPT-2 files have neither
   * and get 0: padded positions are masked out, so any id inside the vocabulary serves.
   */
  readonly padId: number;
  /** Token type id of padding positions (`padding.pad_type_id`, else 0). */
  readonly padTypeId: number;
  /** Truncation length the file itself declares (`truncation.max_length`), if any. */
  readonly fileMaxLength: number | undefined;
  /** Special tokens the post-processor adds around one sequence (2 for `[CLS] A [SEP]`). */
  readonly addedTokenCount: number;
  /**
   * Whether the pre-tokenizer is ByteLevel (alone or in a Sequence): the vocabulary then spells UTF-8 bytes,
   * one character each, and {@link tokenByteLength} is defined.
   */
  readonly byteLevel: boolean;
  /**
   * The word marker ("▁") of a SentencePiece-style file whose model has byte_fallback (Llama 2, Mistral): a
   * Metaspace pre-tokenizer's replacement, or what a Replace normalizer writes for spaces. Its tokens then
   * spell text with the marker for a space and `<0xHH>` for single bytes, and {@link tokenByteLength} is
   * defined too.
   */
  readonly wordMarker: string | undefined;
  /** Rows of the model's embedding table the ids index: the largest vocabulary or added-token id, plus 1. */
  readonly vocabSize: number;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly model: TokenizerModel;
  private readonly template: Template;
  private readonly truncateLeft: boolean;
  private readonly rawAdded: AddedTokenMatcher;
  private readonly normalizedAdded: AddedTokenMatcher;
  private readonly tokenById = new Map<number, string>();
  private readonly addedIds = new Map<string, number>();
  /** UTF-8 bytes of each added token as matched in the text (normalized, if the token asks for that). */
  private readonly addedBytes = new Map<number, number>();
  private byteLengths: Int32Array | undefined;

  /** Builds the pipeline from a parsed `tokenizer.json`. @throws HfTokenizerError */
  constructor(config: unknown) {
    const c = asObject(config, 'tokenizer.json');
    this.normalizer = buildNormalizer(c.normalizer);
    this.preTokenizer = buildPreTokenizer(c.pre_tokenizer);
    this.byteLevel = isByteLevel(c.pre_tokenizer);
    this.model = buildModel(c.model);
    this.wordMarker = this.model.byteFallback
      ? (metaspaceReplacement(c.pre_tokenizer) ?? spaceReplacement(c.normalizer))
      : undefined;
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
      this.addedBytes.set(t.id, utf8.encode(token.content).length);
    }
    let maxId = -1;
    for (const id of this.tokenById.keys()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.rawAdded = new AddedTokenMatcher(raw);
    this.normalizedAdded = new AddedTokenMatcher(normalized);

    const truncation =
      c.truncation === null || c.truncation === undefined ? null : asObject(c.truncation, 'truncation');
    this.truncateLeft = truncation?.direction === 'Left';
    this.fileMaxLength = typeof truncation?.max_length === 'number' ? truncation.max_length : undefined;
    const padding = c.padding === null || c.padding === undefined ? null : asObject(c.padding, 'padding');
    this.padId = typeof padding?.pad_id === 'number' ? padding.pad_id : (this.idOf('[PAD]') ?? this.idOf('<pad>') ?? 0);
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

  /**
   * UTF-8 bytes of the (normalized) text that a token covers, for bits per byte from token log-likelihoods:
   * an added token's content's bytes (whitespace an lstrip/rstrip token swallows is not counted), else one
   * byte per byte-level character of the vocabulary token, or, with a {@link wordMarker}, 1 for a `<0xHH>`
   * token and the UTF-8 length of the token with the marker read as a space. Over the tokens of
   * {@link tokenize} the sum is the text's UTF-8 length, except where unk_token stood in for unknown
   * characters (it counts its own spelling), where a pre-tokenizer in a Sequence beside ByteLevel dropped
   * characters (WhitespaceSplit's whitespace, a Split with behavior Removed), or where a marker was
   * prepended to the text (one byte more: the first token, which a language model does not predict).
   * @throws HfTokenizerError of kind 'unsupported' unless {@link byteLevel} or {@link wordMarker}: a WordPiece
   * token does not say which whitespace or characters the normalizer and pre-tokenizer dropped around it
   * @throws RangeError for an id with no token
   */
  tokenByteLength(id: number): number {
    const marker = this.wordMarker;
    if (!this.byteLevel && marker === undefined) {
      throw new HfTokenizerError(
        'unsupported',
        'tokenByteLength: bytes per token are known only for a ByteLevel pre-tokenizer or a SentencePiece-style word marker with byte_fallback',
      );
    }
    if (!this.byteLengths) {
      const lengths = new Int32Array(this.vocabSize).fill(-1);
      const length = (token: string) =>
        marker === undefined
          ? byteLevelLength(token)
          : BYTE_TOKEN.test(token)
            ? 1
            : utf8.encode(token.replaceAll(marker, ' ')).length;
      for (const [token, tokenId] of this.model.vocab) lengths[tokenId] = length(token);
      for (const [tokenId, bytes] of this.addedBytes) lengths[tokenId] = bytes;
      this.byteLengths = lengths;
    }
    const length = Number.isInteger(id) && id >= 0 ? this.byteLengths[id] : undefined;
    if (length === undefined || length < 0) throw new RangeError(`tokenByteLength: no token has id ${id}`);
    return length;
  }

  /** The text's token ids without special tokens or truncation. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    this.rawAdded.split(text).forEach((part, p) => {
      if (part.id !== undefined) {
        ids.push(part.id);
        return;
      }
      const normalized = this.normalizer ? this.normalizer(part.text) : part.text;
      this.normalizedAdded.split(normalized).forEach((inner, q) => {
        if (inner.id !== undefined) {
          ids.push(inner.id);
          return;
        }
        // Text the normalizer emptied (control characters only, say) has nothing to mark or split.
        if (inner.text === '') return;
        // The first piece of the input, with no added token before it (Metaspace's "first" scheme).
        const atStart = p === 0 && q === 0;
        const words = this.preTokenizer ? this.preTokenizer(inner.text, atStart) : [inner.text];
        // No spread: one byte-level word (a long run of symbols) can hold more ids than a call takes arguments.
        for (const word of words) if (word !== '') for (const id of this.model.tokenize(word)) ids.push(id);
      });
    });
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
      tokens: ids.map((id) => this.tokenById.get(id) ?? this.model.unkToken ?? ''),
      tokenCount: produced,
      truncated,
    };
  }
}
