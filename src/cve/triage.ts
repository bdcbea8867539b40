/**
 * CVE triage (issue 9 §1, runbook §2 "Severity-Based Response"), the pure core: scan reports (each with the
 * variant it belongs to, when known) + policy + `now` + the first-seen times already recorded → one row per
 * vulnerability id, sorted by deadline, with the exact `aiboxctl cve rebuild …` command to run. No I/O; time
 * zones through `Intl.DateTimeFormat` only.
 *
 *  - CVSS: NVD's v3.x score first, then the highest v3.x score of another source (the vendor's), else the
 *    scanner's severity mapped to the lower bound of its runbook band — and the row says which (`cvssSource`).
 *  - Deadline from first seen: Critical +4 h; High the end of the same business day (after hours or on a
 *    non-business day: the end of the next business day); Medium, Low and unscored: the next weekly run.
 *  - Mandatory update when the score reaches `mandatoryMinCvss`.
 */
import { AiboxError } from '../core/errors.js';
import { cvssBand, type CvssBand } from '../scan/cvss.js';
import type { Finding, ScanReport, Severity } from '../scan/report.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface BusinessHours {
  /** Business days, e.g. mon..fri. */
  readonly days: readonly Weekday[];
  /** Local wall-clock "HH:MM" (24 h), start < end. */
  readonly start: string;
  readonly end: string;
  /** IANA time zone, e.g. "UTC", "Europe/Berlin". */
  readonly timeZone: string;
}

/** When the weekly rebuild runs, in UTC (runbook §1: every Sunday at 02:00 UTC). */
export interface WeeklySchedule {
  readonly day: Weekday;
  readonly hour: number;
  readonly minute: number;
}

export const DEFAULT_WEEKLY_SCHEDULE: WeeklySchedule = { day: 'sun', hour: 2, minute: 0 };
export const CRITICAL_RESPONSE_MS = 4 * 3_600_000;

export interface TriagePolicy {
  readonly mandatoryMinCvss: number;
  readonly businessHours: BusinessHours;
  /** Default: Sunday 02:00 UTC. */
  readonly weekly?: WeeklySchedule;
}

/** One report and what it is a report of (the variant name, when the caller knows it). */
export interface TriageReport {
  readonly report: ScanReport;
  readonly variant?: string;
  /** Names the input in errors (file name, image reference). */
  readonly source?: string;
}

export type CvssSource = 'nvd' | `vendor:${string}` | 'severity';
export type TriageAction = 'emergency-rebuild' | 'weekly-rebuild';

/** One affected package of a row: installed → fixed version (null: no fix available yet). */
export interface TriagePackage {
  readonly name: string;
  readonly installed: string;
  readonly fixed: string | null;
  readonly variants: readonly string[];
}

export interface TriageRow {
  readonly id: string;
  readonly cvss: number;
  readonly cvssSource: CvssSource;
  readonly severity: CvssBand;
  readonly variants: readonly string[];
  /** Affected package names, sorted, unique. */
  readonly packages: readonly string[];
  readonly details: readonly TriagePackage[];
  readonly firstSeen: string;
  readonly deadline: string;
  readonly action: TriageAction;
  readonly mandatory: boolean;
  /** False when no affected package has a fixed version ("no fix available yet"). */
  readonly fixAvailable: boolean;
  /** The exact command to run (emergency rows with a fix), else null. */
  readonly command: string | null;
  readonly title?: string;
  /** Things the reader must know (no fix yet, score mapped from severity, some packages unfixed). */
  readonly notes: readonly string[];
}

export interface TriageInput {
  readonly reports: readonly TriageReport[];
  readonly policy: TriagePolicy;
  readonly now: Date;
  /** First-seen times already recorded, by id (RFC 3339); a re-triage never moves them later. */
  readonly firstSeen?: Readonly<Record<string, string>>;
}

/** A CVE id exactly: `CVE-YYYY-NNNN…` (4 to 19 digits). */
export const CVE_ID_RE = /^CVE-\d{4}-\d{4,19}$/;
/** Any advisory id a scanner reports (GHSA-…, DLA-…, USN-…); CVE ids must match CVE_ID_RE. */
const ADVISORY_ID_RE = /^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;

