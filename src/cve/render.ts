/**
 * Human text for `aiboxctl cve triage` and `aiboxctl cve list`: aligned tables sorted by deadline, then the exact
 * command of each emergency row. Report text is untrusted: every cell is one line without control characters.
 * Pure; golden-tested.
 */
import { table } from '../core/table.js';
import { deadlineMet, type CveRecord, type CveRecords } from './records.js';
import type { TriageRow } from './triage.js';

// eslint-disable-next-line no-control-regex -- matching control characters is this regex's job
const CONTROL_RUN = /[\u0000-\u001f\u007f-\u009f]+/g;

function clip(s: string, n: number): string {
  const one = s.replace(CONTROL_RUN, ' ').replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function list(xs: readonly string[], n: number): string {
  return clip(xs.join(','), n);
}

function versions(r: TriageRow): string {
  return clip(r.details.map((p) => `${p.name} ${p.installed} → ${p.fixed ?? 'no fix yet'}`).join('; '), 80);
}

function action(r: TriageRow): string {
  if (!r.fixAvailable) return 'no fix available yet';
  const what = r.action === 'emergency-rebuild' ? 'emergency rebuild' : 'next weekly rebuild (batched)';
  return r.mandatory ? `${what}, mandatory update` : what;
}

/** The triage table, then one `command:` line per row that has one. */
export function renderTriage(rows: readonly TriageRow[]): string {
  if (rows.length === 0) return 'no vulnerabilities in the reports';
  const t = table(
    ['CVE', 'CVSS', 'SEVERITY', 'VARIANTS', 'PACKAGES', 'INSTALLED → FIXED', 'DEADLINE', 'ACTION'],
    rows.map((r) => [
      clip(r.id, 40),
      `${r.cvss.toFixed(1)}${r.cvssSource === 'nvd' ? '' : r.cvssSource === 'severity' ? '*' : '†'}`,
      r.severity,
      list(r.variants, 40),
      list(r.packages, 40),
      versions(r),
      r.deadline,
      action(r),
    ]),
  );
  const commands = rows
    .filter((r) => r.command !== null)
    .map((r) => `${clip(r.id, 40)}: ${clip(r.command ?? '', 2000)}`);
  const mapped = rows.some((r) => r.cvssSource === 'severity');
  const vendor = rows.some((r) => r.cvssSource.startsWith('vendor:'));
  return [
    t,
    ...(mapped || vendor ? [''] : []),
    ...(vendor ? ['† CVSS from the vendor (no NVD v3 score)'] : []),
    ...(mapped ? ['* no CVSS score in the report: mapped from the scanner severity'] : []),
    ...(commands.length ? ['', 'Commands:', ...commands.map((c) => `  ${c}`)] : []),
  ].join('\n');
}

function stateText(r: CveRecord): string {
  switch (r.state.kind) {
    case 'open':
      return 'open';
    case 'fixed':
      return `fixed ${r.state.at} by ${Object.entries(r.state.tags)
        .map(([v, t]) => `${v}:${t}`)
        .join(',')}`;
    case 'accepted':
      return `accepted until ${r.state.expires}: ${r.state.reason}`;
  }
}

/** `cve list`: every record, by deadline, with whether its deadline was met. */
export function renderRecords(doc: CveRecords | null, now: Date): string {
  if (!doc || doc.records.length === 0) return 'no CVE records yet (run aiboxctl cve triage)';
  const rows = [...doc.records].sort((a, b) =>
    a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : 0,
  );
  return table(
    ['CVE', 'CVSS', 'SEVERITY', 'FIRST SEEN', 'DEADLINE', 'MET', 'VARIANTS', 'STATE'],
    rows.map((r) => {
      const met = deadlineMet(r, now);
      return [
        clip(r.id, 40),
        r.cvss.toFixed(1),
        r.severity,
        r.firstSeen,
        r.deadline,
        met === null ? 'not yet due' : met ? 'yes' : 'MISSED',
        list(r.variants, 40),
        clip(stateText(r), 100),
      ];
    }),
  );
}
