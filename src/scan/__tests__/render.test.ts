import { describe, expect, it } from 'vitest';
import { evaluateScan } from '../policy.js';
import { renderScanText } from '../render.js';
import type { Finding, ScanReport } from '../report.js';

const DIGEST = `sha256:${'b'.repeat(64)}`;
const NOW = new Date('2026-02-22T02:00:00Z');

const findings: Finding[] = [
  {
    id: 'CVE-2019-18224',
    pkg: 'libidn2-0',
    installedVersion: '2.0.5-1',
    fixedVersion: '2.0.5-1+deb10u1',
    severity: 'CRITICAL',
    title: 'libidn2: heap-based buffer overflow in idn2_to_ascii_4i in lib/lookup.c',
    cvss: { nvd: { v3Score: 9.8 }, redhat: { v3Score: 5.6 } },
  },
  {
    id: 'CVE-2026-0001',
    pkg: 'openssl',
    installedVersion: '3.0.13-0ubuntu3',
    severity: 'CRITICAL',
    title: 'evil\u001b[31m title',
    cvss: {},
  },
  {
    id: 'CVE-2020-8165',
    pkg: 'activesupport',
    installedVersion: '6.0.2.1',
    fixedVersion: '6.0.3.1, 5.2.4.3',
    severity: 'HIGH',
    cvss: { ghsa: { v3Score: 9.8 } },
  },
  {
    id: 'CVE-2019-18276',
    pkg: 'bash',
    installedVersion: '5.2.21-2ubuntu4',
    severity: 'LOW',
    cvss: { nvd: { v3Score: 7.8 } },
  },
];
const report: ScanReport = {
  scanner: 'trivy',
  image: 'x',
  summary: { CRITICAL: 2, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 0 },
  findings,
};

describe('renderScanText', () => {
  it('shows the summary, blocking table, ignored and expired entries (golden)', async () => {
    const evaluation = evaluateScan(
      report,
      {
        failOn: ['CRITICAL', 'HIGH'],
        ignore: [
          {
            id: 'CVE-2020-8165',
            reason: 'activesupport is a build-time gem, not shipped',
            expires: '2026-03-31',
          },
          { id: 'CVE-2024-9999', reason: 'old waiver', expires: '2026-01-31' },
        ],
      },
      NOW,
    );
    const text = renderScanText({
      image: '127.0.0.1:5000/aibox/base:latest',
      digest: DIGEST,
      scanner: 'trivy',
      evaluation,
    });
    await expect(`${text}\n`).toMatchFileSnapshot('./__golden__/scan-blocked.txt');
  });

  it('shows a passing gate (golden)', async () => {
    const evaluation = evaluateScan(
      { ...report, findings: findings.slice(3) },
      { failOn: ['CRITICAL'], ignore: [] },
      NOW,
    );
    const text = renderScanText({
      image: 'harbor.internal/aibox/java:21-24.04-20260221',
      digest: DIGEST,
      scanner: 'harbor',
      evaluation,
    });
    await expect(`${text}\n`).toMatchFileSnapshot('./__golden__/scan-passed.txt');
  });
});
