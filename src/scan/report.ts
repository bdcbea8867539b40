/**
 * The normalised vulnerability report every scanner adapter produces, and the parsers that turn a
 * scanner's untrusted JSON into it: Trivy `image --format json` (SchemaVersion 2) and Harbor's
 * `additions/vulnerabilities` response. Pure: no I/O. Parsers throw SCAN_FAILED naming the input
 * and the rule broken; they never return a partial report, because the gate must fail closed.
 * Shapes: /work/shared/reference/trivy.md §2-§6 and harbor.md §3.
 */
import * as z from 'zod/mini';
import { safeParseEn } from '../core/zod-en.js';
import { AiboxError } from '../core/errors.js';

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One scoring source's CVSS data (Trivy's `CVSS.<source>`, Harbor's `vendor_attributes.CVSS.<source>`). */
export interface CvssEntry {
  readonly v2Score?: number;
  readonly v3Score?: number;
  readonly v40Score?: number;
  readonly v3Vector?: string;
}

export interface Finding {
  /** CVE-…, GHSA-…, DLA-… */
  readonly id: string;
  readonly pkg: string;
  readonly installedVersion: string;
  /** May be a comma-separated list of alternatives ("6.0.3.1, 5.2.4.3"). */
  readonly fixedVersion?: string;
  /** Set for language packages (Trivy `PkgPath`). */
  readonly pkgPath?: string;
  readonly severity: Severity;
  /** affected, fixed, will_not_fix, … (as the scanner wrote it) */
  readonly status?: string;
  readonly title?: string;
  /** Trivy result target, e.g. "… (ubuntu 24.04)" or "Ruby". */
  readonly target?: string;
  readonly url?: string;
  /** Scores by source id (nvd, redhat, ghsa, …). */
  readonly cvss: Readonly<Record<string, CvssEntry>>;
}

export interface ScanReport {
  readonly scanner: 'trivy' | 'harbor';
  /** What was scanned, as the scanner names it (or as we asked). */
  readonly image: string;
  /** Manifest digest of the scanned image, when the scanner reports it. */
  readonly digest?: string;
  /** Count of findings per severity (always all five keys). */
  readonly summary: Readonly<Record<Severity, number>>;
  /** Unique on id + package + installed version + package path; sorted most severe first. */
  readonly findings: readonly Finding[];
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, UNKNOWN: 0 };
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Rank for sorting and comparison (CRITICAL highest). */
export function severityRank(s: Severity): number {
  return SEVERITY_RANK[s];
}

/** A zeroed count for every severity, so summaries always carry all five keys. */
export function emptySummary(): Record<Severity, number> {
  return { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
}

/** Identity of a finding across results and scanners (trivy.md §6). */
export function findingKey(f: Pick<Finding, 'id' | 'pkg' | 'installedVersion' | 'pkgPath'>): string {
  return `${f.id}\u0000${f.pkg}\u0000${f.installedVersion}\u0000${f.pkgPath ?? ''}`;
}

function fail(source: string, what: string, rule: string, hint: string): never {
  throw new AiboxError({
    code: 'SCAN_FAILED',
    message: `invalid ${what} from ${source}: ${rule}`,
    hint,
  });
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(top level)';
}

function firstIssue(err: z.core.$ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'does not match the expected shape';
  return `${pathOf(issue.path)}: ${issue.message}`;
}

function parseJson(text: string, source: string, what: string, hint: string): unknown {
  if (text.trim() === '') fail(source, what, 'output is empty', hint);
  try {
    return JSON.parse(text) as unknown;
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    return fail(source, what, `not JSON (${why.slice(0, 200)})`, hint);
  }
}

const score = z.number().check(z.minimum(0), z.maximum(10));
const optString = z.optional(z.string());
/** Per-source CVSS map, identical in Trivy reports and Harbor's vendor_attributes. */
const cvssMap = z.optional(
  z.record(
    z.string(),
    z.object({
      V2Score: z.optional(score),
      V3Score: z.optional(score),
      V40Score: z.optional(score),
      V3Vector: optString,
    }),
  ),
);

function toCvss(m: z.infer<typeof cvssMap>): Record<string, CvssEntry> {
  const out: Record<string, CvssEntry> = {};
  for (const [source, c] of Object.entries(m ?? {})) {
    // Assigned in order rather than spread: the same keys in the same order, without a scratch object per field.
    const e: Mutable<CvssEntry> = {};
    if (c.V2Score !== undefined) e.v2Score = c.V2Score;
    if (c.V3Score !== undefined) e.v3Score = c.V3Score;
    if (c.V40Score !== undefined) e.v40Score = c.V40Score;
    if (c.V3Vector) e.v3Vector = c.V3Vector;
    out[source] = e;
  }
  return out;
}

/** Keep one finding per key (the most severe), count per severity, sort most severe first. */
function finish(base: Pick<ScanReport, 'scanner' | 'image' | 'digest'>, all: readonly Finding[]): ScanReport {
  const byKey = new Map<string, Finding>();
  for (const f of all) {
    const k = findingKey(f);
    const prev = byKey.get(k);
    if (!prev || SEVERITY_RANK[f.severity] > SEVERITY_RANK[prev.severity]) byKey.set(k, f);
  }
  const findings = [...byKey.values()].sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
      (a.pkg < b.pkg ? -1 : a.pkg > b.pkg ? 1 : 0),
  );
  const summary = emptySummary();
  for (const f of findings) summary[f.severity] += 1;
  return { ...base, ...(base.digest === undefined ? {} : { digest: base.digest }), summary, findings };
}

