/** `cve rebuild` input rules (pure): every bad value is a USAGE error naming it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import { parseCveId, parseCvss, parseEmergencyInput } from '../request.js';

const V = ['base', 'java'];

describe('parseEmergencyInput', () => {
  it('normalises CVE ids, de-duplicates, keeps the order', () => {
    expect(
      parseEmergencyInput(
        { cves: ['cve-2026-12345', 'CVE-2026-12345', 'CVE-2025-0001'], packages: [], variants: [] },
        V,
      ),
    ).toEqual({ cves: ['CVE-2026-12345', 'CVE-2025-0001'], cvss: undefined, packages: [], variants: [] });
  });

  it.each([['0'], ['0.0'], ['7'], ['9.8'], ['10'], ['10.0']])('accepts CVSS %s', (s) => {
    expect(parseCvss(s)).toBe(Number(s));
  });

  it.each([['10.1'], ['-0.1'], ['11'], ['nine'], [''], ['9,8'], ['1e1'], ['0x5'], ['NaN'], ['Infinity']])(
    'refuses CVSS "%s", naming it',
    (s) => {
      let err: unknown;
      try {
        parseCvss(s);
      } catch (e: unknown) {
        err = e;
      }
      expect(isAiboxError(err, 'USAGE')).toBe(true);
      expect((err as Error).message).toContain(`"${s}"`);
    },
  );

  it.each([['CVE-2026-123'], ['CVE-26-12345'], ['GHSA-xxxx'], [''], ['CVE-2026-12345 ; rm -rf']])(
    'refuses CVE id "%s"',
    (s) => {
      expect(() => parseCveId(s)).toThrow(/invalid --cve/);
    },
  );

  it('untrusted text: either a well-formed value or a USAGE error, never anything else', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const f of [parseCvss, parseCveId]) {
          try {
            const v = f(s);
            if (typeof v === 'number') expect(v >= 0 && v <= 10).toBe(true);
            else expect(v).toMatch(/^CVE-\d{4}-\d{4,19}$/);
          } catch (e: unknown) {
            expect(isAiboxError(e, 'USAGE')).toBe(true);
          }
        }
      }),
    );
  });

  it('no --cve, an unknown variant: refused', () => {
    expect(() => parseEmergencyInput({ cves: [], packages: [], variants: [] }, V)).toThrow(
      /at least one --cve/,
    );
    expect(() =>
      parseEmergencyInput({ cves: ['CVE-2026-12345'], packages: [], variants: ['rust'] }, V),
    ).toThrow(/unknown variant "rust" \(allowed: base, java\)/);
  });
});
