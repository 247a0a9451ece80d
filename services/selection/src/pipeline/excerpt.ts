/** Characters of a user's value that an error message repeats. */
export const excerptChars = 200;

/**
 * `value` as an error message may repeat it: whole when short, else its first {@link excerptChars}
 * characters, an ellipsis and its length, so that no request can make an error (kept in the job record and
 * answered by ListJobs to every client) as large as itself.
 */
export function excerpt(value: string, max = excerptChars): string {
  if (value.length <= max) return value;
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(value.charAt(max - 1)) ? max - 1 : max;
  return `${value.slice(0, end)}… (${value.length} characters)`;
}

/**
 * Characters of a job's error that its record keeps (and ListJobs answers): enough for any message of
 * ours with its excerpts, while a page of 500 jobs stays far below the gRPC message limit.
 */
export const maxJobErrorChars = 2000;
