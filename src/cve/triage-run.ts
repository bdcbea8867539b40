/**
 * The triage workflow behind `aiboxctl cve triage` and the weekly escalation: triage the reports against the
 * recorded first-seen times, record the result (signed, in the registry; copied locally), return the rows. Receives
 * its ports; constructs none.
 */
import type { CveSettings } from '../config/model.js';
import { firstSeenOf, markAccepted, recordTriage, type CveRecords } from './records.js';
import { updateCveRecords, type CveRecordDeps } from './record-store.js';
import { triage, type TriagePolicy, type TriageReport, type TriageRow } from './triage.js';

export interface TriageRunDeps {
  /** Where the records live; undefined = triage only, record nothing (`--no-record`). */
  readonly records?: CveRecordDeps;
  /** Copies the records into the local run records; returns the path. */
  readonly saveLocal?: (doc: CveRecords) => Promise<string>;
}

export interface TriageRunResult {
  readonly rows: TriageRow[];
  readonly records: CveRecords | null;
  readonly localCopy?: string;
}

/** The triage policy of the platform config's `cve` section. */
export function triagePolicy(cve: CveSettings): TriagePolicy {
  return { mandatoryMinCvss: cve.mandatoryMinCvss, businessHours: { ...cve.businessHours } };
}

/** Triage `reports` at `now`; with `deps.records`, first-seen times come from (and the rows go to) the records. */
export async function runTriage(
  deps: TriageRunDeps,
  reports: readonly TriageReport[],
  policy: TriagePolicy,
  now: Date,
): Promise<TriageRunResult> {
  if (!deps.records) return { rows: triage({ reports, policy, now }), records: null };
  let rows: TriageRow[] = [];
  const doc = await updateCveRecords(deps.records, (prev) => {
    rows = triage({ reports, policy, now, firstSeen: firstSeenOf(prev) });
    return recordTriage(prev, rows, now);
  });
  const localCopy = deps.saveLocal ? await deps.saveLocal(doc) : undefined;
  return { rows, records: doc, ...(localCopy ? { localCopy } : {}) };
}

/** `cve accept`: record an accepted risk for a triaged CVE. */
export async function runAccept(
  deps: Required<TriageRunDeps>,
  a: { id: string; reason: string; expires: string },
  now: Date,
): Promise<{ records: CveRecords; localCopy: string }> {
  const doc = await updateCveRecords(deps.records, (prev) => markAccepted(prev, a, now));
  return { records: doc, localCopy: await deps.saveLocal(doc) };
}
