import { seededRandom } from '@sift/numeric';
import { describe, expect, it } from 'vitest';
import {
  type CodeCorruptionKind,
  type CodeCorruptionOptions,
  corruptCode,
  corruptCodeAnyKind,
  corruptionKinds,
  corruptionSites,
  guessCodeLanguage,
  lexCode,
} from './code-corruption.js';

/** A random source that returns the given values in turn. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error('too many draws');
    return v;
  };
}

// Sites, by kind:
//   closing brackets: the `)` on line 1
//   rename (every occurrence of a name after its first): values (l3), n (l4), v (l4), limit (l4), n (l5)
//   comparisons: the `<` on line 4
//   integer literals: 0 (l2), 1 (l4), 0 (l4)
const countSmall = [
  'def count_small(values, limit):',
  '    n = 0',
  '    for v in values:',
  '        n += 1 if v < limit else 0',
  '    return n',
].join('\n');
const line = (text: string, i: number) => text.split('\n')[i - 1];
const sitesText = (text: string, kind: CodeCorruptionKind, options: CodeCorruptionOptions = {}) =>
  corruptionSites(text, kind, options).map((t) => text.slice(t.start, t.end));

describe('corruptCode on a 5-line Python function', () => {
  it('finds exactly the hand-listed sites of each kind', () => {
    expect(guessCodeLanguage(countSmall)).toBe('python');
    expect(sitesText(countSmall, 'remove-closing-bracket')).toEqual([')']);
    expect(sitesText(countSmall, 'rename-variable-use')).toEqual(['values', 'n', 'v', 'limit', 'n']);
    expect(sitesText(countSmall, 'flip-comparison')).toEqual(['<']);
    expect(sitesText(countSmall, 'off-by-one')).toEqual(['0', '1', '0']);
  });

  it('removes the closing bracket', () => {
    const c = corruptCode(countSmall, 'remove-closing-bracket', draws(0));
    expect(c?.kind).toBe('remove-closing-bracket');
    expect(line(c?.text ?? '', 1)).toBe('def count_small(values, limit:');
    expect(c?.position).toBe(countSmall.indexOf(')'));
    expect(c?.description).toBe("removed ')' on line 1");
  });

  it('renames one use, not the definition, to a name defined nowhere', () => {
    // ⌊0.5 · 5⌋ = 2: the third site, `v` on line 4.
    const c = corruptCode(countSmall, 'rename-variable-use', draws(0.5));
    expect(line(c?.text ?? '', 3)).toBe('    for v in values:');
    expect(line(c?.text ?? '', 4)).toBe('        n += 1 if v1 < limit else 0');
    expect(c?.description).toBe("renamed a use of 'v' to the undefined 'v1' on line 4");
    // The last site is the `n` of `return n`.
    expect(line(corruptCode(countSmall, 'rename-variable-use', draws(0.99))?.text ?? '', 5)).toBe('    return n1');
  });

  it('picks the next free suffix when <name>1 already exists', () => {
    const text = 'x = 1\nx1 = x\nprint(x)';
    expect(corruptCode(text, 'rename-variable-use', draws(0))?.text).toBe('x = 1\nx1 = x2\nprint(x)');
  });

  it('moves an integer literal beyond 2^53 by exactly one', () => {
    const c = corruptCode('limit = 12345678901234567891', 'off-by-one', draws(0, 0.1), { language: 'python' });
    expect(c?.text).toBe('limit = 12345678901234567892');
  });

  it('flips == and != into each other, and < and > (<= and >=)', () => {
    const c = corruptCode(countSmall, 'flip-comparison', draws(0));
    expect(line(c?.text ?? '', 4)).toBe('        n += 1 if v > limit else 0');
    expect(c?.description).toBe("flipped '<' to '>' on line 4");
    const flips = ['a == b', 'a != b', 'a < b', 'a >= b', 'a > b', 'a <= b'].map(
      (t) => corruptCode(t, 'flip-comparison', draws(0), { language: 'python' })?.text,
    );
    expect(flips).toEqual(['a != b', 'a == b', 'a > b', 'a <= b', 'a < b', 'a >= b']);
  });

  it('moves an integer literal by one: up below 0.5, down otherwise, and 0 always up', () => {
    // ⌊0.4 · 3⌋ = 1: the `1` on line 4; 0.7 >= 0.5: down.
    const down = corruptCode(countSmall, 'off-by-one', draws(0.4, 0.7));
    expect(line(down?.text ?? '', 4)).toBe('        n += 0 if v < limit else 0');
    expect(down?.description).toBe('changed 1 to 0 on line 4');
    const up = corruptCode(countSmall, 'off-by-one', draws(0.4, 0.2));
    expect(line(up?.text ?? '', 4)).toBe('        n += 2 if v < limit else 0');
    const zero = corruptCode(countSmall, 'off-by-one', draws(0, 0.9));
    expect(line(zero?.text ?? '', 2)).toBe('    n = 1');
  });

  it('is deterministic for a seed', () => {
    for (const kind of corruptionKinds) {
      expect(corruptCode(countSmall, kind, seededRandom(7))).toEqual(corruptCode(countSmall, kind, seededRandom(7)));
    }
  });

  it('returns undefined when the file has no site', () => {
    const text = 'x = y';
    for (const kind of corruptionKinds) expect(corruptCode(text, kind, draws(0))).toBeUndefined();
    expect(corruptCodeAnyKind(text, draws(0))).toBeUndefined();
  });

  it('draws the kind among those that apply', () => {
    // Only brackets and the rename of `a` apply: ⌊0.6 · 2⌋ = 1 is the rename.
    const c = corruptCodeAnyKind('f(a)\ng(a)', draws(0.6, 0));
    expect(c?.kind).toBe('rename-variable-use');
    expect(c?.text).toBe('f(a)\ng(a1)');
  });

  it('rejects an unknown kind, naming it', () => {
    expect(() => corruptCode('x', 'delete-line' as CodeCorruptionKind, draws(0))).toThrow(/^kind must be one of/);
  });
});

describe('sites inside strings and comments are never touched', () => {
  it('skips Python comments, strings, prefixed strings and docstrings', () => {
    const text = [
      'def f(a):',
      '    """Return a (a == 1) ] 2."""',
      '    # (a == 1) ] 3 < 4',
      '    s = "x < 2 ) b" + f"{a})" + r\'\\\')\'',
      '    return a // 2',
    ].join('\n');
    expect(sitesText(text, 'remove-closing-bracket')).toEqual([')']);
    expect(sitesText(text, 'flip-comparison')).toEqual([]);
    // `//` is floor division in Python, so the 2 after it is code.
    expect(sitesText(text, 'off-by-one')).toEqual(['2']);
    // `a` is defined on line 1 and used on line 5; `s` and `f` occur once outside strings and comments.
    expect(sitesText(text, 'rename-variable-use')).toEqual(['a']);
    expect(corruptionSites(text, 'rename-variable-use')[0]?.start).toBe(text.lastIndexOf('a'));
  });

  it('skips C-like comments, strings, templates and preprocessor lines, and does not flip generics', () => {
    const interpolation = '$' + '{a}';
    const text = [
      '#include <stdio.h>',
      'int max(int a, int b) { // (a == b) ]',
      '  /* a != b ) 7 */ List<int> xs;',
      `  const s = \`x < ${interpolation} )\`;`,
      '  if (a < b && a<b) return "}";',
      '  return a;',
      '}',
    ].join('\n');
    expect(guessCodeLanguage(text)).toBe('c-like');
    expect(sitesText(text, 'remove-closing-bracket')).toEqual([')', ')', '}']);
    // Only the spaced `<` on line 5; `List<int>`, `#include <…>` and the unspaced `a<b` are left alone.
    expect(corruptionSites(text, 'flip-comparison').map((t) => t.start)).toEqual([text.indexOf('a < b') + 2]);
    expect(sitesText(text, 'off-by-one')).toEqual([]);
    // Member names after `.` do not count, keywords (`int`, `return`, `const`) are never renamed.
    expect(sitesText(text, 'rename-variable-use')).toEqual(['a', 'b', 'a', 'b', 'a']);
  });

  it('leaves member names alone', () => {
    const text = 'self.x = 1\nprint(self.x)';
    expect(sitesText(text, 'rename-variable-use', { language: 'python' })).toEqual(['self']);
  });
});

