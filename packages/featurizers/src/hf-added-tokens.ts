/**
 * The `added_tokens` of a `tokenizer.json` (e.g. `[MASK]` typed in the text), which are cut out of the text
 * before the other stages see it, and the matcher that finds them.
 */
import { ENDS_WITH_WORD, isWhitespace, STARTS_WITH_WORD } from './hf-character-classes.js';

/** One entry of `added_tokens`; its content is already normalized when the entry asks for that. */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}

/** Finds added tokens leftmost-longest, honouring single_word/lstrip/rstrip as `tokenizers` does. */
export class AddedTokenMatcher {
  private readonly byFirstChar = new Map<string, AddedToken[]>();

  constructor(tokens: readonly AddedToken[]) {
    for (const t of tokens) {
      if (t.content === '') continue;
      const list = this.byFirstChar.get(t.content[0]!) ?? [];
      list.push(t);
      this.byFirstChar.set(t.content[0]!, list);
    }
    for (const list of this.byFirstChar.values()) list.sort((a, b) => b.content.length - a.content.length);
  }

  get empty(): boolean {
    return this.byFirstChar.size === 0;
  }

  /** Text between matches (id undefined) and the matched added tokens, in order. */
  split(text: string): { text: string; id?: number }[] {
    const out: { text: string; id?: number }[] = [];
    let done = 0;
    for (let i = 0; i < text.length; i++) {
      const match = this.byFirstChar.get(text[i]!)?.find((t) => text.startsWith(t.content, i) && this.fits(t, text, i));
      if (!match) continue;
      let start = i;
      let stop = i + match.content.length;
      if (match.lstrip) while (start > done && isWhitespace(text[start - 1]!)) start--;
      if (match.rstrip) while (stop < text.length && isWhitespace(text[stop]!)) stop++;
      if (start > done) out.push({ text: text.slice(done, start) });
      out.push({ text: match.content, id: match.id });
      done = stop;
      i = stop - 1;
    }
    if (done < text.length || out.length === 0) out.push({ text: text.slice(done) });
    return out;
  }

  private fits(t: AddedToken, text: string, at: number): boolean {
    if (!t.singleWord) return true;
    const end = at + t.content.length;
    return !ENDS_WITH_WORD.test(text.slice(0, at)) && !STARTS_WITH_WORD.test(text.slice(end));
  }
}
