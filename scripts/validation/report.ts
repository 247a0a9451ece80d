/** Markdown output of the selection validation: everything goes to stdout, which the doc quotes unchanged. */

/** Writes one line of the report. */
export const out = (s = '') => process.stdout.write(`${s}\n`);

/** Seconds since `t0` (a `performance.now()` reading), as "12.3 s". */
export const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/** A share as a percentage with one decimal; "n/a" for 0/0 and the like. */
export const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Three decimals; "n/a" when not finite. */
export const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

/** A Markdown table followed by a blank line. */
export function table(head: string[], rows: (string | number)[][]): void {
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) out(`| ${r.join(' | ')} |`);
  out();
}
