/**
 * Human text for a scan evaluation: a severity summary, the gate verdict, the blocking findings as
 * a table, then ignored findings and expired ignore entries. Pure; golden-tested.
 */
import { preferredCvss } from './cvss.js';
import type { ScanEvaluation } from './policy.js';
import { SEVERITIES, type Finding } from './report.js';
import { table } from '../core/table.js';

export interface RenderedScan {
  readonly image: string;
  readonly digest: string;
  readonly scanner: string;
  readonly evaluation: ScanEvaluation;
}

// eslint-disable-next-line no-control-regex -- matching control characters is this regex's job
const CONTROL_RUN = /[\u0000-\u001f\u007f-\u009f]+/g;

/** One line, no control characters (report text is untrusted and goes to a terminal). */
function clip(s: string, n: number): string {
  const one = s.replace(CONTROL_RUN, ' ').replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** Aligned columns, as lines. */
function columns(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return table(headers, rows).split('\n');
}

function findingRow(f: Finding): string[] {
  const score = preferredCvss(f);
  return [
    f.severity,
    clip(f.id, 40),
    clip(f.pkg, 32),
    clip(f.installedVersion, 28),
    f.fixedVersion ? clip(f.fixedVersion, 28) : '-',
    score === undefined ? '-' : score.toFixed(1),
    f.title ? clip(f.title, 60) : '',
  ];
}

/** Render the `aiboxctl scan` text output. */
export function renderScanText(r: RenderedScan): string {
  const e = r.evaluation;
  const counts = SEVERITIES.map((s) => `${e.summary.bySeverity[s]} ${s.toLowerCase()}`).join(', ');
  const lines = [
    `Image:     ${r.image}`,
    `Digest:    ${r.digest}`,
    `Scanner:   ${r.scanner}`,
    `Findings:  ${counts} (${e.summary.total} total)`,
    `Gate:      ${
      e.passed
        ? `passed (fails on ${e.failOn.join(', ') || 'nothing'})`
        : `FAILED: ${e.blocking.length} blocking finding(s) at ${e.failOn.join(', ')}`
    }`,
  ];
  if (e.blocking.length > 0) {
    lines.push('', 'Blocking findings:');
    lines.push(
      ...columns(
        ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'CVSS', 'TITLE'],
        e.blocking.map(findingRow),
      ),
    );
  }
  if (e.ignored.length > 0) {
    lines.push('', `Ignored (${e.ignored.length}):`);
    for (const { finding: f, entry } of e.ignored) {
      lines.push(
        `  ${clip(f.id, 40)} ${f.severity} in ${clip(f.pkg, 32)} ${clip(f.installedVersion, 28)}: ${clip(entry.reason, 100)} (until ${entry.expires})`,
      );
    }
  }
  if (e.expiredIgnores.length > 0) {
    lines.push('', `Expired ignore entries, no longer applied (${e.expiredIgnores.length}):`);
    for (const entry of e.expiredIgnores)
      lines.push(`  ${clip(entry.id, 40)} expired ${entry.expires}: ${clip(entry.reason, 100)}`);
  }
  return lines.join('\n');
}
