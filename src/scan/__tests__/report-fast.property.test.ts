/**
 * The hand-written fast check of Trivy reports (`checkTrivyFast`) against the zod schema it shortcuts: on any input
 * (valid, near-valid and hostile values of every field), parseTrivyValue answers exactly as the zod-only path does,
 * the same report or the same error, and the fast check accepts nothing zod refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTrivyFast, parseTrivyValue, parseTrivyValueByZod } from '../report.js';

type Outcome = { ok: unknown } | { error: string };
function outcome(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (e: unknown) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** A field that is usually right, sometimes missing, sometimes of a wrong type. */
const maybe = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 40, arbitrary: good },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 7, true, [], {}, '') },
  );
const optional = <T>(good: fc.Arbitrary<T>) => fc.option(maybe(good), { nil: undefined, freq: 3 });
const score = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.oneof(
      fc.constantFrom(0, -0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10),
      fc.double({ min: 0, max: 10 }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      -0.1,
      10.1,
      10.25,
      -1e-9,
      Number.NaN,
      Infinity,
      -Infinity,
      '9.8',
      null,
    ),
  },
  { weight: 1, arbitrary: fc.double({ min: -2, max: 12 }) },
);
const cvssEntry = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record(
      { V2Score: score, V3Score: score, V40Score: score, V3Vector: maybe(fc.string()) },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 5, 'x', []) },
);
const cvssMap = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.dictionary(
      fc.constantFrom('nvd', 'redhat', 'ghsa', '__proto__', 'constructor', ''),
      cvssEntry,
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], 'nvd', 3) },
);
const severity = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom<unknown>('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN') },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('high', 'Critical', 'ıgh', '', 'BOGUS', 4, null) },
);
const vulnerability = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record(
      {
        VulnerabilityID: maybe(fc.constantFrom('CVE-2026-1234', 'GHSA-xxxx-yyyy', 'x', '')),
        PkgName: maybe(fc.string()),
        PkgPath: optional(fc.string()),
        InstalledVersion: maybe(fc.string()),
        FixedVersion: optional(fc.string()),
        Status: optional(fc.constantFrom('affected', 'fixed')),
        Severity: fc.option(severity, { nil: undefined }),
        Title: optional(fc.string()),
        PrimaryURL: optional(fc.webUrl()),
        CVSS: fc.option(cvssMap, { nil: undefined }),
        Extra: fc.option(fc.anything(), { nil: undefined }),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'CVE-2026-1', [], 0) },
);
const result = fc.record(
  {
    Target: optional(fc.string()),
    Class: optional(fc.constantFrom('os-pkgs', 'lang-pkgs')),
    Vulnerabilities: fc.oneof(
      fc.array(vulnerability, { maxLength: 6 }),
      fc.constantFrom<unknown>(null, undefined, {}, 'x'),
    ),
  },
  { requiredKeys: [] },
);
const report = fc.record(
  {
    SchemaVersion: fc.constantFrom<unknown>(2, 2, 2, 2, 1, '2', undefined),
    ArtifactName: optional(fc.string()),
    Metadata: optional(
      fc.record(
        {
          ImageID: optional(fc.string()),
          RepoDigests: optional(
            fc.array(fc.oneof(fc.constant(`r/x@sha256:${'a'.repeat(64)}`), fc.string(), fc.constant(3)), {
              maxLength: 3,
            }),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    Results: fc.oneof(fc.array(result, { maxLength: 3 }), fc.constantFrom<unknown>(null, undefined, {}, 'x')),
  },
  { requiredKeys: [] },
);

describe('checkTrivyFast against the zod schema', () => {
  it('parseTrivyValue answers as the zod-only path does: the same report, or the same error', () => {
    const seen = { fast: 0, refused: 0 };
    fc.assert(
      fc.property(report, (raw) => {
        // Through JSON, as a report file arrives (undefined fields vanish, -0 becomes 0, NaN and ±Infinity null),
        // and as the value itself (what a caller that built the object passes).
        for (const v of [JSON.parse(JSON.stringify(raw)) as unknown, raw]) {
          const fast = outcome(() => parseTrivyValue(v, 'r.json'));
          expect(fast).toEqual(outcome(() => parseTrivyValueByZod(v, 'r.json')));
          if (checkTrivyFast(v) !== undefined) {
            expect(fast).toHaveProperty('ok');
            seen.fast++;
          }
          if ('error' in fast) seen.refused++;
        }
      }),
      { numRuns: 2000 },
    );
    // Both sides of the comparison were exercised.
    expect(seen.fast).toBeGreaterThan(200);
    expect(seen.refused).toBeGreaterThan(200);
  });
  it('a valid report with one hostile value anywhere: the same answer as zod (one mutation at a time)', () => {
    const validVuln = fc.record({
      VulnerabilityID: fc.constantFrom('CVE-2026-1234', 'GHSA-xxxx-yyyy'),
      PkgName: fc.string(),
      InstalledVersion: fc.string(),
      FixedVersion: fc.option(fc.string(), { nil: undefined }),
      Severity: fc.constantFrom('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'),
      Title: fc.string(),
      CVSS: fc.constant({ nvd: { V3Score: 9.8, V3Vector: 'v' }, redhat: { V2Score: 5, V40Score: 0 } }),
    });
    const hostile = fc.constantFrom<unknown>(
      undefined,
      null,
      '',
      'x',
      0,
      -0.1,
      10.25,
      10.000001,
      Number.NaN,
      Infinity,
      true,
      [],
      {},
      ['x'],
      'high',
      'Critical',
    );
    const paths = [
      ['ArtifactName'],
      ['Metadata'],
      ['Metadata', 'ImageID'],
      ['Metadata', 'RepoDigests'],
      ['Results'],
      ['Results', 0],
      ['Results', 0, 'Target'],
      ['Results', 0, 'Class'],
      ['Results', 0, 'Vulnerabilities'],
      ...[
        'VulnerabilityID',
        'PkgName',
        'PkgPath',
        'InstalledVersion',
        'FixedVersion',
        'Status',
        'Severity',
        'Title',
        'PrimaryURL',
        'CVSS',
      ].map((k) => ['Results', 0, 'Vulnerabilities', 1, k]),
      ['Results', 0, 'Vulnerabilities', 1],
      ['Results', 0, 'Vulnerabilities', 1, 'CVSS', 'nvd'],
      ['Results', 0, 'Vulnerabilities', 1, 'CVSS', '__proto__'],
      ['Results', 0, 'Vulnerabilities', 1, 'CVSS', 'redhat'],
      ...['V2Score', 'V3Score', 'V40Score', 'V3Vector'].map((k) => [
        'Results',
        0,
        'Vulnerabilities',
        1,
        'CVSS',
        'nvd',
        k,
      ]),
    ];
    fc.assert(
      fc.property(
        fc.array(validVuln, { minLength: 2, maxLength: 4 }),
        fc.constantFrom(...paths),
        hostile,
        (vulns, path, bad) => {
          const raw = JSON.parse(
            JSON.stringify({
              SchemaVersion: 2,
              ArtifactName: 'a',
              Metadata: { RepoDigests: [] },
              Results: [{ Target: 't', Vulnerabilities: vulns }],
            }),
          ) as Record<string, unknown>;
          let at: Record<string | number, unknown> = raw;
          for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
          const last = path[path.length - 1] as string | number;
          if (last === '__proto__')
            Object.defineProperty(at, last, {
              value: bad,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          else at[last] = bad;
          expect(outcome(() => parseTrivyValue(raw, 'r.json'))).toEqual(
            outcome(() => parseTrivyValueByZod(raw, 'r.json')),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });
  it('takes the fast path for a report as Trivy writes it (so the shortcut is not silently lost)', () => {
    const raw = {
      SchemaVersion: 2,
      ArtifactName: 'r/aibox/base@sha256:' + 'b'.repeat(64),
      Metadata: {
        ImageID: 'sha256:' + 'c'.repeat(64),
        RepoDigests: ['r/aibox/base@sha256:' + 'b'.repeat(64)],
      },
      Results: [
        {
          Target: 'aibox/base (ubuntu 24.04)',
          Class: 'os-pkgs',
          Type: 'ubuntu',
          Vulnerabilities: [
            {
              VulnerabilityID: 'CVE-2026-1234',
              PkgName: 'openssl',
              InstalledVersion: '3.0.13-0ubuntu3.1',
              FixedVersion: '3.0.13-0ubuntu3.2',
              Status: 'fixed',
              Severity: 'HIGH',
              Title: 't',
              PrimaryURL: 'https://avd.aquasec.com/nvd/cve-2026-1234',
              CVSS: { nvd: { V3Score: 7.5, V3Vector: 'CVSS:3.1/AV:N' }, redhat: { V3Score: 7 } },
              DataSource: { ID: 'ubuntu' },
            },
          ],
        },
      ],
    };
    expect(checkTrivyFast(raw)).toBe(raw);
    expect(parseTrivyValue(raw)).toEqual(parseTrivyValueByZod(raw));
    expect(
      checkTrivyFast({ ...raw, Results: [{ Vulnerabilities: [{ VulnerabilityID: '' }] }] }),
    ).toBeUndefined();
  });
  it('a finding keeps its key order (the scan --json document does not change shape)', () => {
    const r = parseTrivyValue({
      SchemaVersion: 2,
      Results: [
        {
          Target: 't',
          Vulnerabilities: [
            {
              CVSS: { nvd: { V3Vector: 'v', V40Score: 1, V3Score: 2, V2Score: 3 } },
              PrimaryURL: 'u',
              Title: 'x',
              Status: 's',
              Severity: 'LOW',
              PkgPath: 'p',
              FixedVersion: '2',
              InstalledVersion: '1',
              PkgName: 'n',
              VulnerabilityID: 'CVE-2026-1234',
            },
          ],
        },
      ],
    });
    const [f] = r.findings;
    expect(Object.keys(f ?? {})).toEqual([
      'id',
      'pkg',
      'installedVersion',
      'fixedVersion',
      'pkgPath',
      'severity',
      'status',
      'title',
      'target',
      'url',
      'cvss',
    ]);
    expect(Object.keys(f?.cvss['nvd'] ?? {})).toEqual(['v2Score', 'v3Score', 'v40Score', 'v3Vector']);
  });
});
