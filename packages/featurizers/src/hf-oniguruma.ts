/**
 * The `Regex` patterns of a `tokenizer.json` (the Split pre-tokenizer of Llama 3, Qwen2 and others) are
 * written for Oniguruma, which the Rust `tokenizers` compiles them with (Ruby syntax, UTF-8). JavaScript's
 * RegExp (Node 20, `u` flag) reads most of that syntax the same way; this translates the parts it does not:
 *
 * - `\s` `\S` `\d` `\D` `\w` are Unicode classes in Oniguruma and ASCII-leaning ones in JavaScript:
 *   spelled as White_Space, Nd and Rust-style word classes (as `hf-character-classes.ts` does);
 * - `(?i:...)` (case-insensitive group, e.g. Llama 3's contractions) is not in Node 20: each letter inside
 *   becomes a class of its cases (`'re` -> `'[rR][eE]`; Oniguruma's wider case folding, such as the long s
 *   U+017F for `s`, is not followed);
 * - `\p{Han}` (a script) becomes `\p{Script=Han}`; `\x{HH}` becomes `\u{HH}`;
 * - `^` and `$` match at line boundaries in Ruby syntax: the `m` flag.
 *
 * Constructs with no JavaScript equivalent (atomic groups, possessive quantifiers, `\A` `\z` `\h` `\R` `\K`,
 * other inline options) are refused with an {@link HfTokenizerError} naming them, never approximated.
 */
import { HfTokenizerError } from './hf-tokenizer-json.js';

const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';

/** Escapes whose meaning differs, as [outside a class, inside a class]. */
const CLASS_ESCAPES: Record<string, readonly [string, string] | undefined> = {
  s: ['\\p{White_Space}', '\\p{White_Space}'],
  S: ['\\P{White_Space}', '\\P{White_Space}'],
  d: ['\\p{Nd}', '\\p{Nd}'],
  D: ['\\P{Nd}', '\\P{Nd}'],
  w: [`[${WORD}]`, WORD],
};
/** Escapes that mean the same character or assertion in both dialects. */
const SAME_ESCAPES = new Set([...'rntfvb0\\/^$.*+?()[]{}|-\'"#&~ ,:;<=>!@%`']);

function refuse(pattern: string, what: string): never {
  throw new HfTokenizerError(
    'unsupported',
    `pre_tokenizer Split: the pattern ${JSON.stringify(pattern)} uses ${what}, which is not supported`,
  );
}

/** Both cases of a letter as a class body (`rR`), or the escaped character when it has one case. */
function cases(ch: string, inClass: boolean): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  if (lower === upper || [...lower].length !== 1 || [...upper].length !== 1) return ch;
  return inClass ? `${lower}${upper}` : `[${lower}${upper}]`;
}

/** The pattern as a JavaScript RegExp with the `gmu` flags. @throws HfTokenizerError */
export function oniguramaToRegExp(pattern: string): RegExp {
  let out = '';
  let inClass = 0;
  // One entry per open group: whether it is case-insensitive (inherited by nested groups).
  const groups: boolean[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const ignoreCase = groups.at(-1) ?? false;
    if (ch === '\\') {
      const next = chars[++i];
      if (next === undefined) refuse(pattern, 'a trailing backslash');
      const translated = CLASS_ESCAPES[next];
      if (translated) {
        if (next === 'w' && inClass === 0) out += translated[0];
        else out += translated[inClass > 0 ? 1 : 0];
      } else if (next === 'p' || next === 'P') {
        const close = chars.indexOf('}', i);
        if (chars[i + 1] !== '{' || close < 0) refuse(pattern, `\\${next} without a {name}`);
        const name = chars.slice(i + 2, close).join('');
        let property = name;
        try {
          new RegExp(`\\p{${name}}`, 'u');
        } catch {
          property = `Script=${name}`;
          try {
            new RegExp(`\\p{${property}}`, 'u');
          } catch {
            refuse(pattern, `the Unicode property ${name}`);
          }
        }
        out += `\\${next}{${property}}`;
        i = close;
      } else if (next === 'x' && chars[i + 1] === '{') {
        const close = chars.indexOf('}', i);
        out += `\\u{${chars.slice(i + 2, close).join('')}}`;
        i = close;
      } else if (next === 'u' || next === 'x') {
        out += `\\${next}`;
      } else if (SAME_ESCAPES.has(next)) {
        out += `\\${next}`;
      } else {
        refuse(pattern, `the escape \\${next}`);
      }
      continue;
    }
    if (inClass > 0) {
      if (ch === '[') refuse(pattern, 'a nested character class');
      if (ch === ']') inClass--;
      out += ignoreCase && /\p{L}/u.test(ch) ? cases(ch, true) : ch;
      continue;
    }
    switch (ch) {
      case '[':
        inClass++;
        out += ch;
        if (chars[i + 1] === '^') out += chars[++i];
        // A `]` first in a class is a literal in Oniguruma.
        if (chars[i + 1] === ']') {
          out += '\\]';
          i++;
        }
        continue;
      case '(': {
        if (chars[i + 1] !== '?') {
          groups.push(ignoreCase);
          out += ch;
          continue;
        }
        const rest = chars.slice(i + 2, i + 5).join('');
        if (rest.startsWith('i:')) {
          groups.push(true);
          out += '(?:';
          i += 3;
        } else if (rest.startsWith(':') || rest.startsWith('=') || rest.startsWith('!') || /^<[=!]/.test(rest)) {
          groups.push(ignoreCase);
          out += '(?';
          i += 1;
        } else if (rest.startsWith('<')) {
          groups.push(ignoreCase);
          out += '(?';
          i += 1;
        } else {
          refuse(pattern, `the group (?${rest}…`);
        }
        continue;
      }
      case ')':
        groups.pop();
        out += ch;
        continue;
      case '*':
      case '+':
      case '?':
      case '}':
        if (chars[i + 1] === '+') refuse(pattern, 'a possessive quantifier');
        out += ch;
        continue;
      default:
        out += ignoreCase && /\p{L}/u.test(ch) ? cases(ch, false) : ch;
    }
  }
  try {
    return new RegExp(out, 'gmu');
  } catch (err) {
    throw new HfTokenizerError(
      'invalid',
      `pre_tokenizer Split: the pattern ${JSON.stringify(pattern)} does not compile (${(err as Error).message})`,
    );
  }
}
