import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { runScanGate } from '../gate.js';
import type { ScanReport } from '../report.js';
import type { Scanner } from '../scanner.js';

const IMAGE = { reference: 'harbor.internal/aibox/base:24.04-20260222', digest: `sha256:${'f'.repeat(64)}` };
const NOW = new Date('2026-02-22T02:00:00Z');

function fake(report: ScanReport | Error): Scanner {
  return {
    name: 'trivy',
    scan: async () => {
      if (report instanceof Error) throw report;
      return report;
    },
  };
}

const critical: ScanReport = {
  scanner: 'trivy',
  image: IMAGE.reference,
  summary: { CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
  findings: [{ id: 'CVE-2026-0001', pkg: 'openssl', installedVersion: '3', severity: 'CRITICAL', cvss: {} }],
};
const policy = { failOn: ['CRITICAL'], ignore: [] };

describe('runScanGate', () => {
  it('marks the image dev.aibox.scan=skipped when no scanner is configured', async () => {
    expect(await runScanGate(undefined, IMAGE, policy, NOW)).toEqual({
      status: 'skipped',
      annotations: { 'dev.aibox.scan': 'skipped' },
    });
  });

  it('still validates the policy when scanning is off', async () => {
    await expect(
      runScanGate(
        undefined,
        IMAGE,
        { failOn: ['CRITICAL'], ignore: [{ id: 'CVE-1', reason: '', expires: '2026-01-01' }] },
        NOW,
      ),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('returns a refusal with its POLICY_REFUSED error', async () => {
    const r = await runScanGate(fake(critical), IMAGE, policy, NOW);
    expect(r.status).toBe('refused');
    if (r.status === 'refused') expect(r.error.code).toBe('POLICY_REFUSED');
  });

  it('passes and marks dev.aibox.scan=passed', async () => {
    const r = await runScanGate(
      fake({ ...critical, findings: [], summary: { ...critical.summary, CRITICAL: 0 } }),
      IMAGE,
      policy,
      NOW,
    );
    expect(r).toMatchObject({ status: 'passed', annotations: { 'dev.aibox.scan': 'passed' } });
  });

  it('lets scanner failures propagate (the gate never passes silently)', async () => {
    const boom = new AiboxError({ code: 'SCAN_FAILED', message: 'trivy could not scan' });
    await expect(runScanGate(fake(boom), IMAGE, policy, NOW)).rejects.toBe(boom);
  });
});
