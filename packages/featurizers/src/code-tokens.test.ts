import { describe, expect, it } from 'vitest';
import { codeTokens, identifierSubwords } from './code-tokens.js';

describe('codeTokens', () => {
  it('lexes identifiers, numbers and the longest operators', () => {
    const tokens = codeTokens('const $x = a?.b ?? 0x1F; y >>>= 2.5e3');
    expect(tokens.map((t) => t.text)).toEqual([
      'const',
      '$x',
      '=',
      'a',
      '?.',
      'b',
      '??',
      '0x1F',
      ';',
      'y',
      '>>>=',
      '2.5e3',
    ]);
    expect(tokens.map((t) => t.kind[0]).join('')).toBe('iioioionoion');
  });

  it('lexes comments and strings as code, keeping their words', () => {
    expect(codeTokens('# add one\nx += "1"').map((t) => t.text)).toEqual(['#', 'add', 'one', 'x', '+=', '"', '1', '"']);
  });
});

describe('identifierSubwords', () => {
  it('splits camelCase, acronyms, snake_case and digits', () => {
    expect(identifierSubwords('parseHTTPResponse_v2')).toEqual(['parse', 'http', 'response', 'v', '2']);
    expect(identifierSubwords('MAX_BUFFER_SIZE')).toEqual(['max', 'buffer', 'size']);
    expect(identifierSubwords('$el')).toEqual(['el']);
    expect(identifierSubwords('__init__')).toEqual(['init']);
  });

  it('keeps combining marks with their letter, and reads composed and decomposed spellings alike', () => {
    const decomposed = 'cafe\u0301Menu'; // e + COMBINING ACUTE ACCENT
    expect(identifierSubwords(decomposed)).toEqual(['caf\u00e9', 'menu']);
    expect(identifierSubwords('caf\u00e9Menu')).toEqual(identifierSubwords(decomposed));
    expect(identifierSubwords('\u0438\u0306\u043e\u0434Count')).toEqual(['\u0439\u043e\u0434', 'count']);
    // No precomposed form: the mark stays attached (x with an acute accent, Devanagari vowel signs).
    expect(identifierSubwords('ax\u0301bValue')).toEqual(['ax\u0301b', 'value']);
    expect(identifierSubwords('U\u0308BER_value')).toEqual(['\u00fcber', 'value']);
    expect(identifierSubwords('\u0915\u093f\u0924\u093e\u092c')).toEqual(['\u0915\u093f\u0924\u093e\u092c']);
  });
});
