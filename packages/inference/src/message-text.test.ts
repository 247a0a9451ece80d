import { describe, expect, it } from 'vitest';
import { echoed, indefiniteArticle, maxEchoedChars } from './message-text.js';

describe('message text', () => {
  it('quotes a value whole up to 200 characters and cuts a longer one with an ellipsis', () => {
    expect(maxEchoedChars).toBe(200);
    expect(echoed('byte-gpt')).toBe('byte-gpt');
    expect(echoed('x'.repeat(200))).toBe('x'.repeat(200));
    expect(echoed('x'.repeat(100_000))).toBe(`${'x'.repeat(200)}…`);
    expect(echoed('abcdef', 3)).toBe('abc…');
    // '😀' is two UTF-16 code units: a cut between them would leave a lone surrogate.
    expect(echoed('ab😀cd', 3)).toBe('ab…');
  });

  it('puts "an" before a vowel and "a" before anything else', () => {
    expect(indefiniteArticle('image-classifier')).toBe('an');
    expect(indefiniteArticle('"image-classifier"')).toBe('an');
    expect(indefiniteArticle('Encoder')).toBe('an');
    expect(indefiniteArticle('language-model')).toBe('a');
    expect(indefiniteArticle('text-embedding')).toBe('a');
    expect(indefiniteArticle('')).toBe('a');
  });
});