describe('guessCodeLanguage', () => {
  it('says python only for Python block headers', () => {
    expect(guessCodeLanguage('x = 1\r\ndef f(a) -> int:\r\n  pass')).toBe('python');
    expect(guessCodeLanguage('class A(B):')).toBe('python');
    expect(guessCodeLanguage('for x in xs:  # all')).toBe('python');
    expect(guessCodeLanguage('class A : public B {')).toBe('c-like');
    expect(guessCodeLanguage('for (const x in xs) {')).toBe('c-like');
    expect(guessCodeLanguage('def f(x: Int): Int = x // Scala')).toBe('c-like');
  });
});

describe('lexCode', () => {
  it('splits a Python line into typed tokens', () => {
    const text = 'x = foo(1.5e3, "a) b") # c';
    const tokens = lexCode(text, 'python').map((t) => [t.type, text.slice(t.start, t.end)]);
    expect(tokens).toEqual([
      ['identifier', 'x'],
      ['operator', '='],
      ['identifier', 'foo'],
      ['operator', '('],
      ['number', '1.5e3'],
      ['operator', ','],
      ['string', '"a) b"'],
      ['operator', ')'],
      ['comment', '# c'],
    ]);
  });

  it('reads multi-character operators and ranges whole', () => {
    const text = 'a >>= 0..10 <=> b';
    expect(lexCode(text, 'c-like').map((t) => text.slice(t.start, t.end))).toEqual([
      'a',
      '>>=',
      '0',
      '..',
      '10',
      '<=>',
      'b',
    ]);
  });

  it('ends an unterminated single-quoted string at the end of its line', () => {
    const text = 'x = "open\ny = 2';
    const tokens = lexCode(text, 'python').map((t) => text.slice(t.start, t.end));
    expect(tokens).toEqual(['x', '=', '"open', 'y', '=', '2']);
  });
});
