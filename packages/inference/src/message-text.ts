/**
 * Longest user-supplied value an error message quotes whole. Messages go to the caller, the service log and
 * the job record: a 100,000-character model name echoed in full fills all three for nothing.
 */
export const maxEchoedChars = 200;

/**
 * `value` as a message may quote it: whole up to `max` characters, else its first `max` and an ellipsis
 * (never ending in half of a surrogate pair, which would reach the caller as U+FFFD).
 */
export function echoed(value: string, max = maxEchoedChars): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${value.slice(0, end)}…`;
}

/** The indefinite article for `word` as written: "an" before a vowel ("an image-classifier model"), else "a". */
export function indefiniteArticle(word: string): 'a' | 'an' {
  return /^[^\p{L}\p{N}]*[aeiou]/iu.test(word) ? 'an' : 'a';
}
