import { describe, expect, it } from 'vitest';
import { parseTrivyReport } from '../../scan/report.js';
import { renderTriage } from '../render.js';
import {
  businessDeadline,
  nextWeeklyRun,
  triage,
  vulnIdProblem,
  type BusinessHours,
  type TriagePolicy,
  type TriageRow,
} from '../triage.js';
import { trivyReport, type Vuln } from './trivy-fixture.js';

const UTC_HOURS: BusinessHours = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '09:00',
  end: '17:00',
  timeZone: 'UTC',
};
const POLICY: TriagePolicy = { mandatoryMinCvss: 7.0, businessHours: UTC_HOURS };
// 2026-02-18 is a Wednesday; the next weekly run is Sunday 2026-02-22 02:00 UTC.
const NOW = new Date('2026-02-18T10:00:00Z');

function rows(
  reports: readonly { variant: string; vulns: Vuln[] }[],
  opts: { policy?: TriagePolicy; now?: Date; firstSeen?: Record<string, string> } = {},
): TriageRow[] {
  return triage({
    reports: reports.map((r) => ({
      report: parseTrivyReport(trivyReport(`aibox/${r.variant}`, r.vulns), `${r.variant}.json`),
      variant: r.variant,
      source: `${r.variant}.json`,
    })),
    policy: opts.policy ?? POLICY,
    now: opts.now ?? NOW,
    ...(opts.firstSeen ? { firstSeen: opts.firstSeen } : {}),
  });
}

function one(v: Vuln, opts: Parameters<typeof rows>[1] = {}): TriageRow {
  const r = rows([{ variant: 'base', vulns: [v] }], opts);
  expect(r).toHaveLength(1);
  return r[0]!;
}

