/** Calendar-date rules shared by config, tags, the channel, the trust store and the pipeline (pure). */
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
 * The one error for "this is not a date" (code INVALID_DATE, exit 2), wherever a date comes from a
 * flag, an argument or an API value. `what` names it, e.g. `--date` or `signing.trustedKeys "ci": notAfter`.
 */
export function invalidDate(
  value: string,
  what: string,
  expected = 'a calendar date written YYYY-MM-DD',
): AiboxError {
  return new AiboxError({
    code: 'INVALID_DATE',
    message: `invalid date "${value}" (${what}): expected ${expected}`,
    hint: 'For example 2026-02-21',
    details: { value, what },
  });
}

const DAY_MS = 86_400_000;

/**
 * A validity bound from a trust store or policy: `YYYY-MM-DD` or an RFC 3339 date-time. A date-only
 * value covers its whole UTC day, so as a `start` it means 00:00:00.000Z and as an `end` (inclusive,
 * as documented) 23:59:59.999Z of that day. Throws INVALID_DATE.
 */
export function parseDateBound(value: string, bound: 'start' | 'end', what: string): Date {
  if (isCalendarDate(value)) {
    const start = Date.parse(`${value}T00:00:00.000Z`);
    return new Date(bound === 'start' ? start : start + DAY_MS - 1);
  }
  const t = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) throw invalidDate(value, what, 'YYYY-MM-DD or an RFC 3339 timestamp');
  return new Date(t);
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
  throw invalidDate(input, what, 'a calendar date written YYYY-MM-DD (or YYYYMMDD)');
}
