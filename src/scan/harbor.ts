/**
 * Harbor adapter: asks Harbor to scan an artifact by digest, polls the artifact's scan overview
 * until the scan ends (bounded), then reads the vulnerability addition. Endpoints: harbor.md §3.
 * A scan that ends in Error/Stopped, never ends, or cannot be read throws: the gate fails closed.
 */
import * as z from 'zod/mini';
import { AiboxError } from '../core/errors.js';
import { safeParseEn } from '../core/zod-en.js';
import { silentLogger, type Logger } from '../core/log.js';
import { parseReference } from '../oci/reference.js';
import { harborRepositorySegment, type HarborTransport } from './harbor-transport.js';
import { HARBOR_REPORT_MIME_TYPES, parseHarborReport, type ScanReport } from './report.js';
import type { Scanner, ScanTarget } from './scanner.js';

export interface HarborScannerOptions {
  readonly transport: HarborTransport;
  /** Harbor project holding the images (config `registry.project`). */
  readonly project: string;
  /** Delay between polls; default 2 s. */
  readonly pollIntervalMs?: number;
  /** Give up waiting for the scan after this long; default 10 minutes. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** Injected for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const ACCEPT_VULNERABILITIES = HARBOR_REPORT_MIME_TYPES.join(', ');
const FINAL_FAILURES = new Set(['Error', 'Stopped']);

const artifactSchema = z.object({
  digest: z.optional(z.string()),
  scan_overview: z.nullish(
    z.record(
      z.string(),
      z.nullish(z.object({ scan_status: z.optional(z.string()), report_id: z.optional(z.string()) })),
    ),
  ),
});

/** Scans through Harbor's REST API (its configured scanner, usually Trivy). */
export class HarborScanner implements Scanner {
  readonly name = 'harbor' as const;
  readonly #o: HarborScannerOptions;

  constructor(options: HarborScannerOptions) {
    this.#o = options;
  }

  /** Path of the artifact, from a reference in the configured project. */
  #artifactPath(image: ScanTarget): string {
    const ref = parseReference(image.reference.replace(/@.*$/, ''));
    const prefix = `${this.#o.project}/`;
    if (!ref.repository.startsWith(prefix)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `cannot scan ${image.reference} in Harbor: it is not in project "${this.#o.project}"`,
        hint: 'Harbor scans images of the configured registry project only; use the trivy scanner for other images',
      });
    }
    const repo = ref.repository.slice(prefix.length);
    return `/projects/${encodeURIComponent(this.#o.project)}/repositories/${harborRepositorySegment(repo)}/artifacts/${image.digest}`;
  }

  /** Trigger a scan, wait for it, and return the parsed report. */
  async scan(image: ScanTarget): Promise<ScanReport> {
    const o = this.#o;
    const logger = o.logger ?? silentLogger;
    const now = o.now ?? Date.now;
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const interval = o.pollIntervalMs ?? 2_000;
    const timeout = o.timeoutMs ?? 10 * 60_000;
    const path = this.#artifactPath(image);
    const shown = `${image.reference}@${image.digest}`;

    logger.info(`Scanning ${shown} in Harbor (${o.transport.baseUrl})`);
    await o.transport.request('POST', `${path}/scan`, {
      body: { scan_type: 'vulnerability' },
      expect: [202],
    });

    const deadline = now() + timeout;
    for (;;) {
      const res = await o.transport.request('GET', path, {
        query: { with_scan_overview: 'true', with_tag: 'false' },
        headers: { 'x-accept-vulnerabilities': ACCEPT_VULNERABILITIES },
        expect: [200],
      });
      const parsed = safeParseEn(artifactSchema, res.body);
      if (!parsed.success) {
        throw new AiboxError({
          code: 'SCAN_FAILED',
          message: `Harbor's artifact ${shown} does not look like a Harbor v2 artifact: ${parsed.error.issues[0]?.message ?? 'bad shape'}`,
          hint: 'Check that scan.harbor.url points at Harbor 2.x',
        });
      }
      if (parsed.data.digest !== undefined && parsed.data.digest !== image.digest) {
        throw new AiboxError({
          code: 'SCAN_FAILED',
          message: `Harbor answered for ${parsed.data.digest}, not the requested ${image.digest}`,
          hint: 'Re-run the scan; the artifact may have been replaced',
        });
      }
      const overview = HARBOR_REPORT_MIME_TYPES.map((m) => parsed.data.scan_overview?.[m]).find(
        (v) => v != null,
      );
      // No overview yet means the scan job has not registered a report: still pending.
      const status = overview?.scan_status ?? 'Pending';
      if (status === 'Success') break;
      if (FINAL_FAILURES.has(status)) {
        const log = overview?.report_id
          ? ` (scanner log: GET /api/v2.0${path}/scan/${overview.report_id}/log)`
          : '';
        throw new AiboxError({
          code: 'SCAN_FAILED',
          message: `Harbor's scan of ${shown} ended with status ${status}${log}`,
          hint: "Check the project's scanner in Harbor (Interrogation Services) and its log; the gate fails when the scanner fails",
          details: { status, ...(overview?.report_id ? { reportId: overview.report_id } : {}) },
        });
      }
      if (now() >= deadline) {
        throw new AiboxError({
          code: 'SCAN_FAILED',
          message: `Harbor did not finish scanning ${shown} within ${Math.round(timeout / 1000)} s (last status ${status})`,
          hint: "Harbor's scan queue may be busy; raise scan.harbor.timeoutSeconds or retry later",
          details: { status },
        });
      }
      logger.debug(`Harbor scan of ${shown}: ${status}`);
      await sleep(Math.max(0, Math.min(interval, deadline - now())));
    }

    const res = await o.transport.request('GET', `${path}/additions/vulnerabilities`, {
      headers: { 'x-accept-vulnerabilities': ACCEPT_VULNERABILITIES },
      expect: [200],
    });
    return parseHarborReport(res.body, image, `Harbor (${shown})`);
  }
}
