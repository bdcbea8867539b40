/**
 * `aiboxctl scan` in-process (the real commander wiring and runner, a fake registry client, the
 * trivy stub as scanner): exit codes 0 / 3 / 1 / 2, text and --json output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { runCli } from '../../src/cli/app.js';
import type { Context } from '../../src/cli/command.js';
import { registerScanCommands } from '../../src/cli/commands/scan.js';
import { silentLogger } from '../../src/core/log.js';
import { validatePlatformConfig, type PlatformConfig } from '../../src/config/schema.js';
import type { Reference } from '../../src/oci/reference.js';
import { TRIVY_STUB, trivyReportText } from '../doubles/trivy-stub.js';
import { envelopeOf, jsonOf } from '../helpers/cli.js';

const DIGEST = `sha256:${'e'.repeat(64)}`;
let dir: string;
let critical: string;
let clean: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-scan-cli-'));
  critical = join(dir, 'critical.json');
  clean = join(dir, 'clean.json');
  await writeFile(
    critical,
    trivyReportText({
      artifactName: `127.0.0.1:5000/aibox/base@${DIGEST}`,
      repoDigest: DIGEST,
      results: [
        {
          target: 'base (ubuntu 24.04)',
          vulns: [
            {
              id: 'CVE-2026-0001',
              pkg: 'openssl',
              installed: '3.0.13-0ubuntu3',
              fixed: '3.0.13-0ubuntu3.5',
              severity: 'CRITICAL',
              title: 'openssl: remote code execution',
              v3: { nvd: 9.8 },
            },
            {
              id: 'CVE-2026-0002',
              pkg: 'curl',
              installed: '8.5.0-2ubuntu10',
              severity: 'MEDIUM',
              v3: { nvd: 5.3 },
            },
          ],
        },
      ],
    }),
  );
  await writeFile(
    clean,
    trivyReportText({
      artifactName: `127.0.0.1:5000/aibox/base@${DIGEST}`,
      repoDigest: DIGEST,
      results: [{ target: 'base (ubuntu 24.04)' }],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
  heads: Reference[];
}

async function cli(
  argv: string[],
  opts: { scan?: Partial<PlatformConfig['scan']>; env?: Record<string, string>; found?: boolean } = {},
): Promise<Run> {
  let out = '';
  let err = '';
  const heads: Reference[] = [];
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s) };
  const base = validatePlatformConfig({ registry: { project: 'aibox' }, scan: { trivyPath: TRIVY_STUB } });
  const config: PlatformConfig = { ...base, scan: { ...base.scan, ...opts.scan } };
  const env = { TRIVY_STUB_MODE: 'report', TRIVY_STUB_REPORT: critical, ...opts.env };
  const client = {
    headManifest: async (ref: Reference) => {
      heads.push(ref);
      return opts.found === false
        ? null
        : { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 1234 };
    },
  };
  const code = await runCli('aiboxctl', [registerScanCommands], argv, {
    io,
    env,
    cwd: dir,
    now: () => new Date('2026-02-22T02:00:00Z'),
    makeContext: (global) =>
      ({
        io,
        logger: silentLogger,
        exec: createExec(),
        env,
        cwd: dir,
        global,
        now: () => new Date('2026-02-22T02:00:00Z'),
        interactive: false,
        config: async () => ({ config, path: undefined, dir }),
        target: async () => ({ client, host: '127.0.0.1:5000', project: 'aibox' }),
        dispose: async () => {},
      }) as unknown as Context,
  });
  return { code, out, err, heads };
}

describe('aiboxctl scan', () => {
  describe('when a CRITICAL finding is present', () => {
    it('exits 3, prints the summary and blocking table, and the refusal on stderr', async () => {
      const r = await cli(['scan', 'base']);
      expect(r.code).toBe(3);
      expect(r.heads).toEqual([{ registry: '127.0.0.1:5000', repository: 'aibox/base', tag: 'latest' }]);
      expect(r.out).toMatchInlineSnapshot(`
        "Image:     127.0.0.1:5000/aibox/base:latest
        Digest:    sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
        Scanner:   trivy
        Findings:  1 critical, 0 high, 1 medium, 0 low, 0 unknown (2 total)
        Gate:      FAILED: 1 blocking finding(s) at CRITICAL

        Blocking findings:
        SEVERITY  ID             PACKAGE  INSTALLED        FIXED              CVSS  TITLE
        CRITICAL  CVE-2026-0001  openssl  3.0.13-0ubuntu3  3.0.13-0ubuntu3.5  9.8   openssl: remote code execution
        "
      `);
      expect(r.err).toContain(
        `error: scan gate refused 127.0.0.1:5000/aibox/base:latest@${DIGEST}: 1 finding(s) at CRITICAL (CVE-2026-0001)`,
      );
      expect(r.err).toMatch(/hint: .*scan\.ignore/);
    });

    it.each([[['scan', 'base', '--json']], [['--json', 'scan', 'base']]])(
      '%j prints the full evaluation as JSON',
      async (argv) => {
        const r = await cli(argv);
        expect(r.code).toBe(3);
        const doc = jsonOf<Record<string, any>>(r);
        expect(doc).toMatchObject({
          image: '127.0.0.1:5000/aibox/base:latest',
          digest: DIGEST,
          scanner: 'trivy',
          passed: false,
          error: { code: 'POLICY_REFUSED' },
          evaluation: {
            passed: false,
            failOn: ['CRITICAL'],
            summary: { total: 2, blocking: 1, ignored: 0 },
            expiredIgnores: [],
          },
        });
        expect(doc.evaluation.blocking[0].id).toBe('CVE-2026-0001');
        expect(doc.report.findings).toHaveLength(2);
      },
    );

    it('exits 0 when a live ignore entry covers it', async () => {
      const r = await cli(['scan', 'base:latest'], {
        scan: {
          ignore: [{ id: 'CVE-2026-0001', reason: 'patched in the next build', expires: '2026-03-01' }],
        },
      });
      expect(r.code).toBe(0);
      expect(r.out).toContain('Gate:      passed (fails on CRITICAL)');
      expect(r.out).toContain(
        'CVE-2026-0001 CRITICAL in openssl 3.0.13-0ubuntu3: patched in the next build (until 2026-03-01)',
      );
    });

    it('exits 3 again when that entry has expired, and lists it', async () => {
      const r = await cli(['scan', 'base'], {
        scan: {
          ignore: [{ id: 'CVE-2026-0001', reason: 'patched in the next build', expires: '2026-02-21' }],
        },
      });
      expect(r.code).toBe(3);
      expect(r.out).toContain(
        'Expired ignore entries, no longer applied (1):\n  CVE-2026-0001 expired 2026-02-21: patched in the next build',
      );
    });
  });

  it('exits 0 on a clean image', async () => {
    const r = await cli(['scan', 'base'], { env: { TRIVY_STUB_REPORT: clean } });
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  });

  describe('when the gate cannot run', () => {
    it('exits 1 when the scanner fails', async () => {
      const r = await cli(['scan', 'base'], { env: { TRIVY_STUB_MODE: 'fail' } });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        /^error: trivy could not scan 127\.0\.0\.1:5000\/aibox\/base:latest@sha256:e+: exited with code 1/,
      );
    });

    it('exits 1 with --json carrying SCAN_FAILED for garbage output', async () => {
      const r = await cli(['scan', 'base', '--json'], { env: { TRIVY_STUB_MODE: 'garbage' } });
      expect(r.code).toBe(1);
      expect(envelopeOf(r)).toMatchObject({ outcome: 'failed', exitCode: 1, error: { code: 'SCAN_FAILED' } });
    });

    it('exits 1 when trivy is missing (--trivy-path override)', async () => {
      const r = await cli(['scan', 'base', '--trivy-path', join(dir, 'nope')]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`trivy not found at "${join(dir, 'nope')}"`);
    });

    it('exits 2 with a hint when scanning is disabled, and --scanner overrides it', async () => {
      const r = await cli(['scan', 'base'], { scan: { scanner: 'none' } });
      expect(r.code).toBe(2);
      expect(r.err).toContain('error: cannot scan base: scanning is disabled (scan.scanner: none)');
      expect(r.err).toContain('hint: Pass --scanner trivy or --scanner harbor');
      expect((await cli(['scan', 'base', '--scanner', 'trivy'], { scan: { scanner: 'none' } })).code).toBe(3);
    });

    it('exits 2 for an unknown --scanner value and for an invalid ignore entry', async () => {
      expect((await cli(['scan', 'base', '--scanner', 'grype'])).code).toBe(2);
      const r = await cli(['scan', 'base'], {
        scan: { ignore: [{ id: 'CVE-1', reason: '', expires: '2026-03-01' }] },
      });
      expect(r.code).toBe(2);
      expect(r.err).toContain('scan.ignore[0].reason is required');
    });

    it('exits 1 when the image does not exist', async () => {
      const r = await cli(['scan', 'base:nope'], { found: false });
      expect(r.code).toBe(1);
      expect(r.err).toContain('error: image 127.0.0.1:5000/aibox/base:nope not found');
    });
  });
});
