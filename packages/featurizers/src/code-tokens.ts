/**
 * A language-agnostic lexer for source code: identifiers, numbers, and operators/punctuation. It knows no
 * grammar (comments and string contents are lexed like code, which keeps their words as identifiers: they
 * carry much of what a file is about), so the same rules serve JavaScript, TypeScript, Python, Go, C, ...
 */

/** What a code token is. */
export type CodeTokenKind = 'identifier' | 'number' | 'operator';

/**
 * Alternatives tried in order at each non-space position:
 * 1. identifier: a letter, `_` or `$`, then letters, marks, digits, `_` or `$`;
 * 2. number: hex/octal/binary literal, or decimal with optional fraction, exponent and suffix letters
 *    (`0x1F`, `1_000`, `3.14e-2`, `10n`, `2.0f`);
 * 3. operator: the longest of the common multi-character operators of C-family languages and Python;
 * 4. any other single non-space character (brackets, quotes, `#`, `@`, ...).
 */
const CODE_TOKEN =
  /([\p{L}_$][\p{L}\p{M}\p{N}_$]*)|(0[xXoObB][0-9a-fA-F_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?[a-zA-Z]*)|(>>>=|\*\*=|\/\/=|<<=|>>=|>>>|===|!==|\.\.\.|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.|\+\+|--|\+=|-=|\*=|\/=|%=|&=|\|=|\^=|\*\*|->|::|<<|>>|\/\/|:=|\S)/gu;

/**
 * Calls `visit` for each token of `source` in order. Allocation-free apart from the token strings, so counting
 * the tokens of a large file costs little.
 */
export function forEachCodeToken(source: string, visit: (kind: CodeTokenKind, text: string) => void): void {
  CODE_TOKEN.lastIndex = 0;
  for (let m = CODE_TOKEN.exec(source); m !== null; m = CODE_TOKEN.exec(source)) {
    const kind: CodeTokenKind = m[1] !== undefined ? 'identifier' : m[2] !== undefined ? 'number' : 'operator';
    visit(kind, m[0]);
  }
  CODE_TOKEN.lastIndex = 0;
}

/** Tokens of `source` as `{ kind, text }` pairs (convenient for tests and tools; the featurizer streams). */
export function codeTokens(source: string): { kind: CodeTokenKind; text: string }[] {
  const tokens: { kind: CodeTokenKind; text: string }[] = [];
  forEachCodeToken(source, (kind, text) => {
    tokens.push({ kind, text });
  });
  return tokens;
}

/**
 * Upper-case run not followed by lower case (`HTTP` in `HTTPServer`), capitalised or lower-case word,
 * digit run, or a run of other letters (scripts without case). A combining mark stays with the letter
 * before it (`ё` written as `е` + U+0308 is one letter, not a boundary).
 */
const SUBWORD = /(?:\p{Lu}\p{M}*)+(?!\p{Ll})|(?:\p{Lu}\p{M}*)?(?:\p{Ll}\p{M}*)+|\p{N}+|[\p{L}\p{M}]+/gu;

/**
 * Splits an identifier into lower-case sub-words at `_`/`$`, camelCase and letter/digit boundaries:
 * `parseHTTPResponse_v2` -> `parse http response v 2`. The identifier is NFC-normalised first, so the
 * composed and decomposed spellings of `café` give the same sub-words (and the same features).
 */
export function identifierSubwords(identifier: string): string[] {
  const out: string[] = [];
  for (const m of identifier.normalize('NFC').matchAll(SUBWORD)) out.push(m[0].toLowerCase());
  return out;
}
