/**
 * The `model` of a `tokenizer.json`, which turns each pre-tokenized word into vocabulary ids: WordPiece (the
 * BERT family, `hf-wordpiece.ts`), BPE (GPT-2 and its byte-level descendants, `hf-bpe.ts`) or Unigram
 * (SentencePiece's: T5, XLM-R, `hf-unigram.ts`) or WordLevel (one id per whole word, below).
 */
import { buildBpe } from './hf-bpe.js';
import { asObject, describeType, HfTokenizerError, type Json, readVocab } from './hf-tokenizer-json.js';
import { buildUnigram } from './hf-unigram.js';
import { buildWordPiece } from './hf-wordpiece.js';

/** What the tokenizer needs of a model: its vocabulary and the ids of one word. */
export interface TokenizerModel {
  /** Token -> id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** The token standing for text the vocabulary cannot spell, if the model has one. */
  readonly unkToken: string | null;
  /** Whether a character missing from the vocabulary is spelt as its `<0xHH>` byte tokens. */
  readonly byteFallback?: boolean;
  /** Ids of one pre-tokenized word (empty for ""). @throws HfTokenizerError when the file cannot spell it */
  tokenize(word: string): readonly number[];
}

/** The model the file's `model` entry describes. @throws HfTokenizerError for an unknown type or a bad file */
export function buildModel(config: unknown): TokenizerModel {
  const c = asObject(config, 'model');
  // Files written by older `tokenizers` versions may omit `type`; the library then tries BPE first (it needs
  // merges), then WordPiece.
  const type =
    c.type ?? (c.merges !== undefined ? 'BPE' : c.continuing_subword_prefix !== undefined ? 'WordPiece' : undefined);
  switch (type) {
    case 'WordPiece':
      return buildWordPiece(c);
    case 'BPE':
      return buildBpe(c);
    case 'Unigram':
      return buildUnigram(c);
    case 'WordLevel':
      return wordLevel(c);
    default:
      throw new HfTokenizerError(
        'unsupported',
        `unsupported model ${describeType(type)}: WordPiece, BPE, Unigram and WordLevel are implemented`,
      );
  }
}

/** WordLevel: a pre-tokenized word is one vocabulary entry, or unk_token. */
function wordLevel(c: Json): TokenizerModel {
  const vocab = readVocab(c.vocab, 'model WordLevel.vocab');
  const unkToken = typeof c.unk_token === 'string' ? c.unk_token : null;
  const unkId = unkToken === null ? undefined : vocab.get(unkToken);
  return {
    vocab,
    unkToken,
    tokenize(word) {
      if (word === '') return [];
      const id = vocab.get(word) ?? unkId;
      if (id === undefined) {
        throw new HfTokenizerError(
          'invalid',
          `model WordLevel: ${JSON.stringify(word)} is not in the vocab and unk_token ${JSON.stringify(unkToken)} is not either`,
        );
      }
      return [id];
    },
  };
}