describe('triage', () => {
  describe('when scores sit on the band boundaries (runbook §2 table)', () => {
    it.each([
      [10.0, 'Critical', '2026-02-18T14:00:00Z', true],
      [9.0, 'Critical', '2026-02-18T14:00:00Z', true],
      [8.9, 'High', '2026-02-18T17:00:00Z', true],
      [7.0, 'High', '2026-02-18T17:00:00Z', true],
      [6.9, 'Medium', '2026-02-22T02:00:00Z', false],
      [4.0, 'Medium', '2026-02-22T02:00:00Z', false],
      [3.9, 'Low', '2026-02-22T02:00:00Z', false],
      [0.1, 'Low', '2026-02-22T02:00:00Z', false],
    ])('CVSS %s is %s, due %s, mandatory %s', (score, severity, deadline, mandatory) => {
      const r = one({ id: 'CVE-2026-10001', nvd: score, fixed: '3.0.13-0ubuntu3.2', severity: 'LOW' });
      expect(r).toMatchObject({ cvss: score, cvssSource: 'nvd', severity, deadline, mandatory });
      expect(r.firstSeen).toBe('2026-02-18T10:00:00Z');
      if (severity === 'Critical' || severity === 'High') {
        expect(r.action).toBe('emergency-rebuild');
        expect(r.command).toBe(
          `aiboxctl cve rebuild --cve CVE-2026-10001 --cvss ${score.toFixed(1)} --package openssl --variant base`,
        );
      } else {
        expect(r.action).toBe('weekly-rebuild');
        expect(r.command).toBeNull();
      }
    });

    it('mandatory follows cve.mandatoryMinCvss (9.0: the stricter reading)', () => {
      const strict = { ...POLICY, mandatoryMinCvss: 9.0 };
      expect(one({ id: 'CVE-2026-10001', nvd: 8.9, fixed: '2' }, { policy: strict }).mandatory).toBe(false);
      expect(one({ id: 'CVE-2026-10001', nvd: 9.0, fixed: '2' }, { policy: strict }).mandatory).toBe(true);
    });
  });

  describe('when scores come from different sources', () => {
    it('takes NVD v3 over a vendor score', () => {
      const r = one({
        id: 'CVE-2026-10002',
        nvd: 5.5,
        vendor: { redhat: 9.8 },
        severity: 'CRITICAL',
        fixed: '2',
      });
      expect(r).toMatchObject({ cvss: 5.5, cvssSource: 'nvd', severity: 'Medium' });
    });
    it('takes the vendor score when NVD has none, and names the vendor', () => {
      const r = one({ id: 'CVE-2026-10003', vendor: { redhat: 8.1, ubuntu: 7.5 }, fixed: '2' });
      expect(r).toMatchObject({ cvss: 8.1, cvssSource: 'vendor:redhat', severity: 'High' });
    });
    it.each([
      ['CRITICAL', 9.0, 'Critical'],
      ['HIGH', 7.0, 'High'],
      ['MEDIUM', 4.0, 'Medium'],
      ['LOW', 0.1, 'Low'],
      ['UNKNOWN', 0, 'None'],
    ])('maps severity %s to %s (%s) when no score exists, and says so', (sev, cvss, band) => {
      const r = one({ id: 'CVE-2026-10004', severity: sev, fixed: '2' });
      expect(r).toMatchObject({ cvss, cvssSource: 'severity', severity: band });
      expect(r.notes).toContain('no CVSS score in the report: mapped from the scanner severity');
    });
  });

  describe('when the same CVE is in several packages and variants', () => {
    it('gives one row with every variant and package', () => {
      const r = rows([
        {
          variant: 'base',
          vulns: [
            { id: 'CVE-2026-20001', pkg: 'openssl', nvd: 9.8, fixed: '3.0.13-0ubuntu3.2' },
            { id: 'CVE-2026-20001', pkg: 'libssl3t64', nvd: 9.8, fixed: '3.0.13-0ubuntu3.2' },
          ],
        },
        {
          variant: 'java',
          vulns: [{ id: 'CVE-2026-20001', pkg: 'openssl', nvd: 9.8, fixed: '3.0.13-0ubuntu3.2' }],
        },
        { variant: 'node', vulns: [{ id: 'CVE-2026-20002', pkg: 'zlib1g', nvd: 7.5 }] },
      ]);
      expect(r.map((x) => x.id)).toEqual(['CVE-2026-20001', 'CVE-2026-20002']);
      expect(r[0]).toMatchObject({ variants: ['base', 'java'], packages: ['libssl3t64', 'openssl'] });
      expect(r[0]!.details).toEqual([
        {
          name: 'libssl3t64',
          installed: '3.0.13-0ubuntu3.1',
          fixed: '3.0.13-0ubuntu3.2',
          variants: ['base'],
        },
        {
          name: 'openssl',
          installed: '3.0.13-0ubuntu3.1',
          fixed: '3.0.13-0ubuntu3.2',
          variants: ['base', 'java'],
        },
      ]);
      expect(r[0]!.command).toBe(
        'aiboxctl cve rebuild --cve CVE-2026-20001 --cvss 9.8 --package libssl3t64 --package openssl --variant base --variant java',
      );
    });
    it('flags "no fix available yet" and gives no command when no package has a fixed version', () => {
      const r = one({ id: 'CVE-2026-20002', pkg: 'zlib1g', nvd: 9.1 });
      expect(r).toMatchObject({ fixAvailable: false, command: null, severity: 'Critical' });
      expect(r.notes).toContain('no fix available yet');
    });
    it('names only the fixable packages in the command, and the others in a note', () => {
      const r = rows([
        {
          variant: 'base',
          vulns: [
            { id: 'CVE-2026-20003', pkg: 'curl', nvd: 8.0, fixed: '8.5.0-2ubuntu10.7' },
            { id: 'CVE-2026-20003', pkg: 'libcurl4t64', nvd: 8.0 },
          ],
        },
      ])[0]!;
      expect(r.command).toBe(
        'aiboxctl cve rebuild --cve CVE-2026-20003 --cvss 8.0 --package curl --variant base',
      );
      expect(r.notes).toContain('no fix available yet for libcurl4t64');
    });
  });

  describe('when a High is found outside business hours', () => {
    const at = (t: string) => new Date(t);
    it.each([
      ['Wed 07:00 (before opening): end of that day', '2026-02-18T07:00:00Z', '2026-02-18T17:00:00Z'],
      ['Wed 16:59: end of that day', '2026-02-18T16:59:00Z', '2026-02-18T17:00:00Z'],
      ['Wed 17:00 (closed): end of Thursday', '2026-02-18T17:00:00Z', '2026-02-19T17:00:00Z'],
      ['Fri 18:00: end of Monday', '2026-02-20T18:00:00Z', '2026-02-23T17:00:00Z'],
      ['Sat 12:00: end of Monday', '2026-02-21T12:00:00Z', '2026-02-23T17:00:00Z'],
      ['Sun 23:59: end of Monday', '2026-02-22T23:59:00Z', '2026-02-23T17:00:00Z'],
    ])('%s', (_what, seen, deadline) => {
      expect(one({ id: 'CVE-2026-30001', nvd: 7.5, fixed: '2' }, { now: at(seen) }).deadline).toBe(deadline);
    });
    it('uses the configured time zone (Europe/Berlin, UTC+1 in February)', () => {
      const berlin = { ...UTC_HOURS, timeZone: 'Europe/Berlin' };
      expect(new Date(businessDeadline(Date.parse('2026-02-18T15:30:00Z'), berlin)).toISOString()).toBe(
        '2026-02-18T16:00:00.000Z',
      );
      expect(new Date(businessDeadline(Date.parse('2026-02-18T16:30:00Z'), berlin)).toISOString()).toBe(
        '2026-02-19T16:00:00.000Z',
      );
    });
    it('crosses a DST change (America/New_York, Friday 2026-03-06 after hours → Monday 17:00 EDT)', () => {
      const ny = { ...UTC_HOURS, timeZone: 'America/New_York' };
      expect(new Date(businessDeadline(Date.parse('2026-03-06T23:00:00Z'), ny)).toISOString()).toBe(
        '2026-03-09T21:00:00.000Z',
      );
    });
    it('uses the configured business days (a Sunday-Thursday week)', () => {
      const week = { ...UTC_HOURS, days: ['sun', 'mon', 'tue', 'wed', 'thu'] as const };
      expect(
        new Date(
          businessDeadline(Date.parse('2026-02-20T10:00:00Z'), { ...week, days: [...week.days] }),
        ).toISOString(),
      ).toBe('2026-02-22T17:00:00.000Z');
    });
  });

  describe('when the weekly run is the deadline', () => {
    it.each([
      ['2026-02-22T01:59:00Z', '2026-02-22T02:00:00.000Z'],
      ['2026-02-22T02:00:00Z', '2026-03-01T02:00:00.000Z'],
      ['2026-02-21T23:00:00Z', '2026-02-22T02:00:00.000Z'],
      ['2026-02-23T00:00:00Z', '2026-03-01T02:00:00.000Z'],
    ])('after %s it is %s', (t, want) => {
      expect(new Date(nextWeeklyRun(Date.parse(t))).toISOString()).toBe(want);
    });
  });

  describe('when first-seen times are already recorded', () => {
    it('keeps the earlier first-seen and computes the deadline from it', () => {
      const r = one(
        { id: 'CVE-2026-40001', nvd: 9.8, fixed: '2' },
        { firstSeen: { 'CVE-2026-40001': '2026-02-18T08:00:00Z' } },
      );
      expect(r).toMatchObject({ firstSeen: '2026-02-18T08:00:00Z', deadline: '2026-02-18T12:00:00Z' });
    });
    it('never moves first-seen later than now (a recorded time in the future is ignored)', () => {
      const r = one(
        { id: 'CVE-2026-40001', nvd: 9.8, fixed: '2' },
        { firstSeen: { 'CVE-2026-40001': '2026-02-19T08:00:00Z' } },
      );
      expect(r.firstSeen).toBe('2026-02-18T10:00:00Z');
    });
  });

  describe('when rows are sorted', () => {
    it('orders by deadline, then score', () => {
      const r = rows([
        {
          variant: 'base',
          vulns: [
            { id: 'CVE-2026-50001', nvd: 5.0, fixed: '2' },
            { id: 'CVE-2026-50002', nvd: 7.2, fixed: '2' },
            { id: 'CVE-2026-50003', nvd: 9.1, fixed: '2' },
            { id: 'CVE-2026-50004', nvd: 9.9, fixed: '2' },
          ],
        },
      ]);
      expect(r.map((x) => x.id)).toEqual([
        'CVE-2026-50004',
        'CVE-2026-50003',
        'CVE-2026-50002',
        'CVE-2026-50001',
      ]);
    });
  });

  describe('when a report holds a malformed id', () => {
    it.each(['CVE-2026-1', 'cve-2026-12345', 'CVE-26-12345', 'CVE-2026-12345; rm -rf /', '$(id)'])(
      '%j is refused naming the report',
      (id) => {
        expect(() => rows([{ variant: 'base', vulns: [{ id, nvd: 9.8 }] }])).toThrow(
          expect.objectContaining({ code: 'SCAN_FAILED', message: expect.stringContaining('base.json') }),
        );
      },
    );
    it('accepts other advisory ids (GHSA, DLA, USN)', () => {
      for (const id of ['GHSA-xxxx-2222-yyyy', 'DLA-3890-1', 'USN-6700-1', 'CVE-2026-1234567'])
        expect(vulnIdProblem(id)).toBeUndefined();
    });
  });

  describe('the text table (golden)', () => {
    it('renders every column and the commands', async () => {
      const r = rows([
        {
          variant: 'base',
          vulns: [
            {
              id: 'CVE-2026-60001',
              pkg: 'openssl',
              nvd: 9.8,
              fixed: '3.0.13-0ubuntu3.2',
              title: 'openssl: bad\u001b[31m thing',
            },
            { id: 'CVE-2026-60002', pkg: 'zlib1g', vendor: { ubuntu: 7.5 } },
            { id: 'CVE-2026-60003', pkg: 'tar', severity: 'MEDIUM', fixed: '1.35+dfsg-3.1' },
          ],
        },
        {
          variant: 'java',
          vulns: [{ id: 'CVE-2026-60001', pkg: 'openssl', nvd: 9.8, fixed: '3.0.13-0ubuntu3.2' }],
        },
      ]);
      await expect(renderTriage(r)).toMatchFileSnapshot('__snapshots__/triage.txt');
    });
  });
});

