/**
 * CVE records (issue 9 §2), the pure model: every triaged CVE with its first-seen time, deadline and state
 * (open / fixed by tag T per variant at time X / accepted with reason and expiry). The document is stored in the
 * registry as a signed OCI artifact (`record-store.ts`) and copied into the local run records; this module only
 * builds, merges, validates and (de)serialises it. No I/O.
 */
import { TAG_PATTERN } from '../oci/reference.js';
import { isRfc3339, VARIANT_RE } from '../channel/channel.js';
import * as z from 'zod/mini';
import { isCalendarDate, parseDateInput } from '../core/dates.js';
import { AiboxError } from '../core/errors.js';
import { safeParseEn } from '../core/zod-en.js';
import { cvssBand } from '../scan/cvss.js';
import { isoSeconds, vulnIdProblem, type TriageRow } from './triage.js';

export type CveSeverity = 'Critical' | 'High' | 'Medium' | 'Low' | 'None';

export interface CveRecord {
  id: string;
  cvss: number;
  severity: CveSeverity;
  firstSeen: string;
  deadline: string;
  variants: string[];
  packages: string[];
  state:
    | { kind: 'open' }
    | { kind: 'fixed'; at: string; tags: Record<string, string> }
    | { kind: 'accepted'; reason: string; expires: string };
}

export interface CveRecords {
  schemaVersion: 1;
  updatedAt: string;
  records: CveRecord[];
}

export const CVE_RECORDS_ARTIFACT_TYPE = 'application/vnd.aibox.cve-records.v1+json';
/** Repository (under the registry project, beside `channel`) and tag of the records artifact. */
export const CVE_RECORDS_REPOSITORY = 'cve-records';
export const CVE_RECORDS_TAG = 'current';
/** Larger documents are refused unread (a record is ~300 bytes; 4 MiB holds over ten thousand). */
export const MAX_CVE_RECORDS_BYTES = 4 * 1024 * 1024;
export const MAX_CVE_RECORDS = 10_000;

const isTime = isRfc3339;
const TAG_RE = TAG_PATTERN;
// eslint-disable-next-line no-control-regex -- refusing control characters is this regex's job
const PKG_RE = /^[^\s\u0000-\u001f\u007f]{1,214}$/;

const time = z.string().check(z.refine(isTime, 'must be an RFC 3339 date-time, e.g. 2026-02-22T02:00:00Z'));
const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const id = z
  .string()
  .check(
    z.refine((s) => vulnIdProblem(s) === undefined, 'must be a vulnerability id such as CVE-2026-12345'),
  );

const recordSchema = z.strictObject({
  id,
  cvss: z.number().check(z.minimum(0), z.maximum(10)),
  severity: z.enum(['Critical', 'High', 'Medium', 'Low', 'None']),
  firstSeen: time,
  deadline: time,
  // Variants are names, or what a report of an unknown variant called the image.
  variants: z.array(text(300)).check(z.maxLength(64)),
  packages: z.array(z.string().check(z.regex(PKG_RE, 'must be a package name'))).check(z.maxLength(512)),
  state: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('open') }),
    z.strictObject({
      kind: z.literal('fixed'),
      at: time,
      tags: z.record(
        z.string().check(z.regex(VARIANT_RE, 'must be a variant name')),
        z.string().check(z.regex(TAG_RE, 'must be a tag')),
      ),
    }),
    z.strictObject({
      kind: z.literal('accepted'),
      reason: text(1000),
      expires: z.string().check(z.refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD')),
    }),
  ]),
});

const recordsSchema = z.strictObject({
  schemaVersion: z.literal(1),
  updatedAt: time,
  records: z.array(recordSchema).check(z.maxLength(MAX_CVE_RECORDS)),
});

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(top level)';
}

/** The records error: what is wrong with which document. */
export function invalidRecords(where: string, rule: string): AiboxError {
  return new AiboxError({
    code: 'CVE_RECORDS_INVALID',
    message: `CVE records ${where} are invalid: ${rule}`,
    hint: 'only `aiboxctl cve triage` / `cve accept` / `cve rebuild` should write the cve-records repository; check who wrote it',
  });
}

