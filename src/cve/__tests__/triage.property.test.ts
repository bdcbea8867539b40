import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import { cvssBand } from '../../scan/cvss.js';
import { parseTrivyReport } from '../../scan/report.js';
import { renderTriage } from '../render.js';
import { triage, type TriagePolicy } from '../triage.js';

const POLICY: TriagePolicy = {
  mandatoryMinCvss: 7,
  businessHours: {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '09:00',
    end: '17:00',
    timeZone: 'Europe/Berlin',
  },
};

/** POSIX shell word splitting for what rebuildCommand writes: bare words and '…' with '\'' escapes. */
function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${s}`);
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '\\') {
      cur += s[i + 1] ?? '';
      i++;
      inWord = true;
    } else if (c === ' ') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      if (!/[A-Za-z0-9._+:=@/-]/.test(c)) throw new Error(`unquoted ${JSON.stringify(c)} in ${s}`);
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const score = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 100 }).map((n) => n / 10),
);
const id = fc.oneof(
  fc.integer({ min: 1000, max: 99999 }).map((n) => `CVE-2026-${n}`),
  fc.constantFrom('GHSA-aaaa-bbbb-cccc', 'DLA-1234-1'),
);
const untrusted = fc.string({ unit: 'binary', maxLength: 40 });
const vuln = fc.record({
  VulnerabilityID: id,
  PkgName: untrusted,
  InstalledVersion: untrusted,
  FixedVersion: fc.option(untrusted, { nil: undefined }),
  Severity: fc.constantFrom('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN', ''),
  Title: fc.option(untrusted, { nil: undefined }),
  nvd: score,
  vendor: score,
});
const report = fc.array(vuln, { maxLength: 12 }).map((vs) =>
  JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: 'x',
    Results: [
      {
        Target: 't',
        Vulnerabilities: vs.map(({ nvd, vendor, ...v }) => ({
          ...v,
          CVSS: {
            ...(nvd !== undefined ? { nvd: { V3Score: nvd } } : {}),
            ...(vendor !== undefined ? { redhat: { V3Score: vendor } } : {}),
          },
        })),
      },
    ],
  }),
);
const now = fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2035-01-01T00:00:00Z') });

describe('triage on untrusted report input (property)', () => {
  it('returns well-formed rows for any well-shaped report', () => {
    fc.assert(
      fc.property(fc.array(report, { minLength: 1, maxLength: 4 }), now, (texts, t) => {
        const reports = texts.map((text, i) => ({
          report: parseTrivyReport(text, `r${i}`),
          variant: `v${i % 2}`,
        }));
        const rows = triage({ reports, policy: POLICY, now: new Date(t) });
        const ids = rows.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.deadline <= rows[i]!.deadline).toBe(true);
        for (const r of rows) {
          expect(r.cvss).toBeGreaterThanOrEqual(0);
          expect(r.cvss).toBeLessThanOrEqual(10);
          expect(r.severity).toBe(cvssBand(r.cvss));
          expect(Date.parse(r.deadline)).toBeGreaterThan(Date.parse(r.firstSeen));
          expect(Date.parse(r.deadline) - Date.parse(r.firstSeen)).toBeLessThanOrEqual(9 * 86_400_000);
          expect(r.command !== null).toBe(r.fixAvailable && r.action === 'emergency-rebuild');
          if (r.command !== null) {
            const words = shellWords(r.command);
            expect(words.slice(0, 5)).toEqual(['aiboxctl', 'cve', 'rebuild', '--cve', r.id]);
            const pkgs = words.flatMap((w, i) => (words[i - 1] === '--package' ? [w] : []));
            expect(pkgs.every((p) => r.packages.includes(p))).toBe(true);
          }
        }
        // Text output carries no control characters from the report (terminal injection).
        // eslint-disable-next-line no-control-regex -- the property is about control characters
        expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(renderTriage(rows))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses anything else with SCAN_FAILED naming the input, never a partial result', () => {
    const junk = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      report.map((t) => t.slice(0, Math.max(1, Math.floor(t.length / 2)))),
      fc.record({ SchemaVersion: fc.oneof(fc.integer(), fc.string()) }).map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(junk, (text) => {
        try {
          const r = parseTrivyReport(text, 'junk.json');
          // A value that happens to be a valid report must triage cleanly.
          expect(
            Array.isArray(
              triage({ reports: [{ report: r, source: 'junk.json' }], policy: POLICY, now: new Date(0) }),
            ),
          ).toBe(true);
        } catch (e: unknown) {
          expect(isAiboxError(e, 'SCAN_FAILED')).toBe(true);
          expect((e as Error).message).toContain('junk.json');
        }
      }),
      { numRuns: 300 },
    );
  });
});