// ------------------------------------------------------------------------------------- Trivy

/** A string mapped to a Severity, or a custom issue at the string's path. */
const severityFrom = (map: (s: string) => Severity | undefined, allowed: string) =>
  z.pipe(
    z.string(),
    z.transform((s: string, ctx) => {
      const severity = map(s);
      if (severity !== undefined) return severity;
      ctx.issues.push({
        code: 'custom',
        message: `severity "${s.slice(0, 40)}" is not one of ${allowed}`,
        input: s,
      });
      return z.NEVER;
    }),
  );

const trivySeverity = severityFrom((s) => {
  const up = s.toUpperCase();
  if (up === '') return 'UNKNOWN'; // trivy coerces empty to UNKNOWN (filter.go)
  return (SEVERITIES as readonly string[]).includes(up) ? (up as Severity) : undefined;
}, SEVERITIES.join(', '));

const trivyVulnerability = z.object({
  VulnerabilityID: z.string().check(z.minLength(1, 'must be a non-empty string')),
  PkgName: z.string(),
  PkgPath: optString,
  InstalledVersion: z.string(),
  FixedVersion: optString,
  Status: optString,
  Severity: z.optional(trivySeverity),
  Title: optString,
  PrimaryURL: optString,
  CVSS: cvssMap,
});

const trivyReportSchema = z.object({
  SchemaVersion: z.literal(2),
  ArtifactName: optString,
  Metadata: z.optional(
    z.object({
      ImageID: optString,
      RepoDigests: z.optional(z.array(z.string())),
    }),
  ),
  Results: z.nullish(
    z.array(
      z.object({
        Target: optString,
        Class: optString,
        Vulnerabilities: z.nullish(z.array(trivyVulnerability)),
      }),
    ),
  ),
});

const TRIVY_HINT =
  'aibox reads `trivy image --format json` output (SchemaVersion 2); check the trivy version (`trivy --version`) and run it by hand to see its output';

/** Parse a Trivy JSON report (SchemaVersion 2) into a ScanReport; `source` names the input in errors. */
export function parseTrivyReport(text: string, source = 'trivy'): ScanReport {
  return parseTrivyValue(parseJson(text, source, 'Trivy report', TRIVY_HINT), source);
}

/** Like parseTrivyReport, for a value already parsed from JSON (callers that sniffed the format first). */
export function parseTrivyValue(raw: unknown, source = 'trivy'): ScanReport {
  checkTrivyVersion(raw, source);
  // The hand-written check of the common, valid shape answers first (zod's walk of every finding was the largest
  // cost of a large triage); anything it does not accept goes through zod, which names the first broken rule.
  return trivyScanReport(checkTrivyFast(raw) ?? zodTrivy(raw, source));
}

/** parseTrivyValue through the zod schema alone (no fast check): the reference the property test compares with. */
export function parseTrivyValueByZod(raw: unknown, source = 'trivy'): ScanReport {
  checkTrivyVersion(raw, source);
  return trivyScanReport(zodTrivy(raw, source));
}

function checkTrivyVersion(raw: unknown, source: string): void {
  const what = 'Trivy report';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(source, what, 'expected a JSON object', TRIVY_HINT);
  }
  const version = (raw as { SchemaVersion?: unknown }).SchemaVersion;
  if (version === undefined)
    fail(source, what, 'SchemaVersion is missing (not a Trivy JSON report?)', TRIVY_HINT);
  if (version !== 2) {
    fail(
      source,
      what,
      `SchemaVersion ${JSON.stringify(version ?? null).slice(0, 40)} is not supported (aibox reads 2)`,
      'Use a Trivy release that writes SchemaVersion 2 (0.20 or later), or upgrade aibox',
    );
  }
}

