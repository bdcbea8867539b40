/**
 * Trivy adapter: runs `trivy image --format json --quiet --scanners vuln [--insecure] REF@DIGEST`
 * through Exec and parses stdout. Every failure (missing binary, non-zero exit, timeout, garbage
 * output) throws, so the gate fails closed. Flags: /work/shared/reference/trivy.md §1, §5.
 */
import { ProcessError, type Exec } from '../adapters/exec.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { isPlainHttpHost } from '../oci/reference.js';
import { parseTrivyReport, type ScanReport } from './report.js';
import type { Scanner, ScanTarget } from './scanner.js';

export interface TrivyScannerOptions {
  readonly exec: Exec;
  /** trivy binary: a name on PATH or an absolute path (config `scan.trivyPath`). */
  readonly trivyPath: string;
  /** Registry hosts to reach with `--insecure` (plain HTTP / self-signed); loopback always is. */
  readonly insecureHosts?: readonly string[];
  /** Whole-scan limit; default 15 minutes (the first run downloads the vulnerability DB). */
  readonly timeoutMs?: number;
  /** Extra environment for trivy (TRIVY_USERNAME, TRIVY_PASSWORD, TRIVY_CACHE_DIR, …). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values never to show in logs or errors (e.g. TRIVY_PASSWORD). */
  readonly secrets?: readonly string[];
  readonly logger?: Logger;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export { isPlainHttpHost };

function hostOf(reference: string): string {
  const slash = reference.indexOf('/');
  return slash < 0 ? reference : reference.slice(0, slash);
}

/** The argv aibox passes to trivy (exported so docs and tests state the same command). */
export function trivyArgs(image: ScanTarget, insecure: boolean): string[] {
  const at = image.reference.indexOf('@');
  const bare = at >= 0 ? image.reference.slice(0, at) : image.reference;
  // A tag plus a digest is legal, but scanning by digest alone is what we mean.
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  const repo = colon > slash ? bare.slice(0, colon) : bare;
  return [
    'image',
    '--format',
    'json',
    '--quiet',
    // Secrets are not part of the gate; scanning for them only costs time.
    '--scanners',
    'vuln',
    ...(insecure ? ['--insecure'] : []),
    `${repo}@${image.digest}`,
  ];
}

/** Scans with the Trivy CLI. */
export class TrivyScanner implements Scanner {
  readonly name = 'trivy' as const;
  readonly #o: TrivyScannerOptions;

  constructor(options: TrivyScannerOptions) {
    this.#o = options;
  }

  /** Run trivy on one image by digest and return its parsed report. */
  async scan(image: ScanTarget): Promise<ScanReport> {
    const o = this.#o;
    const logger = o.logger ?? silentLogger;
    const args = trivyArgs(image, isPlainHttpHost(hostOf(image.reference), o.insecureHosts ?? []));
    const shown = `${image.reference}@${image.digest}`;
    logger.info(`Scanning ${shown} with trivy`);
    let stdout: string;
    try {
      const res = await o.exec(o.trivyPath, args, {
        timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(o.env ? { env: o.env } : {}),
        ...(o.secrets ? { secrets: o.secrets } : {}),
      });
      stdout = res.stdout;
    } catch (e: unknown) {
      if (isAiboxError(e, 'TOOL_MISSING')) {
        throw new AiboxError({
          code: 'TOOL_MISSING',
          message: `trivy not found at "${o.trivyPath}", so ${shown} cannot be scanned`,
          hint: 'Install trivy (https://trivy.dev), set scan.trivyPath in the aibox config or pass --trivy-path; scan.scanner: harbor scans in Harbor instead',
          cause: e,
        });
      }
      const why = isAiboxError(e, 'TIMEOUT')
        ? `did not finish within ${Math.round((o.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s`
        : e instanceof ProcessError
          ? `exited with code ${e.exitCode}${e.stderrTail ? `: ${e.stderrTail}` : ''}`
          : e instanceof Error
            ? e.message
            : String(e);
      throw new AiboxError({
        code: 'SCAN_FAILED',
        message: `trivy could not scan ${shown}: ${why}`,
        hint: 'Run the same trivy command with --debug to see why; the gate fails when the scanner fails',
        cause: e,
      });
    }
    const report = parseTrivyReport(stdout, `trivy (${shown})`);
    if (report.digest !== undefined && report.digest !== image.digest) {
      throw new AiboxError({
        code: 'SCAN_FAILED',
        message: `trivy reported on ${report.digest}, not on the requested ${image.digest}`,
        hint: 'The registry served a different manifest than expected; re-run the scan',
      });
    }
    logger.debug(`trivy found ${report.findings.length} finding(s) in ${shown}`);
    return report;
  }
}
