/**
 * `aiboxctl cve triage | list | accept` on the bundled CLI against a real docker-registry: triage of Trivy and
 * Harbor report files with a fixed `--now`, the signed `cve-records:current` artifact (first-seen kept on re-triage,
 * accepted risks, deadlines met), a records document signed by a foreign key refused, and every bad input of
 * issue 9 refused with a clear error naming the input, a non-zero exit and nothing written.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/oci/client.js';
import { envelopeOf, jsonError, jsonOf } from '../helpers/cli.js';
import { pushTinyImage } from '../helpers/cosign.js';
import {
  generateKeys,
  pipelineCli,
  tagDigest,
  TRIVY_PER_VARIANT,
  writePipelineConfig,
} from '../helpers/pipeline.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const PASSWORD = 'cve-e2e-password-5d1e';
const NOW = '2026-02-18T10:00:00Z'; // a Wednesday, in business hours (UTC)
let work: string;
let registry: TestRegistry;
let cli: ReturnType<typeof pipelineCli>;
let foreignCli: ReturnType<typeof pipelineCli>;
let scanningCli: ReturnType<typeof pipelineCli>;

interface Row {
  id: string;
  cvss: number;
  cvssSource: string;
  severity: string;
  variants: string[];
  firstSeen: string;
  deadline: string;
  command: string | null;
  fixAvailable: boolean;
}
interface ListedRecord {
  id: string;
  firstSeen: string;
  deadline: string;
  state: { kind: string };
  deadlineMet: boolean | null;
}

const trivy = (image: string, vulns: readonly Record<string, unknown>[]) =>
  JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: image,
    Results: [{ Target: `${image} (ubuntu 24.04)`, Vulnerabilities: vulns }],
  });

async function file(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aibox-cve-e2e-'));
  registry = await startRegistry();
  const keys = await generateKeys(join(work, 'keys'), PASSWORD);
  const other = await generateKeys(join(work, 'other'), PASSWORD);
  const spec = {
    baseImage: 'localhost/none:latest',
    variants: {
      base: { tagPrefix: '24.04', from: null, containerfile: 'base/Containerfile' },
      java: { tagPrefix: '21-24.04', from: 'base', containerfile: 'java/Containerfile' },
    },
  };
  const config = await writePipelineConfig(join(work, 'aibox.yaml'), {
    ...spec,
    key: keys.key,
    pub: keys.pub,
  });
  const foreign = await writePipelineConfig(join(work, 'foreign.yaml'), {
    ...spec,
    key: other.key,
    pub: other.pub,
  });
  const scanning = await writePipelineConfig(join(work, 'scanning.yaml'), {
    ...spec,
    key: keys.key,
    pub: keys.pub,
    scanner: 'trivy',
    trivyPath: TRIVY_PER_VARIANT,
  });
  scanningCli = pipelineCli({
    config: scanning,
    registry: () => registry.host,
    xdg: join(work, 'xdg3'),
    password: PASSWORD,
  });
  const xdg = join(work, 'xdg');
  cli = pipelineCli({ config, registry: () => registry.host, xdg, password: PASSWORD });
  foreignCli = pipelineCli({
    config: foreign,
    registry: () => registry.host,
    xdg: join(work, 'xdg2'),
    password: PASSWORD,
  });
  await file(
    'base.json',
    trivy(`${registry.host}/aibox/base@sha256:${'a'.repeat(64)}`, [
      {
        VulnerabilityID: 'CVE-2026-12345',
        PkgName: 'openssl',
        InstalledVersion: '3.0.13-0ubuntu3.1',
        FixedVersion: '3.0.13-0ubuntu3.2',
        Severity: 'CRITICAL',
        CVSS: { nvd: { V3Score: 9.8 } },
      },
      { VulnerabilityID: 'CVE-2026-22222', PkgName: 'zlib1g', InstalledVersion: '1:1.3', Severity: 'HIGH' },
    ]),
  );
  await file(
    'java.harbor.json',
    JSON.stringify({
      'application/vnd.security.vulnerability.report; version=1.1': {
        vulnerabilities: [
          {
            id: 'CVE-2026-12345',
            package: 'openssl',
            version: '3.0.13-0ubuntu3.1',
            fix_version: '3.0.13-0ubuntu3.2',
            severity: 'Critical',
            vendor_attributes: { CVSS: { nvd: { V3Score: 9.8 } } },
          },
          {
            id: 'CVE-2026-33333',
            package: 'tar',
            version: '1.35',
            fix_version: '1.35+dfsg-3.1',
            severity: 'Medium',
            vendor_attributes: { CVSS: { redhat: { V3Score: 5.3 } } },
          },
        ],
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  await registry.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const recordsTag = () => tagDigest(registry.url, 'aibox/cve-records', 'current');

describe('aiboxctl cve, bad input', () => {
  it.each([
    [
      'a malformed CVE id in a report',
      'badid.json',
      trivy('x', [{ VulnerabilityID: 'CVE-26-1', PkgName: 'p', InstalledVersion: '1' }]),
      /badid\.json.*"CVE-26-1".*CVE-YYYY-NNNN/,
    ],
    [
      'a report that is not Trivy/Harbor JSON',
      'grype.json',
      JSON.stringify({ matches: [] }),
      /grype\.json: neither a Trivy JSON report .* nor a Harbor vulnerability report/,
    ],
    ['a truncated report', 'cut.json', trivy('x', []).slice(0, 25), /cut\.json: not JSON, or truncated/],
    [
      'an unknown SchemaVersion',
      'v3.json',
      JSON.stringify({ SchemaVersion: 3, Results: [] }),
      /v3\.json: SchemaVersion 3 is not supported/,
    ],
    ['an empty file', 'empty.json', '', /empty\.json: the file is empty/],
  ])('%s: a clear error naming the file, exit 1, nothing recorded', async (_what, name, text, want) => {
    const path = await file(name, text);
    const r = await cli(['cve', 'triage', '--report', path, '--now', NOW, '--json']);
    expect(r.code).toBe(1);
    expect(jsonError(r)).toMatchObject({ code: 'SCAN_FAILED', message: expect.stringMatching(want) });
    expect(await recordsTag()).toBeNull();
  });

  it.each(['2026-02-18', '2026-02-18 10:00:00Z', '2026-02-30T10:00:00Z', 'yesterday'])(
    '--now %j: INVALID_DATE naming --now, exit 2',
    async (now) => {
      const r = await cli(['cve', 'triage', '--report', join(work, 'base.json'), '--now', now, '--json']);
      expect(r.code).toBe(2);
      expect(jsonError(r)).toMatchObject({ code: 'INVALID_DATE', message: expect.stringContaining('--now') });
      expect(await recordsTag()).toBeNull();
    },
  );

  it.each(['CVE-26-1', 'cve-2026-12345', 'CVE-2026-12345;id', ''])(
    'cve accept --cve %j: USAGE, exit 2',
    async (id) => {
      const r = await cli([
        'cve',
        'accept',
        '--cve',
        id,
        '--reason',
        'x',
        '--expires',
        '2099-01-01',
        '--json',
      ]);
      expect(r.code).toBe(2);
      expect(jsonError(r).message).toContain('--cve');
    },
  );

  it('a missing report file: IO_FAILED naming it', async () => {
    const r = await cli(['cve', 'triage', '--report', join(work, 'nope.json'), '--json']);
    expect(r.code).toBe(1);
    expect(jsonError(r)).toMatchObject({ code: 'IO_FAILED', message: expect.stringContaining('nope.json') });
  });

  it('many reports, read ahead while parsing: the first bad file in argument order is the one named', async () => {
    const good = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        file(
          `ok-${i}.json`,
          trivy('x', [{ VulnerabilityID: `CVE-2026-${1000 + i}`, PkgName: 'p', InstalledVersion: '1' }]),
        ),
      ),
    );
    const bad = await file('bad-in-order.json', JSON.stringify({ SchemaVersion: 3 }));
    const missing = join(work, 'missing-later.json');
    const args = (files: string[]) => [
      'cve',
      'triage',
      '--no-record',
      '--now',
      NOW,
      '--json',
      ...files.flatMap((f) => ['--report', f]),
    ];
    const r1 = await cli(args([...good.slice(0, 9), bad, ...good.slice(9), missing]));
    expect(r1.code).toBe(1);
    expect(jsonError(r1)).toMatchObject({
      code: 'SCAN_FAILED',
      message: expect.stringContaining('bad-in-order.json'),
    });
    const r2 = await cli(args([...good.slice(0, 10), missing, bad]));
    expect(jsonError(r2)).toMatchObject({
      code: 'IO_FAILED',
      message: expect.stringContaining('missing-later.json'),
    });
    const ok = await cli(args(good));
    expect(ok.code).toBe(0);
    expect(jsonOf<{ rows: Row[] }>(ok).rows.map((x) => x.id)).toEqual(
      Array.from({ length: 11 }, (_, i) => `CVE-2026-${1000 + i}`),
    );
  });
});

describe('aiboxctl cve triage, list, accept', () => {
  it('triages Trivy and Harbor reports together: one row per CVE, sorted by deadline, with the exact command', async () => {
    const r = await cli([
      'cve',
      'triage',
      '--report',
      join(work, 'base.json'),
      '--report',
      join(work, 'java.harbor.json'),
      '--now',
      NOW,
      '--json',
    ]);
    expect(envelopeOf(r).outcome).toBe('ok');
    const { rows, recorded } = jsonOf<{ rows: Row[]; recorded: boolean }>(r);
    expect(recorded).toBe(true);
    expect(rows.map((x) => [x.id, x.severity, x.deadline])).toEqual([
      ['CVE-2026-12345', 'Critical', '2026-02-18T14:00:00Z'],
      ['CVE-2026-22222', 'High', '2026-02-18T17:00:00Z'],
      ['CVE-2026-33333', 'Medium', '2026-02-22T02:00:00Z'],
    ]);
    // The Harbor file names no image: it is listed by its file name, and only known variants go into the command.
    expect(rows[0]!.variants).toEqual(['base', join(work, 'java.harbor.json')].sort());
    expect(rows[0]!.command).toBe(
      'aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8 --package openssl --variant base',
    );
    expect(rows[1]).toMatchObject({ cvssSource: 'severity', fixAvailable: false, command: null });
    expect(rows[2]).toMatchObject({ cvssSource: 'vendor:redhat', command: null });
    expect(await recordsTag()).toMatch(/^sha256:/);

    const text = await cli([
      'cve',
      'triage',
      '--report',
      join(work, 'base.json'),
      '--now',
      NOW,
      '--no-record',
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'Commands:\n  CVE-2026-12345: aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8 --package openssl --variant base',
    );
  });

  it('a re-triage later never moves first-seen; list shows the deadlines met or missed; accept records the reason', async () => {
    const later = await cli([
      'cve',
      'triage',
      '--report',
      join(work, 'base.json'),
      '--now',
      '2026-02-19T10:00:00Z',
      '--json',
    ]);
    const rows = jsonOf<{ rows: Row[] }>(later).rows;
    expect(rows.find((x) => x.id === 'CVE-2026-12345')).toMatchObject({
      firstSeen: NOW,
      deadline: '2026-02-18T14:00:00Z',
    });

    const acc = await cli([
      'cve',
      'accept',
      '--cve',
      'CVE-2026-33333',
      '--reason',
      'tar is not used at runtime',
      '--expires',
      '2099-12-31',
      '--json',
    ]);
    expect(acc.code, acc.stderr).toBe(0);
    const listed = jsonOf<{ records: ListedRecord[] }>(await cli(['cve', 'list', '--json'])).records;
    expect(listed.map((x) => [x.id, x.state.kind, x.firstSeen, x.deadlineMet])).toEqual([
      ['CVE-2026-12345', 'open', NOW, false],
      ['CVE-2026-22222', 'open', NOW, false],
      ['CVE-2026-33333', 'accepted', NOW, true],
    ]);
    const text = await cli(['cve', 'list']);
    expect(text.stdout).toMatch(/CVE-2026-12345 .* MISSED .* open/);
  });

  it('records signed by a foreign key are refused (exit 1), never trusted or overwritten', async () => {
    const w = await foreignCli([
      'cve',
      'triage',
      '--report',
      join(work, 'base.json'),
      '--now',
      NOW,
      '--json',
    ]);
    // The foreign config does not trust our key: it refuses our records before writing anything.
    expect(w.code).toBe(1);
    expect(jsonError(w)).toMatchObject({
      code: 'CVE_RECORDS_INVALID',
      message: expect.stringContaining('no valid signature'),
    });
    const before = await recordsTag();
    const list = await foreignCli(['cve', 'list', '--json']);
    expect(list.code).toBe(1);
    expect(jsonError(list).code).toBe('CVE_RECORDS_INVALID');
    expect(await recordsTag()).toBe(before);
  });
});

describe('aiboxctl cve triage IMAGE (scans first)', () => {
  it('scans the image with the configured scanner, then triages what it found, naming the variant', async () => {
    const client = createRegistryClient({ env: {} });
    try {
      await pushTinyImage(client, registry.host, 'aibox/base', 'latest', 'cve-e2e');
    } finally {
      await client.close();
    }
    const reports = join(work, 'stub-reports');
    await mkdir(reports, { recursive: true });
    await writeFile(join(reports, 'base.json'), await readFile(join(work, 'base.json'), 'utf8'));
    await writeFile(join(reports, 'clean.json'), trivy('clean', []));
    const r = await scanningCli(['cve', 'triage', 'base:latest', '--now', NOW, '--no-record', '--json'], {
      TRIVY_STUB_REPORT_DIR: reports,
    });
    expect(r.code, r.stderr).toBe(0);
    const rows = jsonOf<{ rows: Row[] }>(r).rows;
    expect(rows.map((x) => x.id)).toEqual(['CVE-2026-12345', 'CVE-2026-22222']);
    expect(rows[0]!.command).toBe(
      'aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8 --package openssl --variant base',
    );
  });
});
