import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError, isAiboxError } from '../../core/errors.js';
import { trivyReport, trivyReportText, type VulnSpec } from '../../../test/doubles/trivy-stub.js';
import {
  HARBOR_REPORT_MIME_TYPES,
  parseHarborReport,
  parseTrivyReport,
  SEVERITIES,
  type ScanReport,
} from '../report.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const IMAGE = { reference: '127.0.0.1:5000/aibox/base:latest', digest: DIGEST };

function failure(f: () => unknown): AiboxError {
  try {
    f();
  } catch (e: unknown) {
    if (e instanceof AiboxError) return e;
    throw new Error(`expected an AiboxError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a failure');
}

describe('parseTrivyReport', () => {
  describe('when the report has findings in several results', () => {
    const text = trivyReportText({
      artifactName: '127.0.0.1:5000/aibox/base@' + DIGEST,
      repoDigest: DIGEST,
      results: [
        {
          target: '127.0.0.1:5000/aibox/base (ubuntu 24.04)',
          vulns: [
            {
              id: 'CVE-2019-18276',
              pkg: 'bash',
              installed: '5.2-1',
              severity: 'LOW',
              v3: { nvd: 7.8, redhat: 7.8 },
            },
            {
              id: 'CVE-2019-18224',
              pkg: 'libidn2-0',
              installed: '2.0.5-1',
              fixed: '2.0.5-1+deb10u1',
              severity: 'CRITICAL',
              title: 'libidn2: heap overflow',
              v3: { nvd: 9.8 },
            },
          ],
        },
        {
          target: 'Ruby',
          class: 'lang-pkgs',
          type: 'gemspec',
          vulns: [
            {
              id: 'CVE-2020-8165',
              pkg: 'activesupport',
              installed: '6.0.2.1',
              fixed: '6.0.3.1, 5.2.4.3',
              pkgPath: 'var/lib/gems/activesupport.gemspec',
              severity: 'HIGH',
            },
          ],
        },
        { target: 'clean (ubuntu 24.04)' },
      ],
    });
    const r = parseTrivyReport(text);

    it('normalises every finding, most severe first', () => {
      expect(r.scanner).toBe('trivy');
      expect(r.findings.map((f) => [f.severity, f.id])).toEqual([
        ['CRITICAL', 'CVE-2019-18224'],
        ['HIGH', 'CVE-2020-8165'],
        ['LOW', 'CVE-2019-18276'],
      ]);
      expect(r.summary).toEqual({ CRITICAL: 1, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
    });

    it('keeps fix, path, status, title, target and CVSS per source', () => {
      const crit = r.findings[0]!;
      expect(crit).toMatchObject({
        pkg: 'libidn2-0',
        installedVersion: '2.0.5-1',
        fixedVersion: '2.0.5-1+deb10u1',
        status: 'fixed',
        title: 'libidn2: heap overflow',
        target: '127.0.0.1:5000/aibox/base (ubuntu 24.04)',
        cvss: { nvd: { v3Score: 9.8, v3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } },
      });
      expect(r.findings[1]).toMatchObject({
        fixedVersion: '6.0.3.1, 5.2.4.3',
        pkgPath: 'var/lib/gems/activesupport.gemspec',
      });
      expect(r.findings[2]!.fixedVersion).toBeUndefined();
    });

    it('takes the manifest digest from Metadata.RepoDigests', () => {
      expect(r.digest).toBe(DIGEST);
    });
  });

  describe('when nothing was found', () => {
    it('accepts a report without Results', () => {
      const r = parseTrivyReport(trivyReportText({ artifactName: 'x' }));
      expect(r.findings).toEqual([]);
      expect(r.summary).toEqual({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
    });
    it('accepts results without Vulnerabilities, and Results: null', () => {
      expect(
        parseTrivyReport(trivyReportText({ artifactName: 'x', results: [{ target: 't' }] })).findings,
      ).toEqual([]);
      expect(parseTrivyReport('{"SchemaVersion":2,"Results":null}').findings).toEqual([]);
    });
  });

  describe('when the report was scanned from a tarball', () => {
    it('has no digest', () => {
      expect(parseTrivyReport(trivyReportText({ artifactName: 'img.tar' })).digest).toBeUndefined();
    });
  });

  it('coerces an empty severity to UNKNOWN and accepts lower case', () => {
    const r = parseTrivyReport(
      trivyReportText({
        artifactName: 'x',
        results: [{ target: 't', vulns: [{ id: 'CVE-1', pkg: 'a', installed: '1', severity: '' }] }],
      }),
    );
    expect(r.findings[0]!.severity).toBe('UNKNOWN');
    const lower = JSON.stringify({
      SchemaVersion: 2,
      Results: [
        {
          Vulnerabilities: [
            { VulnerabilityID: 'CVE-2', PkgName: 'b', InstalledVersion: '1', Severity: 'high' },
          ],
        },
      ],
    });
    expect(parseTrivyReport(lower).findings[0]!.severity).toBe('HIGH');
  });

  it('deduplicates on id + package + version + path, keeping the most severe', () => {
    const v: VulnSpec = { id: 'CVE-3', pkg: 'a', installed: '1', severity: 'LOW' };
    const r = parseTrivyReport(
      trivyReportText({
        artifactName: 'x',
        results: [
          { target: 't1', vulns: [v] },
          { target: 't2', vulns: [{ ...v, severity: 'HIGH' }] },
        ],
      }),
    );
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.severity).toBe('HIGH');
  });

  describe('when the input is not a Trivy SchemaVersion 2 report', () => {
    it.each([
      ['empty output', '', /from trivy: output is empty/],
      ['log lines', 'INFO Need to update DB\n', /not JSON/],
      ['an array', '[]', /expected a JSON object/],
      ['no SchemaVersion', '{"Results":[]}', /SchemaVersion is missing/],
      ['SchemaVersion 1', '{"SchemaVersion":1}', /SchemaVersion 1 is not supported \(aibox reads 2\)/],
      ['SchemaVersion "2"', '{"SchemaVersion":"2"}', /SchemaVersion "2" is not supported/],
      ['Results not an array', '{"SchemaVersion":2,"Results":{}}', /Results: /],
      [
        'a bad severity',
        '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a","InstalledVersion":"1","Severity":"SEVERE"}]}]}',
        /Results\[0\]\.Vulnerabilities\[0\]\.Severity: severity "SEVERE" is not one of/,
      ],
      [
        'a missing VulnerabilityID',
        '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"PkgName":"a","InstalledVersion":"1"}]}]}',
        /Results\[0\]\.Vulnerabilities\[0\]\.VulnerabilityID/,
      ],
      [
        'a CVSS score out of range',
        '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a","InstalledVersion":"1","CVSS":{"nvd":{"V3Score":11}}}]}]}',
        /CVSS\.nvd\.V3Score/,
      ],
    ])('rejects %s with SCAN_FAILED naming the input and rule', (_name, text, rule) => {
      const e = failure(() => parseTrivyReport(text, 'trivy'));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(/^invalid Trivy report from trivy: /);
      expect(e.message).toMatch(rule);
      expect(e.hint).toBeTruthy();
    });
  });

  // zod/mini installs no locale; the English messages come from the per-parse error map
  // (src/core/zod-en.ts), word for word what classic zod wrote.
  it.each([
    ['{"SchemaVersion":2,"Results":{}}', 'Results: Invalid input: expected array, received object'],
    ['{"SchemaVersion":2,"ArtifactName":3}', 'ArtifactName: Invalid input: expected string, received number'],
    [
      '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"C","PkgName":"a","InstalledVersion":"1","CVSS":{"nvd":{"V3Score":11}}}]}]}',
      'Results[0].Vulnerabilities[0].CVSS.nvd.V3Score: Too big: expected number to be <=10',
    ],
    [
      '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"PkgName":"a"}]}]}',
      'Results[0].Vulnerabilities[0].VulnerabilityID: Invalid input: expected string, received undefined',
    ],
  ])('words schema problems in English: %s', (text, rule) => {
    expect(failure(() => parseTrivyReport(text)).message).toBe(`invalid Trivy report from trivy: ${rule}`);
  });

  describe('property: untrusted input', () => {
    const check = (text: string) => {
      try {
        const r = parseTrivyReport(text);
        assertConsistent(r);
      } catch (e: unknown) {
        if (!isAiboxError(e, 'SCAN_FAILED')) throw e;
        expect(isAiboxError(e, 'SCAN_FAILED')).toBe(true);
      }
    };
    it('any JSON value either parses into a consistent report or fails with SCAN_FAILED', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => check(JSON.stringify(v))),
        { numRuns: 300 },
      );
    });
    it('any string either parses or fails with SCAN_FAILED', () => {
      fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 300 });
    });
    it('reports with arbitrary objects in place of fields never crash the parser', () => {
      const anyish = fc.oneof(fc.jsonValue(), fc.constant(undefined));
      fc.assert(
        fc.property(anyish, anyish, anyish, anyish, (sev, cvss, fixed, vulns) => {
          const doc = {
            SchemaVersion: 2,
            Results: [
              {
                Vulnerabilities: [
                  {
                    VulnerabilityID: 'CVE-1',
                    PkgName: 'p',
                    InstalledVersion: '1',
                    Severity: sev,
                    CVSS: cvss,
                    FixedVersion: fixed,
                  },
                ],
              },
              { Vulnerabilities: vulns },
            ],
          };
          check(JSON.stringify(doc));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('property: valid reports', () => {
    const sev = fc.constantFrom<VulnSpec['severity']>('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN', '');
    const vuln: fc.Arbitrary<VulnSpec> = fc.record({
      id: fc.constantFrom('CVE-2026-0001', 'CVE-2026-0002', 'GHSA-xxxx-yyyy', 'DLA-1234-1'),
      pkg: fc.constantFrom('bash', 'openssl', 'libc6'),
      installed: fc.constantFrom('1.0', '2.0'),
      severity: sev,
      v3: fc.option(
        fc.dictionary(fc.constantFrom('nvd', 'redhat', 'ghsa'), fc.double({ min: 0, max: 10, noNaN: true })),
        { nil: undefined },
      ),
    });
    const results = fc.array(
      fc.record({
        target: fc.string({ minLength: 1, maxLength: 10 }),
        vulns: fc.option(fc.array(vuln, { maxLength: 8 }), { nil: undefined }),
      }),
      { maxLength: 4 },
    );
    it('summary counts match the unique findings and every input finding is represented', () => {
      fc.assert(
        fc.property(results, (rs) => {
          const r = parseTrivyReport(JSON.stringify(trivyReport({ artifactName: 'x', results: rs })));
          assertConsistent(r);
          const keys = new Set(
            rs.flatMap((x) => x.vulns ?? []).map((v) => `${v.id}|${v.pkg}|${v.installed}`),
          );
          expect(r.findings.length).toBe(keys.size);
        }),
        { numRuns: 200 },
      );
    });
  });
});

function assertConsistent(r: ScanReport): void {
  const sum = SEVERITIES.reduce((n, s) => n + r.summary[s], 0);
  expect(sum).toBe(r.findings.length);
  for (let i = 1; i < r.findings.length; i++) {
    expect(SEVERITIES.indexOf(r.findings[i - 1]!.severity)).toBeLessThanOrEqual(
      SEVERITIES.indexOf(r.findings[i]!.severity),
    );
  }
}

describe('parseHarborReport', () => {
  const item = {
    id: 'CVE-2019-18224',
    package: 'libidn2-0',
    version: '2.0.5-1',
    fix_version: '2.0.5-1+deb10u1',
    severity: 'Critical',
    status: 'fixed',
    description: 'heap overflow',
    links: ['https://avd.aquasec.com/nvd/cve-2019-18224'],
    artifact_digests: [DIGEST],
    preferred_cvss: { score_v3: 9.8, score_v2: null, vector_v3: '', vector_v2: '' },
    cwe_ids: ['CWE-787'],
    vendor_attributes: {
      CVSS: { nvd: { V3Score: 9.8, V3Vector: 'CVSS:3.1/AV:N' }, redhat: { V3Score: 5.6 } },
    },
  };
  const body = (items: unknown[], mime: string = HARBOR_REPORT_MIME_TYPES[0]) => ({
    [mime]: {
      generated_at: '2026-02-22T02:00:17Z',
      scanner: { name: 'Trivy' },
      severity: 'Critical',
      vulnerabilities: items,
    },
  });

  it('maps the version 1.1 report onto the same model', () => {
    const r = parseHarborReport(
      body([item, { ...item, id: 'CVE-2', package: 'x', severity: 'None', fix_version: '' }]),
      IMAGE,
    );
    expect(r).toMatchObject({ scanner: 'harbor', image: IMAGE.reference, digest: DIGEST });
    expect(r.summary).toEqual({ CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
    expect(r.findings[0]).toMatchObject({
      id: 'CVE-2019-18224',
      pkg: 'libidn2-0',
      installedVersion: '2.0.5-1',
      fixedVersion: '2.0.5-1+deb10u1',
      url: 'https://avd.aquasec.com/nvd/cve-2019-18224',
      cvss: { nvd: { v3Score: 9.8, v3Vector: 'CVSS:3.1/AV:N' }, redhat: { v3Score: 5.6 } },
    });
    expect(r.findings[1]!.fixedVersion).toBeUndefined();
  });

  it('reads the legacy native report type, and falls back to preferred_cvss', () => {
    const legacy = { ...item, vendor_attributes: null };
    const r = parseHarborReport(body([legacy], HARBOR_REPORT_MIME_TYPES[1]), IMAGE);
    expect(r.findings[0]!.cvss).toEqual({ harbor: { v3Score: 9.8 } });
  });

  it.each([
    ['an unscanned artifact ({})', {}, /has no vulnerability report \(not scanned\)/],
    [
      'an unknown report type',
      { 'application/x-other': {} },
      /no supported report type \(got "application\/x-other"\)/,
    ],
    ['an array', [], /expected a JSON object/],
    [
      'a bad severity',
      body([{ ...item, severity: 'CRITICAL' }]),
      /vulnerabilities\[0\]\.severity: severity "CRITICAL" is not one of/,
    ],
    [
      'vulnerabilities not an array',
      { [HARBOR_REPORT_MIME_TYPES[0]]: { vulnerabilities: 'x' } },
      /vulnerabilities/,
    ],
  ])('rejects %s', (_n, input, rule) => {
    const e = failure(() => parseHarborReport(input, IMAGE));
    expect(e.code).toBe('SCAN_FAILED');
    expect(e.message).toMatch(/^invalid Harbor vulnerability report from Harbor: /);
    expect(e.message).toMatch(rule);
  });

  it('property: any JSON value parses or fails with SCAN_FAILED', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (v, items) => {
        for (const input of [
          v,
          { [HARBOR_REPORT_MIME_TYPES[0]]: v },
          { [HARBOR_REPORT_MIME_TYPES[0]]: { vulnerabilities: items } },
        ]) {
          try {
            assertConsistent(parseHarborReport(input, IMAGE));
          } catch (e: unknown) {
            if (!isAiboxError(e, 'SCAN_FAILED')) throw e;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
