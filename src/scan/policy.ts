/**
 * The scan gate: which findings block a build (severity in `failOn`, not covered by a live ignore
 * entry), which are ignored and why, and which ignore entries have expired. Pure: `now` is passed in.
 */
import { AiboxError } from '../core/errors.js';
import { SEVERITIES, emptySummary, type Finding, type ScanReport, type Severity } from './report.js';
export { cvssBand, maxCvss, preferredCvss, type CvssBand } from './cvss.js';

export interface IgnoreEntry {
  readonly id: string;
  readonly reason: string;
  /** YYYY-MM-DD; the entry applies through the end of this day (UTC). */
  readonly expires: string;
}

export interface ScanPolicy {
  readonly failOn: readonly string[];
  readonly ignore: readonly IgnoreEntry[];
}

export interface EvaluationSummary {
  readonly total: number;
  readonly bySeverity: Readonly<Record<Severity, number>>;
  readonly blocking: number;
  readonly ignored: number;
}

export interface ScanEvaluation {
  readonly passed: boolean;
  /** Findings that fail the gate, most severe first. */
  readonly blocking: readonly Finding[];
  /** Findings covered by a live ignore entry (any severity). */
  readonly ignored: readonly { readonly finding: Finding; readonly entry: IgnoreEntry }[];
  /** Entries past their expiry date: they no longer ignore anything and should be reviewed. */
  readonly expiredIgnores: readonly IgnoreEntry[];
  readonly failOn: readonly Severity[];
  readonly summary: EvaluationSummary;
}

const DAY_MS = 86_400_000;

function invalid(path: string, rule: string, hint: string): never {
  throw new AiboxError({ code: 'CONFIG_INVALID', message: `invalid scan policy: ${path} ${rule}`, hint });
}

/** Milliseconds since epoch of 00:00 UTC on the day after `date`, or undefined if not a real date. */
function endOfDay(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return t + DAY_MS;
}

/** Validate a policy (config may come from anywhere); throws CONFIG_INVALID naming the key path. */
export function validateScanPolicy(policy: ScanPolicy): { failOn: Severity[]; ignore: IgnoreEntry[] } {
  const failOn: Severity[] = [];
  // Each value is checked as `unknown`: the config may come from anywhere, whatever its declared type.
  policy.failOn.forEach((s: unknown, i) => {
    const up = typeof s === 'string' ? s.toUpperCase() : '';
    if (!(SEVERITIES as readonly string[]).includes(up)) {
      invalid(
        `scan.failOn[${i}]`,
        `"${String(s).slice(0, 40)}" is not a severity`,
        `Use any of ${SEVERITIES.join(', ')}`,
      );
    }
    if (!failOn.includes(up as Severity)) failOn.push(up as Severity);
  });
  const ignore = policy.ignore.map((e, i) => {
    const at = `scan.ignore[${i}]`;
    if (typeof e.id !== 'string' || !/^\S+$/.test(e.id)) {
      invalid(
        `${at}.id`,
        'must be a vulnerability id such as CVE-2026-12345',
        'Write the id exactly as the scanner reports it',
      );
    }
    if (typeof e.reason !== 'string' || e.reason.trim() === '') {
      invalid(
        `${at}.reason`,
        `is required (${e.id})`,
        'Say why the finding is acceptable, e.g. "not reachable: no network listener"',
      );
    }
    const expires: unknown = e.expires;
    if (typeof expires !== 'string' || endOfDay(expires) === undefined) {
      invalid(
        `${at}.expires`,
        `"${String(expires).slice(0, 40)}" must be a calendar date written YYYY-MM-DD (${e.id})`,
        'Every ignore entry needs an expiry so it gets reviewed, e.g. expires: 2026-06-30',
      );
    }
    return { id: e.id, reason: e.reason, expires: e.expires };
  });
  return { failOn, ignore };
}

/** Whether an entry still applies at `now` (it applies through the end of its expiry day, UTC). */
export function isIgnoreActive(entry: IgnoreEntry, now: Date): boolean {
  const end = endOfDay(entry.expires);
  return end !== undefined && now.getTime() < end;
}

/** Apply the gate policy to a report: decides pass/fail, and explains every ignored finding. */
export function evaluateScan(report: ScanReport, policy: ScanPolicy, now: Date): ScanEvaluation {
  const { failOn, ignore } = validateScanPolicy(policy);
  const active = new Map<string, IgnoreEntry>();
  const expiredIgnores: IgnoreEntry[] = [];
  for (const e of ignore) {
    if (isIgnoreActive(e, now)) {
      const key = e.id.toUpperCase();
      if (!active.has(key)) active.set(key, e);
    } else {
      expiredIgnores.push(e);
    }
  }
  const blocking: Finding[] = [];
  const ignored: { finding: Finding; entry: IgnoreEntry }[] = [];
  for (const f of report.findings) {
    const entry = active.get(f.id.toUpperCase());
    if (entry) ignored.push({ finding: f, entry });
    else if (failOn.includes(f.severity)) blocking.push(f);
  }
  const bySeverity = emptySummary();
  for (const f of report.findings) bySeverity[f.severity] += 1;
  return {
    passed: blocking.length === 0,
    blocking,
    ignored,
    expiredIgnores,
    failOn,
    summary: {
      total: report.findings.length,
      bySeverity,
      blocking: blocking.length,
      ignored: ignored.length,
    },
  };
}

/** The POLICY_REFUSED error a pipeline or command raises for a blocked image (undefined if it passed). */
export function scanRefusal(evaluation: ScanEvaluation, image: string): AiboxError | undefined {
  if (evaluation.passed) return undefined;
  const ids = [...new Set(evaluation.blocking.map((f) => f.id))];
  const shown = ids.slice(0, 5).join(', ') + (ids.length > 5 ? `, … (${ids.length} in all)` : '');
  return new AiboxError({
    code: 'POLICY_REFUSED',
    message: `scan gate refused ${image}: ${evaluation.blocking.length} finding(s) at ${evaluation.failOn.join('/')} (${shown})`,
    hint: 'Rebuild with patched packages, or add a reviewed entry (id, reason, expires) to scan.ignore in the aibox config',
    details: { blocking: evaluation.summary.blocking, ids },
  });
}