/** Why `id` is not a vulnerability id, or undefined when it is one (CVE ids strictly, other advisories loosely). */
export function vulnIdProblem(id: string): string | undefined {
  if (/^cve-/i.test(id)) {
    return CVE_ID_RE.test(id) ? undefined : 'a CVE id is CVE-YYYY-NNNN (upper case, 4 or more digits)';
  }
  return ADVISORY_ID_RE.test(id) ? undefined : 'not a vulnerability id (CVE-YYYY-NNNN, GHSA-…, DLA-…)';
}

/** The lower bound of each runbook band, used when no source scores a finding. */
const SEVERITY_SCORE: Record<Severity, number> = {
  CRITICAL: 9.0,
  HIGH: 7.0,
  MEDIUM: 4.0,
  LOW: 0.1,
  UNKNOWN: 0,
};

interface Scored {
  readonly score: number;
  readonly source: CvssSource;
  readonly rank: number; // 2 nvd, 1 vendor, 0 severity
}

/** The score of one finding, and where it comes from. */
export function scoreFinding(f: Pick<Finding, 'cvss' | 'severity'>): Scored {
  const nvd = f.cvss['nvd']?.v3Score;
  if (isScore(nvd)) return { score: nvd, source: 'nvd', rank: 2 };
  let best: { score: number; name: string } | undefined;
  for (const name of Object.keys(f.cvss).sort()) {
    if (name === 'nvd') continue;
    const s = f.cvss[name]?.v3Score;
    if (isScore(s) && (best === undefined || s > best.score)) best = { score: s, name };
  }
  if (best) return { score: best.score, source: `vendor:${best.name}`, rank: 1 };
  return { score: SEVERITY_SCORE[f.severity], source: 'severity', rank: 0 };
}

function isScore(s: unknown): s is number {
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 && s <= 10;
}

function better(a: Scored, b: Scored): Scored {
  if (a.rank !== b.rank) return a.rank > b.rank ? a : b;
  return b.score > a.score ? b : a;
}

// ------------------------------------------------------------------------------------ time

const HHMM_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the IANA time zone. */
export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Minutes after midnight of "HH:MM", or undefined. */
export function parseHhmm(s: string): number | undefined {
  const m = HHMM_RE.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

interface Wall {
  readonly y: number;
  readonly mo: number;
  readonly d: number;
  /** Minutes after local midnight. */
  readonly min: number;
  readonly wd: number; // 0 = Sunday
}

function wallAt(t: number, tz: string): Wall {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) parts[p.type] = p.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts['weekday'] ?? '');
  return {
    y: Number(parts['year']),
    mo: Number(parts['month']),
    d: Number(parts['day']),
    min: Number(parts['hour']) * 60 + Number(parts['minute']),
    wd,
  };
}

/** The UTC instant of local wall time (y-mo-d, minutes) in tz (a DST gap resolves forward, like a clock). */
function instantOf(y: number, mo: number, d: number, min: number, tz: string): number {
  const guess = Date.UTC(y, mo - 1, d, 0, min);
  const offsetAt = (t: number) => {
    const w = wallAt(t, tz);
    return Date.UTC(w.y, w.mo - 1, w.d, 0, w.min) - Math.floor(t / 60_000) * 60_000;
  };
  const o1 = offsetAt(guess);
  const t1 = guess - o1;
  const o2 = offsetAt(t1);
  return o2 === o1 ? t1 : guess - Math.max(o1, o2);
}

/** Business-hours deadline: end of today's business hours, or of the next business day. */
export function businessDeadline(firstSeen: number, bh: BusinessHours): number {
  const start = parseHhmm(bh.start);
  const end = parseHhmm(bh.end);
  const days = new Set(bh.days.map((d) => WEEKDAYS.indexOf(d)));
  if (start === undefined || end === undefined || start >= end || days.size === 0 || days.has(-1)) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `invalid cve.businessHours: ${JSON.stringify(bh)}`,
      hint: 'cve.businessHours needs days (mon..sun, at least one), start < end as HH:MM and an IANA timeZone',
    });
  }
  const w = wallAt(firstSeen, bh.timeZone);
  // Today counts while its business hours have not ended (before opening: today's end is still "same day").
  const todayOk = days.has(w.wd) && w.min < end;
  for (let i = todayOk ? 0 : 1; i <= 8; i++) {
    const day = new Date(Date.UTC(w.y, w.mo - 1, w.d + i));
    if (!days.has(day.getUTCDay())) continue;
    return instantOf(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), end, bh.timeZone);
  }
  /* c8 ignore next */
  throw new AiboxError({ code: 'INTERNAL', message: 'no business day within a week' });
}