describe('triage: one id in many packages (past the package index threshold)', () => {
  it('merges each (package, installed) once across variants, keeps a later fix, sorts details and names', () => {
    const many = (fixedFrom: number): Vuln[] =>
      Array.from({ length: 20 }, (_, k) => ({
        id: 'CVE-2026-7777',
        pkg: `pkg-${String(19 - k).padStart(2, '0')}`,
        installed: k % 2 === 0 ? '1.0' : '2.0',
        ...(k >= fixedFrom ? { fixed: '3.0' } : {}),
        nvd: 9.8,
        severity: 'CRITICAL',
      }));
    const [row] = rows([
      { variant: 'base', vulns: many(20) },
      { variant: 'java', vulns: many(10) },
      { variant: 'node', vulns: many(0) },
    ]);
    expect(row?.details).toHaveLength(20);
    expect(row?.details.map((d) => d.name)).toEqual(
      Array.from({ length: 20 }, (_, k) => `pkg-${String(k).padStart(2, '0')}`),
    );
    expect(row?.details.every((d) => d.fixed === '3.0')).toBe(true);
    expect(row?.details.every((d) => d.variants.join(',') === 'base,java,node')).toBe(true);
    expect(row?.packages).toEqual(row?.details.map((d) => d.name));
    expect(row?.variants).toEqual(['base', 'java', 'node']);
    expect(row?.command).toContain('--package pkg-00 --package pkg-01');
    expect(row?.notes).toEqual([]);
  });
});
