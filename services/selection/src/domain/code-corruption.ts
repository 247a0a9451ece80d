import { checkOneOf } from './parameter-checks.js';

/**
 * Synthetic code corruption for SCIP (Yang et al. 2023, "Decoding data quality via synthetic corruptions:
 * embedding-guided pruning of code data"). The paper corrupts files in two families — syntax errors and
 * content (logic) errors — embeds them, and observes that corrupted files land in smaller clusters and
 * farther from their centroids; that observation is what justifies SCIP's pruning rule. Here each
 * corruption is one small, deterministic edit at a site chosen with an injected random source.
 *
 * Sites are found with {@link lexCode}, a deliberately small lexer, so that nothing inside a string
 * literal or a comment is ever changed.
 */

/** The two lexical families the lexer knows. Python: `#` comments, `//` is floor division. */
export type CodeLanguage = 'python' | 'c-like';

export const codeLanguages: readonly CodeLanguage[] = ['python', 'c-like'];

export type CodeTokenType = 'identifier' | 'number' | 'string' | 'operator' | 'comment';

/** A token as a half-open character range [start, end) of the source text. */
export interface CodeToken {
  type: CodeTokenType;
  start: number;
  end: number;
}

// Python lines that no C-like language writes: a `def` or `class` header ending in a colon, `from x import`,
// or a compound statement header (`if`, `elif`, `for … in`, `while`) ending in a colon.
const pythonHeader =
  /^[ \t]*(?:(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(.*\)[ \t]*(?:->.*)?:|class[ \t]+\w+[ \t]*(?:\(.*\))?[ \t]*:|from[ \t]+[\w.]+[ \t]+import[ \t]|(?:el)?if[ \t].*:|for[ \t].*[ \t]in[ \t].*:|while[ \t].*:)[ \t]*(?:#.*)?$/;
/** Longer lines are not looked at: headers are short, and the pattern backtracks on long minified lines. */
const maxHeaderLength = 300;

/**
 * A guess at the lexical family of `text`: `python` when some line (of at most 300 characters) looks like a
 * Python block header (`def f(x):`, `class A:`, `from m import x`, `if x:` …), otherwise `c-like`. Callers
 * that know the file's language (from its extension) should pass it instead.
 */
export function guessCodeLanguage(text: string): CodeLanguage {
  for (const line of text.split(/\r?\n/)) {
    if (line.length <= maxHeaderLength && pythonHeader.test(line)) return 'python';
  }
  return 'c-like';
}

// Longest first, so that `>>=` is not read as `>` `>=` and `<=` is not read as `<` `=`.
const operators = [
  '>>>=',
  '<<=',
  '>>=',
  '>>>',
  '**=',
  '//=',
  '...',
  '===',
  '!==',
  '<=>',
  '->',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '<<',
  '>>',
  '**',
  '//',
  '::',
  ':=',
  '?.',
  '??',
  '..',
];

// A number: hex/binary/octal, or decimal with optional fraction and exponent, then any suffix (`10L`, `1.5f`).
// The fraction needs a digit or must not be followed by a second dot, so the range `0..10` lexes as 0 .. 10.
const numberPattern =
  /(?:0[xX][\da-fA-F_]*|0[bB][01_]*|0[oO][0-7_]*|\d[\d_]*(?:\.(?!\.)[\d_]*)?(?:[eE][+-]?\d+)?|\.\d[\d_]*(?:[eE][+-]?\d+)?)[\p{L}\p{N}_]*/uy;
const identifierStart = /[\p{L}_$]/u;
const identifierPart = /[\p{L}\p{N}_$]/u;
// Prefixes that glue onto a following quote: Python r"", b'', f"", rb"" …; C/C++ L"", u8"", U''.
const pythonStringPrefix = /^(?:[rRuUbBfF]|[rR][bBfF]|[bBfF][rR])$/;
const cStringPrefix = /^(?:L|u|U|u8)$/;

/**
 * Splits source text into tokens. The rules, on purpose few:
 * - Comments: Python `#` to end of line; C-like `//` to end of line, `/* … *\/` (to the end of the text
 *   when unterminated), and a preprocessor line starting with `#` (continuation lines are not followed).
 * - Strings: `'` or `"` up to the matching unescaped quote, ending early at a newline when unterminated;
 *   Python `'''` / `"""` and C-like backtick templates may span lines (`${…}` inside a template stays part
 *   of the string). A short prefix (`r`, `b`, `f`, `rb`, `L`, `u8` …) directly before the quote belongs to
 *   the string.
 * - Identifiers: a letter, `_` or `$`, then letters, digits, `_`, `$`.
 * - Numbers: see the pattern above; one token including any suffix.
 * - Operators: the longest match from a fixed list of multi-character operators, else one character.
 * Not handled: JavaScript regular-expression literals, C++ raw strings, Rust lifetimes (`'a` reads as an
 * unterminated character literal up to the end of its line). These only hide a few sites or count a
 * few tokens differently.
 */
export function lexCode(text: string, language: CodeLanguage = guessCodeLanguage(text)): CodeToken[] {
  checkOneOf(language, 'language', codeLanguages);
  const python = language === 'python';
  const tokens: CodeToken[] = [];
  const n = text.length;
  let lineStart = true;
  let i = 0;
  const push = (type: CodeTokenType, end: number) => {
    tokens.push({ type, start: i, end });
    i = end;
  };
  while (i < n) {
    const ch = text[i] as string;
    if (ch === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++;
      continue;
    }
    const atLineStart = lineStart;
    lineStart = false;
    const next = text[i + 1];
    if (python ? ch === '#' : (ch === '/' && next === '/') || (ch === '#' && atLineStart)) {
      push('comment', lineEnd(text, i));
    } else if (!python && ch === '/' && next === '*') {
      const close = text.indexOf('*/', i + 2);
      push('comment', close < 0 ? n : close + 2);
    } else if (ch === '"' || ch === "'" || (!python && ch === '`')) {
      push('string', stringEnd(text, i, python));
    } else if (identifierStart.test(ch)) {
      let end = i + 1;
      while (end < n && identifierPart.test(text[end] as string)) end++;
      const quote = text[end];
      const prefix = text.slice(i, end);
      const isPrefix = python ? pythonStringPrefix.test(prefix) : cStringPrefix.test(prefix);
      if (isPrefix && (quote === '"' || quote === "'")) push('string', stringEnd(text, end, python));
      else push('identifier', end);
    } else if ((ch >= '0' && ch <= '9') || (ch === '.' && next !== undefined && next >= '0' && next <= '9')) {
      numberPattern.lastIndex = i;
      numberPattern.exec(text);
      push('number', numberPattern.lastIndex);
    } else {
      const op = operators.find((o) => text.startsWith(o, i));
      push('operator', i + (op === undefined ? 1 : op.length));
    }
  }
  return tokens;
}

function lineEnd(text: string, from: number): number {
  const end = text.indexOf('\n', from);
  return end < 0 ? text.length : end;
}

/** End (exclusive) of the string literal whose opening quote is at `open`. */
function stringEnd(text: string, open: number, python: boolean): number {
  const quote = text[open] as string;
  const triple = python && text.startsWith(quote.repeat(3), open);
  const multiline = triple || quote === '`';
  let i = open + (triple ? 3 : 1);
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '\n' && !multiline) return i;
    else if (triple ? text.startsWith(quote.repeat(3), i) : ch === quote) return i + (triple ? 3 : 1);
    else i++;
  }
  return text.length;
}