function trivyScanReport(r: TrivyReport): ScanReport {
  const findings: Finding[] = [];
  for (const result of r.Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) findings.push(trivyFinding(v, result.Target));
  }
  // RepoDigests is "<registry>/<repo>@sha256:<manifest digest>", filled for registry scans only.
  const repoDigest = r.Metadata?.RepoDigests?.map((d) => d.slice(d.lastIndexOf('@') + 1)).find((d) =>
    DIGEST_RE.test(d),
  );
  return finish(
    {
      scanner: 'trivy',
      image: r.ArtifactName ?? r.Metadata?.ImageID ?? '',
      ...(repoDigest ? { digest: repoDigest } : {}),
    },
    findings,
  );
}

type TrivyReport = z.infer<typeof trivyReportSchema>;
type TrivyVulnerability = z.infer<typeof trivyVulnerability>;

function zodTrivy(raw: unknown, source: string): TrivyReport {
  const parsed = safeParseEn(trivyReportSchema, raw);
  if (!parsed.success) fail(source, 'Trivy report', firstIssue(parsed.error), TRIVY_HINT);
  return parsed.data;
}

/** One finding, its keys assigned in the Finding order (no scratch object per optional field: 25,000 in a triage). */
function trivyFinding(v: TrivyVulnerability, target: string | undefined): Finding {
  const f: Mutable<Finding> = { id: v.VulnerabilityID, pkg: v.PkgName, installedVersion: v.InstalledVersion };
  if (v.FixedVersion) f.fixedVersion = v.FixedVersion;
  if (v.PkgPath) f.pkgPath = v.PkgPath;
  f.severity = v.Severity ?? 'UNKNOWN';
  if (v.Status) f.status = v.Status;
  if (v.Title) f.title = v.Title;
  if (target) f.target = target;
  if (v.PrimaryURL) f.url = v.PrimaryURL;
  f.cvss = toCvss(v.CVSS);
  return f as Finding;
}

// The fast check: the rules of trivyReportSchema (a property test proves it accepts nothing zod refuses and yields
// the same findings), on the shape JSON.parse produces. It accepts a subset of what zod accepts (severities only as
// Trivy spells them, so no mapping is needed and the value read is the value zod would return: only the schema's
// keys are ever read from it); anything else goes to zod, so every refusal keeps zod's message.

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string';
const optScore = (v: unknown): boolean =>
  v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 10);

function checkCvssMap(m: unknown): boolean {
  if (m === undefined) return true;
  if (!isObj(m)) return false;
  for (const k in m) {
    if (!Object.hasOwn(m, k)) continue;
    // zod's record writes each key into a fresh object: leave that key's meaning to zod.
    if (k === '__proto__') return false;
    const c = m[k];
    if (!isObj(c) || !optScore(c['V2Score']) || !optScore(c['V3Score']) || !optScore(c['V40Score']))
      return false;
    if (!optStr(c['V3Vector'])) return false;
  }
  return true;
}

/** The spellings Trivy writes; any other (lower case, empty) is left to the zod schema's mapping. */
const TRIVY_SEVERITY_SPELLINGS: ReadonlySet<unknown> = new Set(SEVERITIES);

function checkVulnerability(v: unknown): boolean {
  if (!isObj(v)) return false;
  const id = v['VulnerabilityID'];
  if (typeof id !== 'string' || id.length < 1) return false;
  if (typeof v['PkgName'] !== 'string' || typeof v['InstalledVersion'] !== 'string') return false;
  if (!optStr(v['PkgPath']) || !optStr(v['FixedVersion']) || !optStr(v['Status'])) return false;
  if (!optStr(v['Title']) || !optStr(v['PrimaryURL']) || !checkCvssMap(v['CVSS'])) return false;
  const sev = v['Severity'];
  return sev === undefined || TRIVY_SEVERITY_SPELLINGS.has(sev);
}

