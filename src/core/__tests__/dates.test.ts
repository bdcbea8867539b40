import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../errors.js';
import { invalidDate, parseDateBound, parseDateInput } from '../dates.js';
import { planRun } from '../../pipeline/plan.js';
import { defaultPlatformConfig } from '../../config/schema.js';

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

describe('parseDateInput (--date)', () => {
  it('accepts both ISO 8601 forms, extended and basic, and returns the extended one', () => {
    expect(parseDateInput('2026-02-21')).toBe('2026-02-21');
    expect(parseDateInput('20260221')).toBe('2026-02-21');
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (d) => {
          const iso = d.toISOString().slice(0, 10);
          expect(parseDateInput(iso)).toBe(iso);
          expect(parseDateInput(iso.replaceAll('-', ''))).toBe(iso);
        },
      ),
    );
  });

  it.each(['2026-02-30', '20260230', '2026-0221', '202602-21', '2026-2-1', '0999-01-01', ' 2026-02-21', ''])(
    'refuses %j with INVALID_DATE naming the expected format',
    (s) => {
      let err: unknown;
      try {
        parseDateInput(s);
      } catch (e: unknown) {
        err = e;
      }
      expect(isAiboxError(err, 'INVALID_DATE')).toBe(true);
      expect((err as Error).message).toBe(
        `invalid date "${s}" (--date): expected a calendar date written YYYY-MM-DD (or YYYYMMDD)`,
      );
    },
  );

  it('the pipeline plan takes the basic form too and tags the same as the extended form', () => {
    const config = defaultPlatformConfig();
    const a = planRun(config, { date: '20260221' });
    const b = planRun(config, { date: '2026-02-21' });
    expect(a.date).toBe('2026-02-21');
    expect(a.variants.map((v) => v.tag)).toEqual(b.variants.map((v) => v.tag));
    expect(a.variants[0]?.tag).toBe('24.04-20260221');
  });
});
