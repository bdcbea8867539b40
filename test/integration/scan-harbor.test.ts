/**
 * HarborScanner and its transport over real loopback HTTP against the Harbor double: trigger,
 * poll, read; nested repository names; and every fault failing the gate with a clear reason,
 * without the password ever showing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { AiboxError } from '../../src/core/errors.js';
import { streamLogger } from '../../src/core/log.js';
import { scannerFromConfig } from '../../src/scan/factory.js';
import { evaluateScan } from '../../src/scan/policy.js';
import type { Scanner } from '../../src/scan/scanner.js';
import { startHarborDouble, type HarborDouble } from '../doubles/harbor.js';

const USER = 'robot$aibox+ci';
const PASSWORD = 'Harb0r-r0bot-s3cret';
const dg = (c: string) => `sha256:${c.repeat(64)}`;

let harbor: HarborDouble;
let logs: string[] = [];

beforeAll(async () => {
  harbor = await startHarborDouble({
    project: 'aibox',
    users: { [USER]: PASSWORD, 'robot$aibox+reader': 'r' },
    withoutScanPermission: ['robot$aibox+reader'],
  });
  harbor.addArtifact({
    repository: 'base',
    digest: dg('1'),
    vulnerabilities: [
      {
        id: 'CVE-2019-18224',
        package: 'libidn2-0',
        version: '2.0.5-1',
        fix_version: '2.0.5-1+deb10u1',
        severity: 'Critical',
        cvss: { nvd: 9.8, redhat: 5.6 },
      },
      { id: 'CVE-2019-18276', package: 'bash', version: '5.2', severity: 'Low', cvss: { nvd: 7.8 } },
    ],
  });
  harbor.addArtifact({
    repository: 'team/app',
    digest: dg('2'),
    statuses: ['Running', 'Success'],
    vulnerabilities: [],
  });
  harbor.addArtifact({ repository: 'broken', digest: dg('3'), statuses: ['Pending', 'Running', 'Error'] });
  harbor.addArtifact({ repository: 'stuck', digest: dg('4'), statuses: ['Running'] });
});
afterAll(async () => {
  await harbor.stop();
});

/** A fake clock: sleeping advances time instantly, so polling is bounded without real waits. */
function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

function scanner(
  env: Record<string, string | undefined> = { HARBOR_USERNAME: USER, HARBOR_PASSWORD: PASSWORD },
  timeoutMs = 60_000,
): Scanner {
  logs = [];
  const c = clock();
  return scannerFromConfig(
    { scanner: 'harbor', trivyPath: 'trivy' },
    { host: 'harbor.internal', project: 'aibox', insecure: [] },
    {
      exec: createExec(),
      env,
      logger: streamLogger('debug', (l) => logs.push(l)),
      now: c.now,
      sleep: c.sleep,
    },
    { harborUrl: harbor.url, harborPollIntervalMs: 1000, harborTimeoutMs: timeoutMs },
  )!;
}

async function failure(p: Promise<unknown>): Promise<AiboxError> {
  try {
    await p;
  } catch (e: unknown) {
    if (e instanceof AiboxError) return e;
    throw e;
  }
  throw new Error('expected the scan to fail');
}

function noSecret(e: AiboxError): void {
  const token = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  const all = JSON.stringify({ m: e.message, h: e.hint, d: e.details, c: String(e.cause) }) + logs.join('');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(token);
}

