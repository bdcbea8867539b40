import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../errors.js';
import { invalidDate, parseDateBound } from '../dates.js';

describe('parseDateBound', () => {
  describe('when the value is a date only', () => {
    it('starts at 00:00:00.000Z of that day as a start bound', () => {
      expect(parseDateBound('2026-03-31', 'start', 'notBefore').toISOString()).toBe(
        '2026-03-31T00:00:00.000Z',
      );
    });
    it('ends at 23:59:59.999Z of that day as an (inclusive) end bound', () => {
      expect(parseDateBound('2026-03-31', 'end', 'notAfter').toISOString()).toBe('2026-03-31T23:59:59.999Z');
    });
  });
  it('takes an RFC 3339 date-time as the exact instant, whatever the bound', () => {
    for (const b of ['start', 'end'] as const)
      expect(parseDateBound('2026-03-31T12:00:00+02:00', b, 'x').toISOString()).toBe(
        '2026-03-31T10:00:00.000Z',
      );
  });
  it.each(['2026-02-30', '20260331', 'tomorrow', '', '2026-03-31 12:00'])(
    'throws INVALID_DATE for %j, naming the field',
    (v) => {
      let caught: unknown;
      try {
        parseDateBound(v, 'end', 'signing.trustedKeys "ci": notAfter');
      } catch (e: unknown) {
        caught = e;
      }
      expect(isAiboxError(caught, 'INVALID_DATE')).toBe(true);
      expect((caught as Error).message).toContain('signing.trustedKeys "ci": notAfter');
    },
  );
});

describe('invalidDate', () => {
  it('is the one INVALID_DATE error, with the value and what it was', () => {
    const e = invalidDate('2026-13-01', '--date');
    expect(e.code).toBe('INVALID_DATE');
    expect(e.message).toBe('invalid date "2026-13-01" (--date): expected a calendar date written YYYY-MM-DD');
    expect(e.details).toEqual({ value: '2026-13-01', what: '--date' });
  });
});
