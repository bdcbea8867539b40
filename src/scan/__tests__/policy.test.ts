import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import {
  cvssBand,
  evaluateScan,
  isIgnoreActive,
  maxCvss,
  preferredCvss,
  scanRefusal,
  validateScanPolicy,
  type IgnoreEntry,
} from '../policy.js';
import { SEVERITIES, type Finding, type ScanReport, type Severity } from '../report.js';

function finding(id: string, severity: Severity, cvss: Finding['cvss'] = {}): Finding {
  return { id, pkg: `pkg-${id}`, installedVersion: '1.0', severity, cvss };
}

function report(findings: Finding[]): ScanReport {
  const summary = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
  for (const f of findings) summary[f.severity] += 1;
  return { scanner: 'trivy', image: 'x', summary, findings };
}

const NOW = new Date('2026-02-22T02:00:00Z');
const entry = (id: string, expires = '2026-06-30', reason = 'not reachable: no listener'): IgnoreEntry => ({
  id,
  reason,
  expires,
});

describe('evaluateScan', () => {
  describe('when a CRITICAL finding is present', () => {
    const r = report([finding('CVE-1', 'CRITICAL'), finding('CVE-2', 'HIGH'), finding('CVE-3', 'LOW')]);

    it('fails on CRITICAL by the default policy and lists only it as blocking', () => {
      const e = evaluateScan(r, { failOn: ['CRITICAL'], ignore: [] }, NOW);
      expect(e.passed).toBe(false);
      expect(e.blocking.map((f) => f.id)).toEqual(['CVE-1']);
      expect(e.summary).toEqual({
        total: 3,
        bySeverity: { CRITICAL: 1, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 0 },
        blocking: 1,
        ignored: 0,
      });
    });

    it('passes when a live ignore entry covers it, and says why', () => {
      const e = evaluateScan(r, { failOn: ['CRITICAL'], ignore: [entry('cve-1')] }, NOW);
      expect(e.passed).toBe(true);
      expect(e.ignored).toEqual([{ finding: r.findings[0], entry: entry('cve-1') }]);
    });

    it('fails again once the entry has expired, and reports the expired entry', () => {
      const e = evaluateScan(r, { failOn: ['CRITICAL'], ignore: [entry('CVE-1', '2026-02-21')] }, NOW);
      expect(e.passed).toBe(false);
      expect(e.ignored).toEqual([]);
      expect(e.expiredIgnores).toEqual([entry('CVE-1', '2026-02-21')]);
    });

    it('fails on HIGH too when failOn says so (case-insensitive)', () => {
      const e = evaluateScan(r, { failOn: ['critical', 'HIGH'], ignore: [] }, NOW);
      expect(e.blocking.map((f) => f.id)).toEqual(['CVE-1', 'CVE-2']);
      expect(e.failOn).toEqual(['CRITICAL', 'HIGH']);
    });
  });

  it('passes a clean report', () => {
    expect(evaluateScan(report([]), { failOn: ['CRITICAL'], ignore: [] }, NOW).passed).toBe(true);
  });

  describe('ignore entry expiry', () => {
    it('applies through the end of the expiry day (UTC)', () => {
      expect(isIgnoreActive(entry('x', '2026-02-22'), new Date('2026-02-22T23:59:59.999Z'))).toBe(true);
      expect(isIgnoreActive(entry('x', '2026-02-22'), new Date('2026-02-23T00:00:00Z'))).toBe(false);
    });
  });

  describe('when the policy is invalid', () => {
    it.each([
      [{ failOn: ['SEVERE'], ignore: [] }, /scan\.failOn\[0\] "SEVERE" is not a severity/],
      [
        { failOn: ['CRITICAL'], ignore: [entry('CVE-1', '2026-06-30', '  ')] },
        /scan\.ignore\[0\]\.reason is required \(CVE-1\)/,
      ],
      [
        { failOn: ['CRITICAL'], ignore: [entry('CVE-1', '2026-02-30')] },
        /scan\.ignore\[0\]\.expires "2026-02-30" must be a calendar date/,
      ],
      [
        { failOn: ['CRITICAL'], ignore: [entry('CVE-1', 'next year')] },
        /scan\.ignore\[0\]\.expires "next year"/,
      ],
      [
        { failOn: ['CRITICAL'], ignore: [entry('CVE 1')] },
        /scan\.ignore\[0\]\.id must be a vulnerability id/,
      ],
    ])('throws CONFIG_INVALID naming the key (%#)', (policy, rule) => {
      let err: unknown;
      try {
        evaluateScan(report([]), policy, NOW);
      } catch (e: unknown) {
        err = e;
      }
      expect(err).toBeInstanceOf(AiboxError);
      expect((err as AiboxError).code).toBe('CONFIG_INVALID');
      expect((err as AiboxError).message).toMatch(rule);
      expect((err as AiboxError).hint).toBeTruthy();
    });
  });

  describe('property', () => {
    const sev = fc.constantFrom(...SEVERITIES);
    const findings = fc.uniqueArray(
      fc.record({ id: fc.constantFrom('CVE-1', 'CVE-2', 'CVE-3', 'CVE-4', 'CVE-5'), severity: sev }),
      {
        selector: (f) => f.id,
        maxLength: 5,
      },
    );
    const ignores = fc.array(
      fc.record({
        id: fc.constantFrom('CVE-1', 'CVE-2', 'CVE-9'),
        expires: fc.constantFrom('2026-01-01', '2026-02-22', '2027-01-01'),
        reason: fc.constant('ok'),
      }),
      { maxLength: 4 },
    );
    it('blocking = findings at failOn severities not covered by a live entry; passed iff none', () => {
      fc.assert(
        fc.property(findings, fc.subarray([...SEVERITIES]), ignores, (fs, failOn, ig) => {
          const r = report(fs.map((f) => finding(f.id, f.severity)));
          const e = evaluateScan(r, { failOn, ignore: ig }, NOW);
          const live = new Set<string>(ig.filter((i) => i.expires !== '2026-01-01').map((i) => i.id));
          const expected = r.findings.filter((f) => failOn.includes(f.severity) && !live.has(f.id));
          expect(e.blocking).toEqual(expected);
          expect(e.passed).toBe(expected.length === 0);
          expect(e.expiredIgnores.every((x) => x.expires === '2026-01-01')).toBe(true);
          // adding ignore entries never adds blocking findings
          const without = evaluateScan(r, { failOn, ignore: [] }, NOW);
          expect(e.blocking.length).toBeLessThanOrEqual(without.blocking.length);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('scanRefusal', () => {
  it('is undefined when passed and a POLICY_REFUSED error naming the image and ids otherwise', () => {
    const pass = evaluateScan(report([]), { failOn: ['CRITICAL'], ignore: [] }, NOW);
    expect(scanRefusal(pass, 'img')).toBeUndefined();
    const fail = evaluateScan(
      report([finding('CVE-1', 'CRITICAL')]),
      { failOn: ['CRITICAL'], ignore: [] },
      NOW,
    );
    const e = scanRefusal(fail, 'host/aibox/base@sha256:x')!;
    expect(e.code).toBe('POLICY_REFUSED');
    expect(e.message).toBe('scan gate refused host/aibox/base@sha256:x: 1 finding(s) at CRITICAL (CVE-1)');
  });
});

describe('validateScanPolicy', () => {
  it('normalises and deduplicates failOn', () => {
    expect(validateScanPolicy({ failOn: ['high', 'HIGH', 'Critical'], ignore: [] }).failOn).toEqual([
      'HIGH',
      'CRITICAL',
    ]);
  });
});

describe('CVSS helpers', () => {
  it('prefers NVD, else the highest v3 of any source', () => {
    expect(preferredCvss({ cvss: { nvd: { v3Score: 7.8 }, redhat: { v3Score: 9.1 } } })).toBe(7.8);
    expect(preferredCvss({ cvss: { redhat: { v3Score: 5.6 }, ghsa: { v3Score: 8.1 } } })).toBe(8.1);
    expect(maxCvss({ cvss: { nvd: { v3Score: 7.8 }, redhat: { v3Score: 9.1 } } })).toBe(9.1);
    expect(maxCvss({ cvss: { nvd: { v2Score: 7.2 } } })).toBe(7.2);
    expect(maxCvss({ cvss: {} })).toBeUndefined();
  });
  it('bands scores as runbook §2 does', () => {
    expect([undefined, 0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(cvssBand)).toEqual([
      'None',
      'None',
      'Low',
      'Low',
      'Medium',
      'Medium',
      'High',
      'High',
      'Critical',
      'Critical',
    ]);
  });
});