/**
 * The four corruptions of SCIP. Syntax: `remove-closing-bracket`, `rename-variable-use`. Content (the code
 * still parses but computes something else): `flip-comparison`, `off-by-one`.
 */
export type CodeCorruptionKind = 'remove-closing-bracket' | 'rename-variable-use' | 'flip-comparison' | 'off-by-one';

export const corruptionKinds: readonly CodeCorruptionKind[] = [
  'remove-closing-bracket',
  'rename-variable-use',
  'flip-comparison',
  'off-by-one',
];

export interface CodeCorruption {
  /** The corrupted source. */
  text: string;
  kind: CodeCorruptionKind;
  /** Character offset of the edit in the original text. */
  position: number;
  /** What changed and where (1-based line), for reports. */
  description: string;
}

export interface CodeCorruptionOptions {
  /** Lexical family; default {@link guessCodeLanguage}. */
  language?: CodeLanguage;
}

/** Each comparison and its flip as SCIP's content corruption makes it: == / !=, < / > (and <= / >=). */
const flippedComparison: Readonly<Record<string, string>> = {
  '==': '!=',
  '!=': '==',
  '===': '!==',
  '!==': '===',
  '<': '>',
  '>': '<',
  '<=': '>=',
  '>=': '<=',
};

const pythonKeywords = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);
// A union over C, C++, Java, C#, JavaScript/TypeScript, Go and Rust; types like `int` count as keywords.
const cLikeKeywords = new Set(
  'abstract as async auto await bool boolean break byte case catch char class const continue default defer delete do double else enum export extends extern false final finally float fn for func function go goto if impl implements import in instanceof int interface let long match mod mut namespace new nil null override package private protected pub public register return self short signed sizeof static struct super switch this throw throws true try type typedef typeof undefined union unsigned use using var virtual void volatile where while yield'.split(
    ' ',
  ),
);
/** Operators after which an identifier is a member name, not a variable. */
const memberAccess = new Set(['.', '->', '?.', '::']);

