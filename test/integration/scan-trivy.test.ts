/**
 * TrivyScanner through the real Exec against the trivy stub executable: the argv aibox passes, a
 * report parsed end to end, and every fault failing the gate with a clear reason.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { AiboxError } from '../../src/core/errors.js';
import { streamLogger } from '../../src/core/log.js';
import { scannerFromConfig } from '../../src/scan/factory.js';
import { evaluateScan } from '../../src/scan/policy.js';
import { TrivyScanner } from '../../src/scan/trivy.js';
import { TRIVY_STUB, trivyReportText } from '../doubles/trivy-stub.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const REF = '127.0.0.1:5000/aibox/base:latest';

let dir: string;
let logs: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-scan-trivy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scanner(
  mode: string,
  report?: string,
  extra: Record<string, string> = {},
  trivyPath = TRIVY_STUB,
) {
  logs = [];
  const reportPath = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  if (report !== undefined) await writeFile(reportPath, report);
  const argsFile = `${reportPath}.args`;
  const exec = createExec(streamLogger('debug', (l) => logs.push(l)));
  const env = {
    TRIVY_STUB_MODE: mode,
    TRIVY_STUB_REPORT: reportPath,
    TRIVY_STUB_ARGS_FILE: argsFile,
    ...extra,
  };
  const s = scannerFromConfig(
    { scanner: 'trivy', trivyPath },
    { host: 'harbor.internal', project: 'aibox', insecure: ['registry.lan:5000'] },
    { exec, env, logger: streamLogger('debug', (l) => logs.push(l)) },
  );
  return { s: s!, args: async () => JSON.parse(await readFile(argsFile, 'utf8')) as string[] };
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

describe('TrivyScanner with the trivy stub', () => {
  describe('when trivy writes a report', () => {
    it('runs trivy image by digest with JSON output and parses the findings', async () => {
      const text = trivyReportText({
        artifactName: `127.0.0.1:5000/aibox/base@${DIGEST}`,
        repoDigest: DIGEST,
        results: [
          {
            target: 'base (ubuntu 24.04)',
            vulns: [
              {
                id: 'CVE-2026-0001',
                pkg: 'openssl',
                installed: '3.0.13',
                fixed: '3.0.13-1',
                severity: 'CRITICAL',
                v3: { nvd: 9.8 },
              },
            ],
          },
        ],
      });
      const { s, args } = await scanner('report', text);
      const report = await s.scan({ reference: REF, digest: DIGEST });
      expect(await args()).toEqual([
        'image',
        '--format',
        'json',
        '--quiet',
        '--scanners',
        'vuln',
        '--insecure',
        `127.0.0.1:5000/aibox/base@${DIGEST}`,
      ]);
      expect(report).toMatchObject({ scanner: 'trivy', digest: DIGEST, summary: { CRITICAL: 1 } });
      expect(evaluateScan(report, { failOn: ['CRITICAL'], ignore: [] }, new Date()).passed).toBe(false);
    });

    it('passes --insecure only for loopback and registry.insecure hosts', async () => {
      const text = trivyReportText({ artifactName: 'x' });
      const a = await scanner('report', text);
      await a.s.scan({ reference: 'harbor.internal/aibox/base:latest', digest: DIGEST });
      expect(await a.args()).not.toContain('--insecure');
      const b = await scanner('report', text);
      await b.s.scan({ reference: 'registry.lan:5000/aibox/base', digest: DIGEST });
      expect(await b.args()).toContain('--insecure');
    });

    it('fails when trivy reports on another digest', async () => {
      const other = `sha256:${'d'.repeat(64)}`;
      const { s } = await scanner('report', trivyReportText({ artifactName: 'x', repoDigest: other }));
      const e = await failure(s.scan({ reference: REF, digest: DIGEST }));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toContain(`trivy reported on ${other}, not on the requested ${DIGEST}`);
    });
  });

  describe('when the scanner fails, the gate fails', () => {
    it('non-zero exit → SCAN_FAILED with the stderr tail, password redacted', async () => {
      const { s } = await scanner('fail', undefined, { TRIVY_PASSWORD: 'trivy-s3cret-pw' });
      const e = await failure(s.scan({ reference: REF, digest: DIGEST }));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(
        /^trivy could not scan 127\.0\.0\.1:5000\/aibox\/base:latest@sha256:c+: exited with code 1: .*FATAL\tFatal error/s,
      );
      expect(e.hint).toMatch(/gate fails/);
      const all =
        JSON.stringify({
          m: e.message,
          h: e.hint,
          d: e.details,
          c: String((e.cause as Error | undefined)?.message),
        }) + logs.join('');
      expect(all).not.toContain('trivy-s3cret-pw');
    });

    it('missing binary → TOOL_MISSING naming the path and how to set it', async () => {
      const { s } = await scanner('report', '', {}, join(dir, 'no-such-trivy'));
      const e = await failure(s.scan({ reference: REF, digest: DIGEST }));
      expect(e.code).toBe('TOOL_MISSING');
      expect(e.message).toContain('no-such-trivy');
      expect(e.hint).toMatch(/scan\.trivyPath|--trivy-path/);
    });

    it.each([
      ['garbage', /invalid Trivy report from trivy \(.*\): not JSON/],
      ['empty', /invalid Trivy report from trivy \(.*\): output is empty/],
    ])('%s output → SCAN_FAILED', async (mode, rule) => {
      const { s } = await scanner(mode);
      const e = await failure(s.scan({ reference: REF, digest: DIGEST }));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(rule);
    });

    it('a scan over the time limit → SCAN_FAILED', async () => {
      const slow = join(dir, 'slow-trivy.sh');
      await writeFile(slow, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
      const s = new TrivyScanner({ exec: createExec(), trivyPath: slow, timeoutMs: 200 });
      const e = await failure(s.scan({ reference: REF, digest: DIGEST }));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.message).toMatch(/did not finish within/);
    });
  });
});
