/**
 * Test double for the `Scanner` port: a clean report for every image, or one CRITICAL finding for the
 * repositories named in `critical`; `failing` makes the scanner itself fail (the gate fails closed). Records
 * every image it was asked about. `advisories` (CVE tests) derive findings from the image itself: an image is
 * vulnerable unless one of its layers upgrades the package (`--only-upgrade … <pkg>`, a targeted patch) while the
 * advisory is `patchable`, or it was created at or after `fixedFrom` (the archive had the fix when it was built).
 */
export interface FakeAdvisory {
  readonly id: string;
  readonly pkg: string;
  readonly severity: Severity;
  readonly cvss?: number;
  /** Repository suffixes (e.g. `/tool`) that carry the package; default: every image. */
  readonly in?: readonly string[];
  /** Whether `apt-get install --only-upgrade <pkg>` finds the fix (default true). */
  readonly patchable?: boolean;
  /** Images created at or after this time (RFC 3339) are built with the fix. */
  readonly fixedFrom?: string;
}

import { AiboxError } from '../../src/core/errors.js';
import { parseReference } from '../../src/oci/reference.js';
import type { ImageStore } from '../../src/oci/store.js';
import { emptySummary, type Finding, type ScanReport, type Severity } from '../../src/scan/report.js';
import type { Scanner, ScanTarget } from '../../src/scan/scanner.js';

export class FakeScanner implements Scanner {
  readonly name = 'trivy' as const;
  readonly scanned: ScanTarget[] = [];
  /** Repository suffixes (e.g. `/app`) whose images have a CRITICAL finding. */
  critical = new Set<string>();
  failing = false;
  /** Fail only the n-th scan (1-based): a scanner that dies mid-way. */
  failOnCall: number | undefined;
  advisories: FakeAdvisory[] = [];
  /** Where advisory scans read image layers (set by the test world). */
  store: ImageStore | undefined;

  async scan(image: ScanTarget): Promise<ScanReport> {
    this.scanned.push(image);
    if (this.failing || this.failOnCall === this.scanned.length) {
      throw new AiboxError({ code: 'SCAN_FAILED', message: `trivy failed on ${image.reference} (fake)` });
    }
    if (this.advisories.length > 0) return this.#advisoryScan(image);
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

  async #advisoryScan(image: ScanTarget): Promise<ScanReport> {
    if (!this.store) throw new Error('FakeScanner.store is not set');
    const ref = parseReference(image.reference);
    const repo = { registry: ref.registry, repository: ref.repository };
    const m = JSON.parse(
      new TextDecoder().decode((await this.store.getManifest({ ...repo, digest: image.digest })).bytes),
    ) as { config: { digest: string }; layers: { digest: string }[] };
    const cfg = JSON.parse(new TextDecoder().decode(await this.store.getBlob(repo, m.config.digest))) as {
      created?: string;
    };
    const texts: string[] = [];
    for (const l of m.layers) texts.push(new TextDecoder().decode(await this.store.getBlob(repo, l.digest)));
    const findings: Finding[] = [];
    for (const a of this.advisories) {
      if (a.in && !a.in.some((s) => image.reference.endsWith(s))) continue;
      const patched =
        (a.patchable ?? true) &&
        texts.some((t) => t.includes('--only-upgrade') && new RegExp(`[ \\t]${a.pkg}(\\s|\\\\|$)`).test(t));
      const fresh = a.fixedFrom !== undefined && Date.parse(cfg.created ?? '') >= Date.parse(a.fixedFrom);
      if (patched || fresh) continue;
      findings.push({
        id: a.id,
        pkg: a.pkg,
        installedVersion: '1.0-1',
        fixedVersion: '1.0-2',
        severity: a.severity,
        cvss: a.cvss === undefined ? {} : { nvd: { v3Score: a.cvss } },
      });
    }
    const summary = emptySummary();
    for (const f of findings) summary[f.severity]++;
    return { scanner: 'trivy', image: image.reference, digest: image.digest, summary, findings };
  }
}