describe('HarborScanner against the Harbor double', () => {
  describe('when the scan succeeds', () => {
    it('triggers, polls until Success and parses the vulnerability addition', async () => {
      const before = harbor.requests.length;
      const report = await scanner().scan({
        reference: 'harbor.internal/aibox/base:latest',
        digest: dg('1'),
      });
      expect(report).toMatchObject({ scanner: 'harbor', digest: dg('1'), summary: { CRITICAL: 1, LOW: 1 } });
      expect(report.findings[0]!.cvss).toEqual({
        nvd: { v3Score: 9.8, v3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
        redhat: { v3Score: 5.6, v3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      });
      expect(evaluateScan(report, { failOn: ['CRITICAL'], ignore: [] }, new Date()).passed).toBe(false);

      const mine = harbor.requests.slice(before);
      const base = `/api/v2.0/projects/aibox/repositories/base/artifacts/${dg('1')}`;
      expect(mine.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
        `POST ${base}/scan`,
        `GET ${base}`,
        `GET ${base}`,
        `GET ${base}`,
        `GET ${base}/additions/vulnerabilities`,
      ]);
      expect(mine.every((r) => r.user === USER && r.headers.cookie === undefined)).toBe(true);
      expect(JSON.parse(mine[0]!.body)).toEqual({ scan_type: 'vulnerability' });
      expect(mine[1]!.headers['x-accept-vulnerabilities']).toContain(
        'application/vnd.security.vulnerability.report; version=1.1',
      );
    });

    it('double-encodes a nested repository name', async () => {
      const before = harbor.requests.length;
      const report = await scanner().scan({ reference: 'harbor.internal/aibox/team/app', digest: dg('2') });
      expect(report.findings).toEqual([]);
      expect(harbor.requests[before]!.rawPath).toBe(
        `/api/v2.0/projects/aibox/repositories/team%252Fapp/artifacts/${dg('2')}/scan`,
      );
    });
  });

  describe('when the scan cannot produce a report, the gate fails', () => {
    it('scan status Error → SCAN_FAILED pointing at the scanner log', async () => {
      const e = await failure(
        scanner().scan({ reference: 'harbor.internal/aibox/broken:x', digest: dg('3') }),
      );
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(
        /scan of harbor\.internal\/aibox\/broken:x@sha256:3+ ended with status Error \(scanner log: GET \/api\/v2\.0\/.*\/scan\/[0-9a-f-]+\/log\)/,
      );
      noSecret(e);
    });

    it('a scan that never finishes → SCAN_FAILED after the bounded wait', async () => {
      const e = await failure(
        scanner(undefined, 5_000).scan({ reference: 'harbor.internal/aibox/stuck:x', digest: dg('4') }),
      );
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(/did not finish scanning .* within 5 s \(last status Running\)/);
    });

    it('wrong password → 401 REGISTRY_AUTH, with no secret in message, hint or logs', async () => {
      const bad = 'wr0ng-pa55word';
      const e = await failure(
        scanner({ HARBOR_USERNAME: USER, HARBOR_PASSWORD: bad }).scan({
          reference: 'harbor.internal/aibox/base',
          digest: dg('1'),
        }),
      );
      expect(e.code).toBe('REGISTRY_AUTH');
      expect(e.message).toMatch(
        /Harbor rejected the credentials of "robot\$aibox\+ci" \(401\).*UNAUTHORIZED: unauthorized.*X-Request-Id req-/,
      );
      expect(e.hint).toMatch(/HARBOR_USERNAME/);
      expect(JSON.stringify({ m: e.message, h: e.hint, d: e.details }) + logs.join('')).not.toContain(bad);
    });

    it('missing scan permission → 403 REGISTRY_AUTH naming the permissions', async () => {
      const e = await failure(
        scanner({ HARBOR_USERNAME: 'robot$aibox+reader', HARBOR_PASSWORD: 'r' }).scan({
          reference: 'harbor.internal/aibox/base',
          digest: dg('1'),
        }),
      );
      expect(e.code).toBe('REGISTRY_AUTH');
      expect(e.hint).toContain('scan:create');
    });

    it('credentials not set → REGISTRY_AUTH before any request', async () => {
      const before = harbor.requests.length;
      let err: unknown;
      try {
        scanner({});
      } catch (e: unknown) {
        err = e;
      }
      expect((err as AiboxError).code).toBe('REGISTRY_AUTH');
      expect((err as AiboxError).message).toBe(
        'Harbor credentials missing: HARBOR_USERNAME and HARBOR_PASSWORD not set',
      );
      expect(harbor.requests.length).toBe(before);
    });

    it('unknown artifact → NOT_FOUND; image outside the project → USAGE', async () => {
      const e = await failure(scanner().scan({ reference: 'harbor.internal/aibox/base', digest: dg('9') }));
      expect(e.code).toBe('NOT_FOUND');
      noSecret(e);
      const u = await failure(scanner().scan({ reference: 'harbor.internal/other/base', digest: dg('1') }));
      expect(u.code).toBe('USAGE');
    });

    it('Harbor unreachable → REGISTRY_UNREACHABLE', async () => {
      const c = clock();
      const s = scannerFromConfig(
        { scanner: 'harbor', trivyPath: 'trivy' },
        { host: '127.0.0.1:1', project: 'aibox', insecure: [] },
        {
          exec: createExec(),
          env: { HARBOR_USERNAME: USER, HARBOR_PASSWORD: PASSWORD },
          now: c.now,
          sleep: c.sleep,
        },
      )!;
      const e = await failure(s.scan({ reference: '127.0.0.1:1/aibox/base', digest: dg('1') }));
      expect(e.code).toBe('REGISTRY_UNREACHABLE');
      expect(e.message).toMatch(/cannot reach Harbor at http:\/\/127\.0\.0\.1:1/);
      noSecret(e);
    });
  });
});
