import { describe, expect, it } from 'vitest';
import { BYTE_CHARS, byteLevelLength, byteLevelWords, splitGpt2, toByteLevel } from './hf-byte-level.js';

describe('GPT-2 byte-level alphabet (bytes_to_unicode)', () => {
  it('keeps printable bytes and moves the other 68 to U+0100 onwards in byte order', () => {
    expect(BYTE_CHARS[0x61]).toBe('a');
    expect(BYTE_CHARS[0x21]).toBe('!');
    expect(BYTE_CHARS[0xe9]).toBe('é');
    expect(BYTE_CHARS[0]).toBe('\u0100'); // Ā: the first non-printable byte
    expect(BYTE_CHARS[10]).toBe('\u010a'); // Ċ: newline
    expect(BYTE_CHARS[32]).toBe('\u0120'); // Ġ: space, the 33rd moved byte
    expect(BYTE_CHARS[0x7f]).toBe('\u0121'); // ġ: DEL comes right after space
    expect(BYTE_CHARS[0xad]).toBe('\u0143'); // Ń: soft hyphen, the 68th and last
    expect(new Set(BYTE_CHARS).size).toBe(256);
    expect(BYTE_CHARS.filter((ch) => ch.codePointAt(0)! >= 0x100)).toHaveLength(68);
  });

  it('writes each UTF-8 byte as one character (2-byte é, 4-byte emoji, lone surrogate as U+FFFD)', () => {
    expect(toByteLevel('a b\n')).toBe('aĠbĊ');
    expect(toByteLevel('é')).toBe('Ã©'); // C3 A9
    expect(toByteLevel('😀')).toBe('ðŁĺĢ'); // F0 9F 98 80
    expect(toByteLevel('\ud800')).toBe('ï¿½'); // EF BF BD, as TextEncoder writes it
  });

  it('counts one byte per alphabet character, and UTF-8 bytes for any other', () => {
    expect(byteLevelLength('Ġworld')).toBe(6);
    expect(byteLevelLength('ðŁĺĢ')).toBe(4);
    expect(byteLevelLength('<|endoftext|>')).toBe(13);
    expect(byteLevelLength('北')).toBe(3); // not in the alphabet: its own 3 bytes
  });
});

describe("GPT-2's split pattern", () => {
  it('cuts contractions, letters, digits and symbols, each with at most one leading space', () => {
    expect(splitGpt2("Hello world's  test 123!!")).toEqual(['Hello', ' world', "'s", ' ', ' test', ' 123', '!!']);
    // Contractions are lowercase only: "'M" is a symbol then a letter.
    expect(splitGpt2("I'M you'll we've")).toEqual(['I', "'", 'M', ' you', "'ll", ' we', "'ve"]);
    expect(splitGpt2('x1.5')).toEqual(['x', '1', '.', '5']);
  });

  it('leaves the last space of a whitespace run to the next word', () => {
    expect(splitGpt2('a   b')).toEqual(['a', '  ', ' b']);
    expect(splitGpt2('a\n\n b')).toEqual(['a', '\n\n', ' b']);
    expect(splitGpt2('end  ')).toEqual(['end', '  ']);
  });

  it('takes whitespace to be Unicode White_Space, as Oniguruma does, not JS \\s', () => {
    // NEL (U+0085) is whitespace: the space before it is a run of its own.
    expect(splitGpt2('a \u0085b')).toEqual(['a', ' ', '\u0085', 'b']);
    // BOM (U+FEFF) is not: it is a symbol, and takes the space.
    expect(splitGpt2('a \ufeffb')).toEqual(['a', ' \ufeff', 'b']);
    expect(splitGpt2('x \u00a0y')).toEqual(['x', ' ', '\u00a0', 'y']);
  });
});

describe('ByteLevel pre-tokenizer', () => {
  const words = (text: string, addPrefixSpace: boolean, useRegex = true) =>
    byteLevelWords(text, { addPrefixSpace, useRegex });

  it('splits, then writes every word in the byte alphabet', () => {
    expect(words("Hello world's  test 123!!", false)).toEqual(['Hello', 'Ġworld', "'s", 'Ġ', 'Ġtest', 'Ġ123', '!!']);
    expect(words('é😀', false)).toEqual(['Ã©', 'ðŁĺĢ']); // a letter, then a symbol
  });

  it('adds a prefix space unless the text starts with a space (a tab is not one)', () => {
    expect(words('hi', true)).toEqual(['Ġhi']);
    expect(words(' hi', true)).toEqual(['Ġhi']);
    expect(words('\thi', true)).toEqual(['Ġ', 'ĉ', 'hi']);
    expect(words('', true)).toEqual([]);
  });

  it('keeps the text whole without the regex', () => {
    expect(words('a b', true, false)).toEqual(['ĠaĠb']);
  });
});
