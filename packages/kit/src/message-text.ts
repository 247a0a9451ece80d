/** Longest piece of a caller's own input an error message repeats back. */
export const maxEchoChars = 200;

/**
 * `value` as a message may quote it: whole up to `max` characters, else its first `max` and an ellipsis.
 * Messages go to the caller, the service log and job records: a 100,000-character model name echoed in full
 * fills all three for nothing.
 */
export function echoed(value: string, max = maxEchoChars): string {
  return value.length <= max ? value : `${cut(value, max)}…`;
}

/** The indefinite article for `word` as written: "an" before a vowel ("an image-classifier model"), else "a". */
export function indefiniteArticle(word: string): 'a' | 'an' {
  return /^[^\p{L}\p{N}]*[aeiou]/iu.test(word) ? 'an' : 'a';
}

/**
 * Shortens what an error message repeats of the request (a quoted value, or any run of characters without a
 * space) to {@link maxEchoChars} characters and an ellipsis. A message that echoed a 100,000-character model
 * name in full would bury the sentence that says what to do, fill logs and metrics, and, as a gRPC status
 * message (a header), pass the size a client accepts.
 */
export function clipEchoes(message: string): string {
  if (message.length <= maxEchoChars) return message;
  return message.replace(/"(?:[^"\\]|\\.)*"|\S+/g, (piece) => {
    const quoted = piece.length > 1 && piece.startsWith('"') && piece.endsWith('"');
    const inner = quoted ? piece.slice(1, -1) : piece;
    if (inner.length <= maxEchoChars) return piece;
    const clipped = `${cut(inner, maxEchoChars)}…`;
    return quoted ? `"${clipped}"` : clipped;
  });
}

/** The first `n` characters, never ending inside a surrogate pair or on an escaping backslash. */
function cut(text: string, n: number): string {
  let end = n;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  let out = text.slice(0, end);
  while (out.endsWith('\\')) out = out.slice(0, -1);
  return out;
}
