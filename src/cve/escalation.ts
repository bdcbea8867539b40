/**
 * Escalation (issue 9 §6, runbook §1 "If Trivy finds Critical CVE in base image: escalate to CVE triage"): when the
 * weekly gate refuses the base image, triage that very report and name the exact emergency command to run. Pure.
 */
import type { CveSettings } from '../config/model.js';
import type { ScanReport } from '../scan/report.js';
import { triage, type TriageRow } from './triage.js';

export interface Escalation {
  /** Emergency rows (Critical/High) of the refused report, by deadline. */
  readonly rows: readonly TriageRow[];
  /** The hint for the error, the log and the on-call notice: the command(s), or why there is none. */
  readonly hint: string;
}

/** Triage a refused report of `variant` and build the hint that carries the exact `aiboxctl cve rebuild …`. */
export function escalate(
  report: ScanReport,
  variant: string,
  cve: CveSettings,
  now: Date,
  image: string,
): Escalation {
  let rows: TriageRow[];
  try {
    rows = triage({
      reports: [{ report, variant, source: image }],
      policy: { mandatoryMinCvss: cve.mandatoryMinCvss, businessHours: cve.businessHours },
      now,
    }).filter((r) => r.action === 'emergency-rebuild');
  } catch {
    rows = []; // a report the triage refuses still gets the manual route below
  }
  const triageCmd = `aiboxctl cve triage ${image}`;
  const commands = rows.flatMap((r) => (r.command ? [r.command] : []));
  const unfixed = rows.filter((r) => !r.fixAvailable).map((r) => r.id);
  const parts: string[] = [];
  if (commands.length > 0) parts.push(`Emergency rebuild (runbook §2): ${commands.join(' ; ')}`);
  if (unfixed.length > 0) parts.push(`no fix available yet for ${unfixed.join(', ')}`);
  parts.push(`full triage: ${triageCmd}`);
  return { rows, hint: parts.join('; ') };
}
