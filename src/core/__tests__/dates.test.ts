import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDateInput } from '../dates.js';
import { AiboxError } from '../errors.js';
import { planRun } from '../../pipeline/plan.js';
import { defaultPlatformConfig } from '../../config/schema.js';

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
    'refuses %j with a USAGE error naming the expected format',
    (s) => {
      let err: unknown;
      try {
        parseDateInput(s);
      } catch (e: unknown) {
        err = e;
      }
      expect(err).toBeInstanceOf(AiboxError);
      expect((err as AiboxError).code).toBe('USAGE');
      expect((err as AiboxError).message).toBe(
        `invalid date "${s}" for --date: expected a calendar date written YYYY-MM-DD (or YYYYMMDD)`,
      );
      expect((err as AiboxError).hint).toMatch(/--date 2026-02-21/);
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
