/**
 * JSON integers beyond ±(2⁵³ − 1) do not survive `JSON.parse`: 12345678901234567891 becomes
 * 12345678901234567000, so two distinct ids (tweet ids, 64-bit hashes) can turn into one. Before parsing a
 * line that has such a literal, it is quoted: the value arrives as its exact decimal string.
 */

/** A run of 16 digits: the shortest literal that can exceed 2⁵³ − 1 (9007199254740991). */
const longDigitRun = /\d{16}/;
const integerLiteral = /^-?\d+$/;

/** `JSON.parse` of one JSON text, with integer literals beyond the safe range as exact decimal strings. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(longDigitRun.test(text) ? quoteUnsafeIntegers(text) : text);
}

/** `json` with every integer literal outside strings that a double cannot hold exactly put in quotes. */
export function quoteUnsafeIntegers(json: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      i = afterString(json, i);
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < json.length && isNumberChar(json.charCodeAt(i))) i++;
      const token = json.slice(start, i);
      if (integerLiteral.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${json.slice(copied, start)}"${token}"`;
        copied = i;
      }
    } else {
      i++;
    }
  }
  return copied === 0 ? json : out + json.slice(copied);
}

/** Index just past the string literal that opens at `start` (a `"`), honouring backslash escapes. */
function afterString(json: string, start: number): number {
  let i = start + 1;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
  return i;
}

/** Characters of a JSON number: digits, sign, decimal point, exponent. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}
