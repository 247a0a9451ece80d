/**
 * The `normalizer` of a `tokenizer.json`, applied to the text between added tokens: BertNormalizer,
 * Lowercase, Nmt, NFD, NFC, NFKD, NFKC, StripAccents, Strip, Replace (string or Oniguruma regex pattern), Prepend,
 * Precompiled (SentencePiece's compiled rules, `hf-precompiled.ts`) and Sequence.
 */
import {
  isCjkIdeograph,
  isControl,
  isWhitespace,
  lowercaseChars,
  MARK,
  NONSPACING_MARK,
} from './hf-character-classes.js';
import { oniguramaToRegExp } from './hf-oniguruma.js';
import { precompiledNormalizer } from './hf-precompiled.js';
import { asArray, asObject, describeType, HfTokenizerError, type Json } from './hf-tokenizer-json.js';

/** Text in, normalized text out. */
export type Normalizer = (text: string) => string;

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

/**
 * The library's `Nmt` normalizer (SentencePiece's NMT rules without NFKC): drops control characters, and
 * turns the other whitespace-like ones (tab, line breaks, zero-width and direction marks, BOM, U+FFFD...)
 * into a space.
 */
function nmt(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x01 && c <= 0x08) || c === 0x0b || (c >= 0x0e && c <= 0x1f) || c === 0x7f || c === 0x8f || c === 0x9f) {
      continue;
    }
    const space =
      c === 0x09 ||
      c === 0x0a ||
      c === 0x0c ||
      c === 0x0d ||
      c === 0x1680 ||
      (c >= 0x200b && c <= 0x200f) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x2581 ||
      c === 0xfeff ||
      c === 0xfffd;
    out += space ? ' ' : ch;
  }
  return out;
}

function stripWhitespace(text: string, left: boolean, right: boolean): string {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (left && start < end && isWhitespace(chars[start]!)) start++;
  while (right && end > start && isWhitespace(chars[end - 1]!)) end--;
  return chars.slice(start, end).join('');
}

/**
 * The character a Replace normalizer (alone or in a Sequence) writes for every space, as SentencePiece-style
 * files (Llama 2: Prepend "▁", Replace " " -> "▁") mark words; undefined when none does.
 */
export function spaceReplacement(config: unknown): string | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Json;
  if (c.type === 'Replace') {
    const pattern = c.pattern as Json | undefined;
    return pattern?.String === ' ' && typeof c.content === 'string' && [...c.content].length === 1
      ? c.content
      : undefined;
  }
  if (c.type !== 'Sequence' || !Array.isArray(c.normalizers)) return undefined;
  for (const n of c.normalizers) {
    const found = spaceReplacement(n);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The normalizer the file's `normalizer` entry describes, or null when it has none. @throws HfTokenizerError */
export function buildNormalizer(config: unknown): Normalizer | null {
  if (config === null || config === undefined) return null;
  const c = asObject(config, 'normalizer');
  switch (c.type) {
    case 'BertNormalizer':
      return bertNormalizer(c);
    case 'Lowercase':
      return lowercaseChars;
    case 'Nmt':
      return nmt;
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
      if (typeof c.content !== 'string')
        throw new HfTokenizerError('invalid', 'normalizer Replace: content must be a string');
      const to = c.content;
      // A function replacer: the content is literal text, `$&` and friends included.
      if (typeof pattern.String === 'string') {
        const from = pattern.String;
        return (text) => (from === '' ? text : text.replaceAll(from, () => to));
      }
      if (typeof pattern.Regex === 'string') {
        const regex = oniguramaToRegExp(pattern.Regex);
        return (text) => text.replace(regex, () => to);
      }
      throw new HfTokenizerError('invalid', 'normalizer Replace: pattern must be {"String": ...} or {"Regex": ...}');
    }
    // Llama 2 and Mistral files (SentencePiece style) prepend the word marker "▁" to every non-empty piece.
    case 'Prepend': {
      if (typeof c.prepend !== 'string')
        throw new HfTokenizerError('invalid', 'normalizer Prepend: prepend must be a string');
      const prefix = c.prepend;
      return (text) => (text === '' ? text : prefix + text);
    }
    case 'Precompiled': {
      if (typeof c.precompiled_charsmap !== 'string') {
        throw new HfTokenizerError('invalid', 'normalizer Precompiled: precompiled_charsmap must be a base64 string');
      }
      return precompiledNormalizer(c.precompiled_charsmap);
    }
    case 'Sequence': {
      const parts = asArray(c.normalizers, 'normalizer Sequence.normalizers').map(buildNormalizer);
      return (text) => parts.reduce((t, n) => (n ? n(t) : t), text);
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported normalizer ${describeType(c.type)}`);
  }
}
