import { describe, expect, it } from 'vitest';
import { clipEchoes, echoed, indefiniteArticle, maxEchoChars } from './message-text.js';

describe('clipEchoes', () => {
  it('shortens a long quoted value to 200 characters and an ellipsis, keeping the quotes and the rest', () => {
    const name = 'm'.repeat(100_000);
    expect(clipEchoes(`unknown model "${name}"; the store has: glove-sif-100d, code-ngram`)).toBe(
      `unknown model "${'m'.repeat(200)}…"; the store has: glove-sif-100d, code-ngram`,
    );
  });

  it('shortens a long unquoted run and a quoted value with spaces, and leaves short messages alone', () => {
    expect(clipEchoes(`job ${'x'.repeat(300)} not found`)).toBe(`job ${'x'.repeat(200)}… not found`);
    const words = 'word '.repeat(100).trim();
    expect(clipEchoes(`keep must be one of A, B; got "${words}"`)).toBe(
      `keep must be one of A, B; got "${words.slice(0, 200)}…"`,
    );
    const long = `its fields: ${Array.from({ length: 60 }, (_, i) => `field${i}`).join(', ')}`;
    expect(clipEchoes(long)).toBe(long);
  });

  it('never ends a clipped value inside a surrogate pair or on an escaping backslash', () => {
    expect(clipEchoes(`"${'a'.repeat(199)}😀${'b'.repeat(50)}"`)).toBe(`"${'a'.repeat(199)}…"`);
    expect(clipEchoes(`"${'a'.repeat(199)}\\"${'b'.repeat(50)}"`)).toBe(`"${'a'.repeat(199)}…"`);
  });
});

describe('echoed', () => {
  it('quotes a value whole up to 200 characters and cuts a longer one with an ellipsis', () => {
    expect(maxEchoChars).toBe(200);
    expect(echoed('byte-gpt')).toBe('byte-gpt');
    expect(echoed('x'.repeat(200))).toBe('x'.repeat(200));
    expect(echoed('x'.repeat(100_000))).toBe(`${'x'.repeat(200)}…`);
    expect(echoed('abcdef', 3)).toBe('abc…');
    // '😀' is two UTF-16 code units: a cut between them would leave a lone surrogate.
    expect(echoed('ab😀cd', 3)).toBe('ab…');
  });
});

describe('indefiniteArticle', () => {
  it('puts "an" before a vowel and "a" before anything else', () => {
    expect(indefiniteArticle('image-classifier')).toBe('an');
    expect(indefiniteArticle('"image-classifier"')).toBe('an');
    expect(indefiniteArticle('Encoder')).toBe('an');
    expect(indefiniteArticle('language-model')).toBe('a');
    expect(indefiniteArticle('text-embedding')).toBe('a');
    expect(indefiniteArticle('')).toBe('a');
  });
});
