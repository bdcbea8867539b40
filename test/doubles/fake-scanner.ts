/**
 * Test double for the `Scanner` port: a clean report for every image, or one CRITICAL finding for the
 * repositories named in `critical`; `failing` makes the scanner itself fail (the gate fails closed). Records
 * every image it was asked about.
 */
import { AiboxError } from '../../src/core/errors.js';
import { emptySummary, type ScanReport } from '../../src/scan/report.js';
import type { Scanner, ScanTarget } from '../../src/scan/scanner.js';

export class FakeScanner implements Scanner {
  readonly name = 'trivy' as const;
  readonly scanned: ScanTarget[] = [];
  /** Repository suffixes (e.g. `/app`) whose images have a CRITICAL finding. */
  critical = new Set<string>();
  failing = false;

  async scan(image: ScanTarget): Promise<ScanReport> {
    this.scanned.push(image);
    if (this.failing) {
      throw new AiboxError({ code: 'SCAN_FAILED', message: `trivy failed on ${image.reference} (fake)` });
    }
    const bad = [...this.critical].some((s) => image.reference.endsWith(s));
    const summary = { ...emptySummary(), ...(bad ? { CRITICAL: 1 } : {}) };
    return {
      scanner: 'trivy',
      image: image.reference,
      digest: image.digest,
      summary,
      findings: bad
        ? [
            {
              id: 'CVE-2026-31337',
              pkg: 'openssl',
              installedVersion: '3.0.13-0ubuntu3',
              fixedVersion: '3.0.13-0ubuntu3.5',
              severity: 'CRITICAL',
              cvss: {},
            },
          ]
        : [],
    };
  }
}
