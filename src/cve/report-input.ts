/**
 * A report file given to `aiboxctl cve triage --report FILE`: Trivy JSON (SchemaVersion 2) or a Harbor
 * vulnerability report (the `additions/vulnerabilities` body, keyed by report MIME type). Pure: text in, a
 * ScanReport out, or SCAN_FAILED naming the file and what is wrong (not JSON, truncated, unknown schema version,
 * neither format). Never a partial report.
 */
import { AiboxError } from '../core/errors.js';
import {
  HARBOR_REPORT_MIME_TYPES,
  parseHarborReport,
  parseTrivyValue,
  type ScanReport,
} from '../scan/report.js';

/** Larger report files are refused unread (Trivy's report of a full distro image is a few MiB). */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

const HINT =
  "give `trivy image --format json` output (SchemaVersion 2) or Harbor's GET …/artifacts/{digest}/additions/vulnerabilities body";

function fail(source: string, rule: string): never {
  throw new AiboxError({ code: 'SCAN_FAILED', message: `cannot triage ${source}: ${rule}`, hint: HINT });
}

/** Parse a report file's text, detecting Trivy or Harbor; `source` names the file in errors. */
export function parseReportText(text: string, source: string): ScanReport {
  if (text.trim() === '') fail(source, 'the file is empty');
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    fail(source, `not JSON, or truncated (${why.slice(0, 160)})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, 'expected a JSON object');
  const obj = raw as Record<string, unknown>;
  if (Object.hasOwn(obj, 'SchemaVersion')) return parseTrivyValue(obj, source);
  if (HARBOR_REPORT_MIME_TYPES.some((m) => Object.hasOwn(obj, m)))
    return parseHarborReport(obj, { reference: source, digest: '' }, source);
  fail(
    source,
    'neither a Trivy JSON report (no SchemaVersion) nor a Harbor vulnerability report (no report MIME type key)',
  );
}

/**
 * The variant a report belongs to: the last path segment of the scanned repository when it is a configured variant
 * (`127.0.0.1:5000/aibox/java@sha256:…` → `java`), else undefined.
 */
export function variantOfImage(image: string, variants: readonly string[]): string | undefined {
  const noDigest = image.split('@')[0] ?? '';
  const last = noDigest.split('/').pop() ?? '';
  const name = last.split(':')[0] ?? '';
  return variants.includes(name) ? name : undefined;
}
