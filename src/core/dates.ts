/** Calendar-date rules shared by config, tags, the channel and the pipeline (pure). */
import { AiboxError } from './errors.js';

/** True for a real day of the proleptic Gregorian calendar (rejects 2026-02-30). */
export function isCalendarDay(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** True when `s` is a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m !== null && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * A date a person or a CI job typed (`--date`): an ISO 8601 complete calendar date in either of its
 * two forms, extended `YYYY-MM-DD` or basic `YYYYMMDD` (the form the date tags use), normalised to
 * `YYYY-MM-DD`. Mixed forms (`2026-0221`) and impossible days (`2026-02-30`) are refused with an
 * error that names the expected format. Files (config, channel) keep the one extended form.
 */
export function parseDateInput(input: string, what = '--date'): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(input) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(input);
  if (m && Number(m[1]) >= 1000 && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]))) {
    return `${m[1]}-${m[2]}-${m[3]}`;
  }
  throw new AiboxError({
    code: 'USAGE',
    message: `invalid date "${input}" for ${what}: expected a calendar date written YYYY-MM-DD (or YYYYMMDD)`,
    hint: `For example: ${what} 2026-02-21 (in a shell: date -u +%F)`,
    details: { date: input, expected: 'YYYY-MM-DD' },
  });
}
