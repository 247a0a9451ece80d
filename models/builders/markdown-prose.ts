/**
 * English sentences from Markdown documents (the README and guide files npm packages ship): the prose
 * paragraphs with code, tables, headings, HTML and link targets taken out, split into sentences.
 */

const FENCED_CODE = /^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm;
const HTML_COMMENT = /<!--[\s\S]*?-->/g;
const HTML_TAG = /<\/?[a-zA-Z][^>]*>/g;
const IMAGE = /!\[[^\]]*\]\([^)]*\)/g;
const LINK = /\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]/g;
const AUTOLINK_OR_URL = /<https?:[^>]*>|https?:\/\/\S+/g;
const INLINE_CODE = /`[^`\n]*`/g;
const EMPHASIS = /\*\*|__|~~|(?<=\s|^)[*_]|[*_](?=\s|$|[.,;:!?])/gm;
const LIST_OR_QUOTE_MARK = /^\s*(?:[-*+]|\d+[.)]|>+)\s+/;
const SENTENCE_END = /(?<=[.!?])["')\]]?\s+(?=["'(]?[A-Z])/;

/** Prose sentences of a Markdown document, in document order (unfiltered: callers judge quality). */
export function markdownSentences(markdown: string): string[] {
  const text = markdown
    .replace(/\r\n?/g, '\n')
    .replace(FENCED_CODE, '\n')
    .replace(HTML_COMMENT, ' ')
    .replace(IMAGE, ' ')
    .replace(LINK, (_, a: string | undefined, b: string | undefined) => a ?? b ?? '')
    .replace(AUTOLINK_OR_URL, ' ')
    .replace(HTML_TAG, ' ')
    .replace(INLINE_CODE, ' ');
  const sentences: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length === 0) return;
    const joined = paragraph.join(' ').replace(EMPHASIS, '').replace(/\s+/g, ' ').trim();
    for (const s of joined.split(SENTENCE_END)) if (s.trim() !== '') sentences.push(s.trim());
    paragraph = [];
  };
  for (const line of text.split('\n')) {
    const isProse =
      line.trim() !== '' &&
      !/^( {4}|\t)/.test(line) && // indented code
      !/^\s*#/.test(line) && // heading
      !/^\s*\|/.test(line) && // table row
      !/^\s*([-=*_]\s*){3,}$/.test(line); // rule or setext underline
    if (!isProse) {
      flush();
      continue;
    }
    // A list item starts a new paragraph.
    if (LIST_OR_QUOTE_MARK.test(line)) flush();
    paragraph.push(line.replace(LIST_OR_QUOTE_MARK, '').trim());
  }
  flush();
  return sentences;
}