/** Validate any value as a CVE records document (strict: unknown keys, duplicates and bad values refused). */
export function validateCveRecords(value: unknown, where = '(value)'): CveRecords {
  const r = safeParseEn(recordsSchema, value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalidRecords(
      where,
      issue ? `${pathOf(issue.path)}: ${issue.message}` : 'does not match the schema',
    );
  }
  const seen = new Set<string>();
  for (const rec of r.data.records) {
    if (seen.has(rec.id)) throw invalidRecords(where, `record ${rec.id} appears twice`);
    seen.add(rec.id);
  }
  return r.data;
}

/** Parse stored bytes (size-bounded, UTF-8 JSON, strict schema). */
export function parseCveRecords(bytes: Uint8Array, where = '(bytes)'): CveRecords {
  if (bytes.byteLength > MAX_CVE_RECORDS_BYTES)
    throw invalidRecords(where, `${bytes.byteLength} bytes, over ${MAX_CVE_RECORDS_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e: unknown) {
    throw invalidRecords(where, `not JSON (${(e instanceof Error ? e.message : String(e)).slice(0, 200)})`);
  }
  return validateCveRecords(value, where);
}

/** Canonical bytes: records sorted by id, keys in a fixed order. */
export function serializeCveRecords(doc: CveRecords): Uint8Array {
  const bytes = new TextEncoder().encode(`${JSON.stringify(normalise(doc), null, 2)}\n`);
  if (bytes.byteLength > MAX_CVE_RECORDS_BYTES)
    throw invalidRecords('to write', `${bytes.byteLength} bytes, over ${MAX_CVE_RECORDS_BYTES}`);
  return bytes;
}

function normalise(doc: CveRecords): CveRecords {
  return {
    schemaVersion: 1,
    updatedAt: doc.updatedAt,
    records: [...doc.records]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => ({
        id: r.id,
        cvss: r.cvss,
        severity: r.severity,
        firstSeen: r.firstSeen,
        deadline: r.deadline,
        variants: [...new Set(r.variants)].sort(),
        packages: [...new Set(r.packages)].sort(),
        state: r.state,
      })),
  };
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort();
const earlier = (a: string, b: string) => (Date.parse(a) <= Date.parse(b) ? a : b);

/** An `accepted` state is live through the end of its expiry day (UTC). */
export function acceptanceLive(state: CveRecord['state'], now: Date): boolean {
  return state.kind === 'accepted' && now.getTime() < Date.parse(`${state.expires}T00:00:00Z`) + 86_400_000;
}

/**
 * Record what a triage found: new ids open, known ids keep their first-seen (never later), take the row's score,
 * deadline, variants and packages. A fixed CVE that a scan finds again is open again (it came back); an accepted one
 * stays accepted while the acceptance is live.
 */
export function recordTriage(prev: CveRecords | null, rows: readonly TriageRow[], now: Date): CveRecords {
  const byId = new Map<string, CveRecord>((prev?.records ?? []).map((r) => [r.id, r]));
  for (const row of rows) {
    const old = byId.get(row.id);
    if (!old) {
      byId.set(row.id, {
        id: row.id,
        cvss: row.cvss,
        severity: row.severity,
        firstSeen: row.firstSeen,
        deadline: row.deadline,
        variants: [...row.variants],
        packages: [...row.packages],
        state: { kind: 'open' },
      });
      continue;
    }
    const keepDeadline = Date.parse(old.firstSeen) < Date.parse(row.firstSeen);
    byId.set(row.id, {
      ...old,
      cvss: row.cvss,
      severity: row.severity,
      firstSeen: earlier(old.firstSeen, row.firstSeen),
      // The row's deadline was computed from its first-seen; when the record knew an earlier one, keep its deadline.
      deadline: keepDeadline ? old.deadline : row.deadline,
      variants: union(old.variants, row.variants),
      packages: union(old.packages, row.packages),
      state: acceptanceLive(old.state, now) ? old.state : { kind: 'open' },
    });
  }
  return normalise({ schemaVersion: 1, updatedAt: isoSeconds(now.getTime()), records: [...byId.values()] });
}

/** Record an emergency fix: each id becomes fixed at `at` by the given tag per variant (unknown ids are created). */
export function markFixed(
  prev: CveRecords | null,
  fix: {
    ids: readonly string[];
    cvss?: number;
    tags: Record<string, string>;
    at: string;
    variants: readonly string[];
  },
  now: Date,
): CveRecords {
  if (!isTime(fix.at)) throw invalidRecords('to write', `fix time ${JSON.stringify(fix.at)} is not RFC 3339`);
  const byId = new Map<string, CveRecord>((prev?.records ?? []).map((r) => [r.id, r]));
  for (const id of fix.ids) {
    const problem = vulnIdProblem(id);
    if (problem) throw invalidRecords('to write', `${JSON.stringify(id)}: ${problem}`);
    const old = byId.get(id);
    const cvss = fix.cvss ?? old?.cvss ?? 0;
    const base: CveRecord = old ?? {
      id,
      cvss,
      severity: cvssBand(cvss),
      firstSeen: fix.at,
      deadline: fix.at,
      variants: [],
      packages: [],
      state: { kind: 'open' },
    };
    const tags = { ...(old?.state.kind === 'fixed' ? old.state.tags : {}), ...fix.tags };
    byId.set(id, {
      ...base,
      cvss,
      severity: cvssBand(cvss),
      variants: union(base.variants, fix.variants),
      state: { kind: 'fixed', at: fix.at, tags },
    });
  }
  return normalise({ schemaVersion: 1, updatedAt: isoSeconds(now.getTime()), records: [...byId.values()] });
}

/** Validate `cve accept` input: a well-formed id, a reason, an expiry date (YYYY-MM-DD) not in the past. */
export function checkAcceptance(
  a: { id: string; reason: string; expires: string },
  now: Date,
): { id: string; reason: string; expires: string } {
  const problem = vulnIdProblem(a.id);
  if (problem) {
    throw new AiboxError({
      code: 'USAGE',
      message: `--cve ${JSON.stringify(a.id.slice(0, 80))} is malformed: ${problem}`,
      hint: 'e.g. --cve CVE-2026-12345 (as aiboxctl cve list shows it)',
    });
  }
  const reason = a.reason.trim();
  if (reason === '' || reason.length > 1000)
    throw new AiboxError({
      code: 'USAGE',
      message: '--reason must be 1 to 1000 characters',
      hint: 'say why the risk is accepted',
    });
  const expires = parseDateInput(a.expires, '--expires');
  if (!acceptanceLive({ kind: 'accepted', reason, expires }, now)) {
    throw new AiboxError({
      code: 'USAGE',
      message: `--expires ${expires} is in the past`,
      hint: 'an acceptance must expire on a future date (it is reviewed then)',
    });
  }
  return { id: a.id, reason, expires };
}

/** Record an accepted risk (reason, expiry YYYY-MM-DD); the id must already be recorded by a triage. */
export function markAccepted(
  prev: CveRecords | null,
  a: { id: string; reason: string; expires: string },
  now: Date,
): CveRecords {
  const old = prev?.records.find((r) => r.id === a.id);
  if (!old) {
    throw new AiboxError({
      code: 'NOT_FOUND',
      message: `${a.id} is not in the CVE records`,
      hint: 'triage the report that lists it first (aiboxctl cve triage --report FILE), then accept it',
    });
  }
  const next = { ...old, state: { kind: 'accepted' as const, reason: a.reason, expires: a.expires } };
  return normalise({
    schemaVersion: 1,
    updatedAt: isoSeconds(now.getTime()),
    records: [...(prev?.records ?? []).filter((r) => r.id !== a.id), next],
  });
}

/**
 * Whether the response deadline was met: fixed at or before the deadline → true, after → false; accepted (live) →
 * true; open (or a lapsed acceptance) past the deadline → false; null = still open, not yet due.
 */
export function deadlineMet(r: CveRecord, now: Date): boolean | null {
  const deadline = Date.parse(r.deadline);
  if (r.state.kind === 'fixed') return Date.parse(r.state.at) <= deadline;
  if (acceptanceLive(r.state, now)) return true;
  return now.getTime() > deadline ? false : null;
}

/** First-seen times by id, for the next triage. */
export function firstSeenOf(doc: CveRecords | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of doc?.records ?? []) out[r.id] = r.firstSeen;
  return out;
}