/** trivyReportSchema's answer for `raw` when `raw` is valid in the common shape, else undefined (ask zod). */
export function checkTrivyFast(raw: unknown): TrivyReport | undefined {
  if (!isObj(raw) || raw['SchemaVersion'] !== 2 || !optStr(raw['ArtifactName'])) return undefined;
  const meta = raw['Metadata'];
  if (meta !== undefined) {
    if (!isObj(meta) || !optStr(meta['ImageID'])) return undefined;
    const digests = meta['RepoDigests'];
    if (digests !== undefined && (!Array.isArray(digests) || !digests.every((d) => typeof d === 'string')))
      return undefined;
  }
  const results = raw['Results'];
  if (results !== undefined && results !== null) {
    if (!Array.isArray(results)) return undefined;
    for (const res of results as unknown[]) {
      if (!isObj(res) || !optStr(res['Target']) || !optStr(res['Class'])) return undefined;
      const vulns = res['Vulnerabilities'];
      if (vulns === undefined || vulns === null) continue;
      if (!Array.isArray(vulns)) return undefined;
      for (const v of vulns as unknown[]) if (!checkVulnerability(v)) return undefined;
    }
  }
  return raw as unknown as TrivyReport;
}

// ------------------------------------------------------------------------------------ Harbor

/** Report MIME types Harbor keys the vulnerability addition by (harbor.md §3), in preference order. */
export const HARBOR_REPORT_MIME_TYPES = [
  'application/vnd.security.vulnerability.report; version=1.1',
  'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
] as const;

/** Harbor capitalises severities; `None`/`Negligible` count as LOW (a documented policy choice). */
const harborSeverity = severityFrom((s) => {
  switch (s) {
    case 'Critical':
      return 'CRITICAL';
    case 'High':
      return 'HIGH';
    case 'Medium':
      return 'MEDIUM';
    case 'Low':
    case 'Negligible':
    case 'None':
      return 'LOW';
    case 'Unknown':
    case '':
      return 'UNKNOWN';
    default:
      return undefined;
  }
}, 'None, Unknown, Negligible, Low, Medium, High, Critical');

const harborItem = z.object({
  id: z.string().check(z.minLength(1, 'must be a non-empty string')),
  package: z.string(),
  version: z.string(),
  fix_version: z.nullish(z.string()),
  severity: harborSeverity,
  status: z.nullish(z.string()),
  description: z.nullish(z.string()),
  links: z.nullish(z.array(z.string())),
  artifact_digests: z.nullish(z.array(z.string())),
  vendor_attributes: z.nullish(z.object({ CVSS: cvssMap })),
  preferred_cvss: z.nullish(z.object({ score_v3: z.nullish(score), score_v2: z.nullish(score) })),
});

const harborReport = z.object({
  vulnerabilities: z.nullish(z.array(harborItem)),
});

const HARBOR_HINT =
  'aibox reads Harbor v2 `GET …/artifacts/{digest}/additions/vulnerabilities`; check the Harbor version and the scanner attached to the project';

/**
 * Parse Harbor's `additions/vulnerabilities` body (an object keyed by report MIME type) into a
 * ScanReport. `image` and `digest` name what was scanned (Harbor's body does not).
 */
export function parseHarborReport(
  body: unknown,
  image: { reference: string; digest: string },
  source = 'Harbor',
): ScanReport {
  const what = 'Harbor vulnerability report';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    fail(source, what, 'expected a JSON object keyed by report MIME type', HARBOR_HINT);
  }
  const map = body as Record<string, unknown>;
  const mime = HARBOR_REPORT_MIME_TYPES.find((m) => Object.hasOwn(map, m));
  if (!mime) {
    const keys = Object.keys(map);
    fail(
      source,
      what,
      keys.length === 0
        ? 'the artifact has no vulnerability report (not scanned)'
        : `no supported report type (got ${keys
            .slice(0, 3)
            .map((k) => JSON.stringify(k.slice(0, 80)))
            .join(', ')})`,
      HARBOR_HINT,
    );
  }
  const parsed = safeParseEn(harborReport, map[mime]);
  if (!parsed.success) fail(source, what, `${JSON.stringify(mime)}.${firstIssue(parsed.error)}`, HARBOR_HINT);
  const findings: Finding[] = (parsed.data.vulnerabilities ?? []).map((v) => {
    const cvss = toCvss(v.vendor_attributes?.CVSS);
    // Harbor's preferred_cvss is derived from vendor CVSS; keep it only when no vendor data exists.
    if (Object.keys(cvss).length === 0 && v.preferred_cvss?.score_v3 != null) {
      cvss['harbor'] = { v3Score: v.preferred_cvss.score_v3 };
    }
    const link = v.links?.[0];
    return {
      id: v.id,
      pkg: v.package,
      installedVersion: v.version,
      ...(v.fix_version ? { fixedVersion: v.fix_version } : {}),
      severity: v.severity,
      ...(v.status ? { status: v.status } : {}),
      ...(link ? { url: link } : {}),
      cvss,
    };
  });
  return finish({ scanner: 'harbor', image: image.reference, digest: image.digest }, findings);
}
