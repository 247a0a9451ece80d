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
});
