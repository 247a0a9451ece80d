import { describe, expect, it } from 'vitest';
import { markdownSentences } from './markdown-prose.js';

describe('markdownSentences', () => {
  it('keeps prose sentences and drops headings, code, tables and link targets', () => {
    const md = [
      '# Title',
      '',
      'This is the [first](https://example.com) sentence. And a *second* one!',
      '',
      '```js',
      'const x = 1;',
      '```',
      '',
      '| a | b |',
      '|---|---|',
      '',
      '- A list item is its own paragraph.',
      '    indented code line',
    ].join('\n');
    expect(markdownSentences(md)).toEqual([
      'This is the first sentence.',
      'And a second one!',
      'A list item is its own paragraph.',
    ]);
  });
});