/** The next weekly run strictly after `t` (UTC schedule). */
export function nextWeeklyRun(t: number, s: WeeklySchedule = DEFAULT_WEEKLY_SCHEDULE): number {
  const d = new Date(t);
  const wd = WEEKDAYS.indexOf(s.day);
  const base = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), s.hour, s.minute);
  let ahead = (wd - d.getUTCDay() + 7) % 7;
  if (ahead === 0 && base <= t) ahead = 7;
  return base + ahead * 86_400_000;
}

/** RFC 3339 UTC, second precision (the form records and the channel use). */
export function isoSeconds(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The deadline of a band for a first-seen time. */
export function deadlineFor(band: CvssBand, firstSeen: number, policy: TriagePolicy): number {
  if (band === 'Critical') return firstSeen + CRITICAL_RESPONSE_MS;
  if (band === 'High') return businessDeadline(firstSeen, policy.businessHours);
  return nextWeeklyRun(firstSeen, policy.weekly);
}

// ------------------------------------------------------------------------------------ rows

/** Quote an argument for a POSIX shell when it holds anything but safe characters. */
export function shellArg(s: string): string {
  return /^[A-Za-z0-9._+:=@/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The exact emergency command of a row (issue 9 §3's flags). */
export function rebuildCommand(
  id: string,
  cvss: number,
  packages: readonly string[],
  variants: readonly string[],
): string {
  return [
    'aiboxctl cve rebuild',
    `--cve ${shellArg(id)}`,
    `--cvss ${cvss.toFixed(1)}`,
    ...packages.map((p) => `--package ${shellArg(p)}`),
    ...variants.map((v) => `--variant ${shellArg(v)}`),
  ].join(' ');
}

/** One affected package of an id: the labels it was seen in, and `known`: the real variant names (for the command). */
interface Pkg {
  readonly name: string;
  readonly installed: string;
  fixed: string | null;
  readonly variants: string[];
  readonly known: string[];
}

interface Acc {
  readonly id: string;
  scored: Scored;
  title?: string;
  /** In first-seen order. Most ids have one or two packages: a scan finds them; an index only past a few. */
  readonly packages: Pkg[];
  index?: Map<string, Pkg>;
  readonly variants: string[];
}

const PACKAGE_SCAN_LIMIT = 8;
const pkgKey = (name: string, installed: string) => `${name}\u0000${installed}`;

function findPackage(a: Acc, name: string, installed: string): Pkg | undefined {
  if (a.index) return a.index.get(pkgKey(name, installed));
  for (const p of a.packages) if (p.name === name && p.installed === installed) return p;
  return undefined;
}

function addPackage(a: Acc, p: Pkg): void {
  a.packages.push(p);
  if (a.index) a.index.set(pkgKey(p.name, p.installed), p);
  else if (a.packages.length > PACKAGE_SCAN_LIMIT)
    a.index = new Map(a.packages.map((x) => [pkgKey(x.name, x.installed), x]));
}

function invalidReport(source: string, rule: string): never {
  throw new AiboxError({
    code: 'SCAN_FAILED',
    message: `invalid report ${source}: ${rule}`,
    hint: 'triage reads Trivy JSON (SchemaVersion 2) and Harbor vulnerability reports as the scanners write them',
  });
}

/** Triage: de-duplicate by id across packages and variants, score, classify, sort by deadline. */
export function triage(input: TriageInput): TriageRow[] {
  const now = input.now.getTime();
  if (!Number.isFinite(now))
    throw new AiboxError({ code: 'INVALID_DATE', message: 'triage: now is not a valid time' });
  const byId = new Map<string, Acc>();
  input.reports.forEach((r, i) => {
    const source = r.source ?? `#${i + 1}`;
    const variant = r.variant ?? (r.report.image || source);
    for (const f of r.report.findings) {
      const problem = byId.has(f.id) ? undefined : vulnIdProblem(f.id);
      if (problem) invalidReport(source, `finding id ${JSON.stringify(f.id.slice(0, 80))}: ${problem}`);
      const s = scoreFinding(f);
      let a = byId.get(f.id);
      if (!a) {
        a = { id: f.id, scored: s, packages: [], variants: [] };
        byId.set(f.id, a);
      } else a.scored = better(a.scored, s);
      if (a.title === undefined && f.title) a.title = f.title;
      addOnce(a.variants, variant);
      let p = findPackage(a, f.pkg, f.installedVersion);
      if (!p) {
        p = {
          name: f.pkg,
          installed: f.installedVersion,
          fixed: f.fixedVersion ?? null,
          variants: [],
          known: [],
        };
        addPackage(a, p);
      } else if (p.fixed === null && f.fixedVersion) p.fixed = f.fixedVersion;
      addOnce(p.variants, variant);
      if (r.variant !== undefined) addOnce(p.known, r.variant);
    }
  });

  const known = input.firstSeen ?? {};
  const rows: TriageRow[] = [];
  const deadlineAt: number[] = [];
  // Most rows share a first-seen (this triage's `now`): compute each deadline and time string once.
  const deadlines = new Map<number, Map<CvssBand, number>>();
  const iso = new Map<number, string>();
  const isoOf = (t: number) => {
    let s = iso.get(t);
    if (s === undefined) iso.set(t, (s = isoSeconds(t)));
    return s;
  };
  for (const a of byId.values()) {
    const prior = known[a.id];
    const priorMs = prior === undefined ? NaN : Date.parse(prior);
    const seen = Number.isFinite(priorMs) && priorMs < now ? priorMs : now;
    const cvss = Math.round(a.scored.score * 10) / 10;
    const severity = cvssBand(cvss);
    let bands = deadlines.get(seen);
    if (bands === undefined) deadlines.set(seen, (bands = new Map<CvssBand, number>()));
    let deadline = bands.get(severity);
    if (deadline === undefined) bands.set(severity, (deadline = deadlineFor(severity, seen, input.policy)));
    const action: TriageAction =
      severity === 'Critical' || severity === 'High' ? 'emergency-rebuild' : 'weekly-rebuild';
    const details: TriagePackage[] = [];
    for (const p of a.packages)
      details.push({
        name: p.name,
        installed: p.installed,
        fixed: p.fixed,
        variants: p.variants.length > 1 ? [...p.variants].sort() : p.variants,
      });
    if (details.length > 1) details.sort((x, y) => cmp(x.name, y.name) || cmp(x.installed, y.installed));
    // details is sorted by name: the unique, sorted name lists fall out of one pass (no Set, no sort).
    const packages: string[] = [];
    const fixable: string[] = [];
    const unfixedAll: string[] = [];
    for (const d of details) {
      if (packages[packages.length - 1] !== d.name) packages.push(d.name);
      const list = d.fixed !== null ? fixable : unfixedAll;
      if (list[list.length - 1] !== d.name) list.push(d.name);
    }
    const unfixed = fixable.length === 0 ? unfixedAll : unfixedAll.filter((n) => !fixable.includes(n));
    const variants = a.variants.length > 1 ? a.variants.sort() : a.variants;
    const notes: string[] = [];
    if (fixable.length === 0) notes.push('no fix available yet');
    else if (unfixed.length > 0) notes.push(`no fix available yet for ${unfixed.join(', ')}`);
    if (a.scored.source === 'severity')
      notes.push('no CVSS score in the report: mapped from the scanner severity');
    // Only real variant names go into the command (a report of an unknown image is listed, not rebuilt by name).
    const fixVariants: string[] = [];
    for (const p of a.packages) if (p.fixed !== null) for (const v of p.known) addOnce(fixVariants, v);
    fixVariants.sort();
    deadlineAt.push(deadline);
    rows.push({
      id: a.id,
      cvss,
      cvssSource: a.scored.source,
      severity,
      variants,
      packages,
      details,
      firstSeen: isoOf(seen),
      deadline: isoOf(deadline),
      action,
      mandatory: cvss >= input.policy.mandatoryMinCvss && cvss > 0,
      fixAvailable: fixable.length > 0,
      command:
        action === 'emergency-rebuild' && fixable.length > 0
          ? rebuildCommand(a.id, cvss, fixable, fixVariants)
          : null,
      ...(a.title !== undefined ? { title: a.title } : {}),
      notes,
    });
  }
  // The deadline strings are RFC 3339 UTC at second precision (years 0000-9999): they sort as their whole seconds.
  const order = rows.map((row, i) => ({ row, at: Math.floor((deadlineAt[i] as number) / 1000) }));
  order.sort((x, y) => x.at - y.at || y.row.cvss - x.row.cvss || cmp(x.row.id, y.row.id));
  return order.map((o) => o.row);
}

/** Append unless present (the lists are a handful of variants: cheaper than a Set per package). */
function addOnce(xs: string[], x: string): void {
  if (!xs.includes(x)) xs.push(x);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