/**
 * Where `kind` could be applied: the tokens that would be edited, in text order.
 * - `remove-closing-bracket`: every `)`, `]`, `}`.
 * - `rename-variable-use`: every occurrence but the first of each identifier that occurs at least twice
 *   outside strings and comments. The first occurrence is taken as the definition (an assignment, a
 *   parameter, an import), so renaming a later one leaves a use of a name that is defined nowhere.
 *   Keywords and member names (after `.`, `->`, `?.`, `::`) are neither counted nor renamed.
 * - `flip-comparison`: every `==`, `!=`, `===`, `!==`, `<=`, `>=`, and `<` / `>` — in C-like code only
 *   with whitespace on both sides, since `List<int>` and `#include <x>` are not comparisons.
 * - `off-by-one`: every plain decimal integer literal (`0`, `10`; not `0x1F`, `1.5`, `10L`, `007`).
 */
export function corruptionSites(
  text: string,
  kind: CodeCorruptionKind,
  options: CodeCorruptionOptions = {},
): CodeToken[] {
  checkOneOf(kind, 'kind', corruptionKinds);
  const language = options.language ?? guessCodeLanguage(text);
  const tokens = lexCode(text, language);
  const tokenText = (t: CodeToken) => text.slice(t.start, t.end);
  switch (kind) {
    case 'remove-closing-bracket':
      return tokens.filter((t) => t.type === 'operator' && /^[)\]}]$/.test(tokenText(t)));
    case 'flip-comparison':
      return tokens.filter((t) => {
        const op = tokenText(t);
        if (t.type !== 'operator' || flippedComparison[op] === undefined) return false;
        if (language === 'python' || (op !== '<' && op !== '>')) return true;
        return /\s/.test(text[t.start - 1] ?? '') && /\s/.test(text[t.end] ?? '');
      });
    case 'off-by-one':
      return tokens.filter((t) => t.type === 'number' && /^(?:0|[1-9]\d*)$/.test(tokenText(t)));
    case 'rename-variable-use': {
      const keywords = language === 'python' ? pythonKeywords : cLikeKeywords;
      const byName = new Map<string, CodeToken[]>();
      let previous: CodeToken | undefined;
      for (const t of tokens) {
        if (t.type === 'comment') continue;
        const afterMember = previous?.type === 'operator' && memberAccess.has(tokenText(previous));
        previous = t;
        const name = tokenText(t);
        if (t.type !== 'identifier' || afterMember || keywords.has(name)) continue;
        const list = byName.get(name);
        if (list === undefined) byName.set(name, [t]);
        else list.push(t);
      }
      const sites: CodeToken[] = [];
      for (const list of byName.values()) sites.push(...list.slice(1));
      return sites.sort((a, b) => a.start - b.start);
    }
  }
}

/**
 * Applies one corruption of `kind` to `text`, or returns undefined when the text has no site for it.
 * Deterministic given `random` (e.g. `seededRandom(seed)`): the site is the ⌊random() · sites⌋-th of
 * {@link corruptionSites}; `off-by-one` draws once more for the direction (below 0.5: n + 1, else n − 1;
 * 0 always becomes 1 so no `-1` is glued onto an operator). A renamed use becomes `<name>1`, or `<name>2`
 * … — the first such name that occurs nowhere in the file, so it is certainly undefined.
 */
export function corruptCode(
  text: string,
  kind: CodeCorruptionKind,
  random: () => number,
  options: CodeCorruptionOptions = {},
): CodeCorruption | undefined {
  const language = options.language ?? guessCodeLanguage(text);
  const sites = corruptionSites(text, kind, { language });
  if (sites.length === 0) return undefined;
  const site = sites[Math.min(sites.length - 1, Math.floor(random() * sites.length))] as CodeToken;
  const original = text.slice(site.start, site.end);
  const line = lineOf(text, site.start);
  let replacement: string;
  let description: string;
  switch (kind) {
    case 'remove-closing-bracket':
      replacement = '';
      description = `removed '${original}' on line ${line}`;
      break;
    case 'flip-comparison':
      replacement = flippedComparison[original] as string;
      description = `flipped '${original}' to '${replacement}' on line ${line}`;
      break;
    case 'off-by-one': {
      // BigInt: a literal beyond 2^53 would otherwise move by more than one.
      const value = BigInt(original);
      const up = random() < 0.5 || value === 0n;
      replacement = String(up ? value + 1n : value - 1n);
      description = `changed ${original} to ${replacement} on line ${line}`;
      break;
    }
    case 'rename-variable-use': {
      replacement = undefinedName(text, original, language);
      description = `renamed a use of '${original}' to the undefined '${replacement}' on line ${line}`;
      break;
    }
  }
  return {
    text: text.slice(0, site.start) + replacement + text.slice(site.end),
    kind,
    position: site.start,
    description,
  };
}

/**
 * One corruption of a kind drawn uniformly among the kinds that have a site in `text` (one draw), then as
 * {@link corruptCode}; undefined when no kind applies.
 */
export function corruptCodeAnyKind(
  text: string,
  random: () => number,
  options: CodeCorruptionOptions = {},
): CodeCorruption | undefined {
  const language = options.language ?? guessCodeLanguage(text);
  const applicable = corruptionKinds.filter((k) => corruptionSites(text, k, { language }).length > 0);
  if (applicable.length === 0) return undefined;
  const kind = applicable[Math.min(applicable.length - 1, Math.floor(random() * applicable.length))];
  return corruptCode(text, kind as CodeCorruptionKind, random, { language });
}

function lineOf(text: string, position: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < position; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function undefinedName(text: string, name: string, language: CodeLanguage): string {
  const used = new Set(
    lexCode(text, language)
      .filter((t) => t.type === 'identifier')
      .map((t) => text.slice(t.start, t.end)),
  );
  let suffix = 1;
  while (used.has(`${name}${suffix}`)) suffix++;
  return `${name}${suffix}`;
}
