/**
 * The release channel document (pure core). On every promotion aibox publishes one signed document that names,
 * for every variant, the promoted tag and digest and its security floor. Clients trust this document rather
 * than the mutable `latest` tag. It defends against:
 *  - freeze (an attacker serving an old, validly signed state forever): `expiresAt`;
 *  - replay / rollback (serving an older signed document): `sequence` never decreases vs the client's last seen;
 *  - mix-and-match (combining variants from different promotions): all variants live in one signed document.
 * Design follows TUF's timestamp/snapshot roles: https://theupdateframework.github.io/specification/latest/
 */
import * as z from 'zod/mini';
import { AiboxError } from '../core/errors.js';
import { safeParseEn } from '../core/zod-en.js';
import { isCalendarDate } from '../core/dates.js';
import { TAG_PATTERN } from '../oci/reference.js';

export const CHANNEL_ARTIFACT_TYPE = 'application/vnd.aibox.channel.v1+json';
/** Repository (under the registry project) and tag the channel is published at. */
export const CHANNEL_REPOSITORY = 'channel';
export const CHANNEL_TAG = 'current';
export const CHANNEL_SCHEMA_VERSION = 1;
export const DEFAULT_CHANNEL_TTL_DAYS = 14;
/** Larger documents are refused unread (a channel for a handful of variants is a few KiB). */
export const MAX_CHANNEL_BYTES = 256 * 1024;
/** Clock skew tolerated between publisher and client when judging `issuedAt`. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/**
 * Highest sequence a channel may carry. A weekly channel with daily emergencies needs a few thousand per century;
 * the bound keeps `sequence + 1` exact and makes a document claiming 2^53−1 malformed rather than a dead end.
 */
export const MAX_CHANNEL_SEQUENCE = 2 ** 31 - 1;

export interface ChannelCve {
  readonly id: string;
  readonly cvss: number;
}

export interface ChannelVariant {
  /** Promoted date tag, e.g. 24.04-20260221 or 24.04-20260221-cve-2026-12345. */
  readonly tag: string;
  /** Manifest digest the tag pointed at when promoted (clients pull by this digest). */
  readonly digest: string;
  /** Image creation time (RFC 3339, org.opencontainers.image.created). */
  readonly created: string;
  /** Security floor: when true, clients refuse to start images older than the floor. */
  readonly mandatoryUpdate: boolean;
  /** Runbook's `min-image-date` (YYYY-MM-DD), or null when there is no floor. */
  readonly minImageDate: string | null;
  /** The same floor, precise (RFC 3339), or null. */
  readonly minImageCreated: string | null;
  /** The vulnerability behind the floor, for the SECURITY UPDATE REQUIRED message. */
  readonly cve?: ChannelCve;
  /** The scan gate at promotion: passed, or explicitly allowed unscanned (`--allow-unscanned`). Absent in older documents. */
  readonly scan?: ChannelScan;
  /**
   * Present only when an operator rolled this variant back below its own floor on purpose
   * (`aiboxctl rollback --force-below-floor --reason`): the signed record of that decision. The floor itself is
   * unchanged, so clients still refuse images older than it. Absent in every other document.
   */
  readonly belowFloor?: ChannelBelowFloor;
}

/** The signed marker of a deliberate rollback below a variant's security floor. */
export interface ChannelBelowFloor {
  /** The operator's reason (one line, at most 500 characters). */
  readonly reason: string;
  /** When the rollback was published (RFC 3339). */
  readonly at: string;
}

/** What a promotion recorded about a variant's scan: `passed`, or `unscanned` (allowed explicitly). */
export type ChannelScan = 'passed' | 'unscanned';

export interface Channel {
  readonly schemaVersion: 1;
  /** Increases by one on every publication; never decreases. */
  readonly sequence: number;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly variants: Readonly<Record<string, ChannelVariant>>;
  /** Signing keys announced to clients (issue 10 item 4; docs/keys.md). Absent in older documents. */
  readonly keys?: ChannelKeys;
}

// ------------------------------------------------------------------ key announcements (docs/keys.md)

/** A public key clients should add to their trust store, with its validity window. */
export interface ChannelKeyAdd {
  /** `sha256:<hex>` of the key's SubjectPublicKeyInfo DER (the fingerprint `keys status` prints). */
  readonly keyId: string;
  readonly name: string;
  /** PKIX PEM, exactly as in cosign.pub. */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string | null;
}

/** A key clients must stop trusting from `effective` on. */
export interface ChannelKeyRetire {
  readonly keyId: string;
  readonly effective: string;
}

/** Keys announced by the channel: carried forward by every later publication until replaced. */
export interface ChannelKeys {
  readonly add: readonly ChannelKeyAdd[];
  readonly retire: readonly ChannelKeyRetire[];
}

/** Bounds of the `keys` block (a rotation announces one key; retirements accumulate slowly). */
export const MAX_KEY_ADDS = 8;
export const MAX_KEY_RETIRES = 32;
export const MAX_PUBLIC_KEY_PEM_CHARS = 4096;

/** What a promotion knows about one variant. Floor fields are optional: omitted = carry the previous floor. */
export interface ChannelEntry {
  readonly variant: string;
  readonly tag: string;
  readonly digest: string;
  readonly created: string;
  readonly mandatoryUpdate?: boolean;
  readonly minImageDate?: string;
  readonly minImageCreated?: string;
  readonly cve?: ChannelCve;
  /** The scan gate at promotion (recorded in the document when given). */
  readonly scan?: ChannelScan;
}

export interface BuildChannelOptions {
  /** Validity window (default 14 days). */
  readonly ttlDays?: number;
  /** Variants whose floor may be lowered/cleared to the entry's (explicit operator decision). */
  readonly lowerFloors?: readonly string[];
  /** Variants to drop from the channel (by default variants absent from `entries` are carried forward). */
  readonly removeVariants?: readonly string[];
  /** The sequence to publish (default `prev.sequence + 1`); must be above `prev.sequence` (repair skips ahead). */
  readonly sequence?: number;
  /**
   * Variants that may be published older than their floor (variant → the operator's reason): the entry then
   * carries the signed `belowFloor` marker and the floor stays as it is. Only `aiboxctl rollback --force-below-floor`.
   */
  readonly belowFloor?: Readonly<Record<string, string>>;
  /** The key announcements to publish (default: carried forward from `prev`; null drops them). */
  readonly keys?: ChannelKeys | null;
}

// ------------------------------------------------------------------ value rules

/** A variant name as documents carry it (channel, CVE records): lowercase letters, digits and -, at most 64. */
export const VARIANT_RE = /^[a-z][a-z0-9-]{0,63}$/;
const TAG_RE = TAG_PATTERN;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const CVE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** True for an RFC 3339 date-time with a real date, valid time of day and explicit offset. */
export function isRfc3339(s: string): boolean {
  const m = RFC3339_RE.exec(s);
  if (!m) return false;
  if (!isCalendarDate(`${m[1]}-${m[2]}-${m[3]}`)) return false;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) return false;
  const off = m[8] as string;
  if (off !== 'Z' && (Number(off.slice(1, 3)) > 23 || Number(off.slice(4, 6)) > 59)) return false;
  return Number.isFinite(Date.parse(s));
}

const ms = (s: string): number => Date.parse(s);
/** RFC 3339 in UTC with second precision, the form the channel writes. */
export function formatTime(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
/** The UTC calendar date of an RFC 3339 time. */
function utcDate(s: string): string {
  return new Date(ms(s)).toISOString().slice(0, 10);
}

const rfc3339 = z
  .string()
  .check(z.refine(isRfc3339, 'must be an RFC 3339 date-time, e.g. 2026-02-22T02:00:00Z'));
const calendarDate = z.string().check(z.refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD'));

const cveSchema = z.strictObject({
  id: z.string().check(z.regex(CVE_ID_RE, 'must be an identifier such as CVE-2026-12345')),
  cvss: z.number().check(z.minimum(0), z.maximum(10)),
});

const belowFloorSchema = z.strictObject({
  reason: z.string().check(z.minLength(1), z.maxLength(500)),
  at: rfc3339,
});

const variantSchema = z
  .strictObject({
    tag: z.string().check(z.regex(TAG_RE, 'must be an OCI tag')),
    digest: z.string().check(z.regex(DIGEST_RE, 'must be sha256:<64 lowercase hex>')),
    created: rfc3339,
    mandatoryUpdate: z.boolean(),
    minImageDate: z.nullable(calendarDate),
    minImageCreated: z.nullable(rfc3339),
    cve: z.optional(cveSchema),
    scan: z.optional(z.enum(['passed', 'unscanned'])),
    belowFloor: z.optional(belowFloorSchema),
  })
  .check(
    z.superRefine((v, ctx) => {
      if ((v.minImageDate === null) !== (v.minImageCreated === null)) {
        ctx.addIssue({
          code: 'custom',
          message: 'minImageDate and minImageCreated must both be set or both be null',
        });
      } else if (
        v.minImageDate !== null &&
        v.minImageCreated !== null &&
        utcDate(v.minImageCreated) !== v.minImageDate
      ) {
        ctx.addIssue({ code: 'custom', message: 'minImageDate must be the UTC date of minImageCreated' });
      }
      if (v.mandatoryUpdate && v.minImageDate === null) {
        ctx.addIssue({
          code: 'custom',
          message: 'mandatoryUpdate needs a floor (minImageDate/minImageCreated)',
        });
      }
      // An image older than its floor is allowed only with the signed marker of a deliberate rollback.
      if (v.minImageCreated !== null && ms(v.created) < ms(v.minImageCreated) && !v.belowFloor) {
        ctx.addIssue({
          code: 'custom',
          message: 'the promoted image is older than its own floor (created < minImageCreated)',
        });
      }
    }),
  );

const KEY_ID_RE = /^sha256:[0-9a-f]{64}$/;
const KEY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
const PUBLIC_KEY_PEM_RE = /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$/;
const keyId = z.string().check(z.regex(KEY_ID_RE, 'must be a key fingerprint sha256:<64 lowercase hex>'));

const keyAddSchema = z
  .strictObject({
    keyId,
    name: z.string().check(z.regex(KEY_NAME_RE, 'must be 1-64 letters, digits and ._@+-')),
    publicKey: z
      .string()
      .check(
        z.maxLength(MAX_PUBLIC_KEY_PEM_CHARS, `must be at most ${MAX_PUBLIC_KEY_PEM_CHARS} characters`),
        z.regex(PUBLIC_KEY_PEM_RE, 'must be a PEM "PUBLIC KEY" block, as in cosign.pub'),
      ),
    notBefore: rfc3339,
    notAfter: z.nullable(rfc3339),
  })
  .check(
    z.refine((k) => k.notAfter === null || ms(k.notAfter) > ms(k.notBefore), {
      error: 'notAfter must be after notBefore',
      path: ['notAfter'],
    }),
  );

const keyRetireSchema = z.strictObject({ keyId, effective: rfc3339 });

function unique(ids: readonly string[]): boolean {
  return new Set(ids).size === ids.length;
}

const keysSchema = z
  .strictObject({
    add: z.array(keyAddSchema).check(z.maxLength(MAX_KEY_ADDS, `at most ${MAX_KEY_ADDS} keys`)),
    retire: z
      .array(keyRetireSchema)
      .check(z.maxLength(MAX_KEY_RETIRES, `at most ${MAX_KEY_RETIRES} retirements`)),
  })
  .check(
    z.superRefine((k, ctx) => {
      if (k.add.length + k.retire.length === 0)
        ctx.addIssue({ code: 'custom', message: 'an empty keys block is written as no keys block' });
      if (!unique(k.add.map((a) => a.keyId)))
        ctx.addIssue({ code: 'custom', message: 'a key is announced twice', path: ['add'] });
      if (!unique(k.retire.map((r) => r.keyId)))
        ctx.addIssue({ code: 'custom', message: 'a key is retired twice', path: ['retire'] });
      const added = new Set(k.add.map((a) => a.keyId));
      if (k.retire.some((r) => added.has(r.keyId)))
        ctx.addIssue({ code: 'custom', message: 'a key is both announced and retired' });
    }),
  );

const channelSchema = z
  .strictObject({
    schemaVersion: z.literal(CHANNEL_SCHEMA_VERSION),
    sequence: z.int().check(z.minimum(1), z.maximum(MAX_CHANNEL_SEQUENCE)),
    issuedAt: rfc3339,
    expiresAt: rfc3339,
    variants: z
      .record(
        z.string().check(z.regex(VARIANT_RE, 'variant names are lowercase letters, digits and -')),
        variantSchema,
      )
      .check(z.refine((r) => Object.keys(r).length > 0, 'must name at least one variant')),
    keys: z.optional(keysSchema),
  })
  .check(
    z.refine((c) => ms(c.expiresAt) > ms(c.issuedAt), {
      error: 'expiresAt must be after issuedAt',
      path: ['expiresAt'],
    }),
  );

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(document)'}: ${i.message}`)
    .join('; ');
}

function invalidChannel(where: string, rule: string): AiboxError {
  return new AiboxError({
    code: 'CHANNEL_INVALID',
    message: `invalid channel document ${where}: ${rule}`,
    hint: 'the channel is written only by `aiboxctl promote`; republish it with `aiboxctl promote`, and report it if it persists',
  });
}

/** Validate any value as a Channel (strict: unknown fields are refused); throws CHANNEL_INVALID. */
export function validateChannel(value: unknown, where = '(value)'): Channel {
  const r = safeParseEn(channelSchema, value);
  if (!r.success) throw invalidChannel(where, describeIssues(r.error));
  return r.data;
}

/** Parse untrusted channel bytes (from the registry) into a Channel; throws CHANNEL_INVALID naming the rule. */
export function parseChannel(bytes: Uint8Array, where = '(bytes)'): Channel {
  if (bytes.byteLength > MAX_CHANNEL_BYTES) {
    throw invalidChannel(where, `${bytes.byteLength} bytes exceeds the ${MAX_CHANNEL_BYTES}-byte limit`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidChannel(where, 'not UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e: unknown) {
    throw invalidChannel(where, `not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return validateChannel(doc, where);
}

/** Canonical bytes of a channel: fixed key order, variants sorted by name, trailing newline. */
export function serializeChannel(channel: Channel): Uint8Array {
  const variants: Record<string, unknown> = {};
  for (const name of Object.keys(channel.variants).sort()) {
    const v = channel.variants[name] as ChannelVariant;
    variants[name] = {
      tag: v.tag,
      digest: v.digest,
      created: v.created,
      mandatoryUpdate: v.mandatoryUpdate,
      minImageDate: v.minImageDate,
      minImageCreated: v.minImageCreated,
      ...(v.cve ? { cve: { id: v.cve.id, cvss: v.cve.cvss } } : {}),
      ...(v.scan ? { scan: v.scan } : {}),
      ...(v.belowFloor ? { belowFloor: { reason: v.belowFloor.reason, at: v.belowFloor.at } } : {}),
    };
  }
  const doc = {
    schemaVersion: channel.schemaVersion,
    sequence: channel.sequence,
    issuedAt: channel.issuedAt,
    expiresAt: channel.expiresAt,
    variants,
    ...(channel.keys ? { keys: serializeKeys(channel.keys) } : {}),
  };
  return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
}

/** The `keys` block in canonical form: fixed field order, entries sorted by keyId. */
function serializeKeys(k: ChannelKeys): unknown {
  const byId = <T extends { keyId: string }>(a: T, b: T) => (a.keyId < b.keyId ? -1 : 1);
  return {
    add: [...k.add].sort(byId).map((a) => ({
      keyId: a.keyId,
      name: a.name,
      publicKey: a.publicKey,
      notBefore: a.notBefore,
      notAfter: a.notAfter,
    })),
    retire: [...k.retire].sort(byId).map((r) => ({ keyId: r.keyId, effective: r.effective })),
  };
}

// ------------------------------------------------------------------ build

function refused(message: string, hint: string): AiboxError {
  return new AiboxError({ code: 'POLICY_REFUSED', message, hint });
}

interface Floor {
  readonly mandatoryUpdate: boolean;
  readonly minImageDate: string | null;
  readonly minImageCreated: string | null;
  readonly cve?: ChannelCve;
}

/** The floor an entry asks for; a bare date means midnight UTC of that date. */
function entryFloor(e: ChannelEntry): Floor | undefined {
  let created: string | undefined = e.minImageCreated;
  if (e.minImageDate !== undefined && !isCalendarDate(e.minImageDate)) {
    throw invalidChannel(
      `entry for variant "${e.variant}"`,
      'minImageDate must be a calendar date written YYYY-MM-DD',
    );
  }
  if (created !== undefined && !isRfc3339(created)) {
    throw invalidChannel(`entry for variant "${e.variant}"`, 'minImageCreated must be an RFC 3339 date-time');
  }
  if (created === undefined && e.minImageDate !== undefined) created = `${e.minImageDate}T00:00:00Z`;
  if (created === undefined) {
    if (e.mandatoryUpdate) {
      throw invalidChannel(
        `entry for variant "${e.variant}"`,
        'mandatoryUpdate needs minImageDate or minImageCreated',
      );
    }
    return undefined;
  }
  const normalised = formatTime(ms(created));
  if (
    e.minImageDate !== undefined &&
    e.minImageCreated !== undefined &&
    utcDate(normalised) !== e.minImageDate
  ) {
    throw invalidChannel(
      `entry for variant "${e.variant}"`,
      'minImageDate must be the UTC date of minImageCreated',
    );
  }
  return {
    mandatoryUpdate: e.mandatoryUpdate ?? false,
    minImageDate: utcDate(normalised),
    minImageCreated: normalised,
    ...(e.cve ? { cve: e.cve } : {}),
  };
}

// eslint-disable-next-line no-control-regex -- matching control characters is this regex's job
const CONTROL_RUN = /[\u0000-\u001f\u007f]+/g;

/** The operator's reason as the marker holds it: one line, trimmed, at most 500 characters, never empty. */
function oneLineReason(reason: string): string {
  const r = reason.replace(CONTROL_RUN, ' ').replace(/\s+/g, ' ').trim().slice(0, 500);
  if (r === '') throw invalidChannel('options', 'belowFloor needs a reason');
  return r;
}

/** Combine the previous floor with the requested one: the higher floor wins, a mandatory flag sticks. */
function mergeFloor(prev: Floor | undefined, next: Floor | undefined, allowLower: boolean): Floor {
  const none: Floor = { mandatoryUpdate: false, minImageDate: null, minImageCreated: null };
  if (allowLower) return next ?? none;
  if (!prev || prev.minImageCreated === null) return next ?? none;
  if (!next || next.minImageCreated === null) return prev;
  const raised = ms(next.minImageCreated) > ms(prev.minImageCreated);
  const higher = raised ? next : prev;
  return { ...higher, mandatoryUpdate: prev.mandatoryUpdate || next.mandatoryUpdate };
}

/** The next channel document after `prev`: sequence+1, new entries applied, floors carried forward unless raised. */
export function buildChannel(
  prev: Channel | null,
  entries: readonly ChannelEntry[],
  now: Date | number,
  opts: BuildChannelOptions = {},
): Channel {
  const t = typeof now === 'number' ? now : now.getTime();
  const ttlDays = opts.ttlDays ?? DEFAULT_CHANNEL_TTL_DAYS;
  if (!(ttlDays > 0 && ttlDays <= 366)) {
    throw invalidChannel('options', `ttlDays must be more than 0 and at most 366, got ${ttlDays}`);
  }
  if (prev && t < ms(prev.issuedAt)) {
    throw refused(
      `refusing to publish channel: now (${formatTime(t)}) is before the current channel's issuedAt (${prev.issuedAt})`,
      "check this machine's clock (NTP); a channel issued in the past would look like a rollback",
    );
  }
  const seen = new Set<string>();
  const variants: Record<string, ChannelVariant> = {};
  const removed = new Set(opts.removeVariants ?? []);
  for (const [name, v] of Object.entries(prev?.variants ?? {})) if (!removed.has(name)) variants[name] = v;
  const lower = new Set(opts.lowerFloors ?? []);

  for (const e of entries) {
    const where = `entry for variant "${e.variant}"`;
    if (!VARIANT_RE.test(e.variant))
      throw invalidChannel(where, 'variant names are lowercase letters, digits and -');
    if (seen.has(e.variant)) throw invalidChannel(where, 'variant listed twice');
    seen.add(e.variant);
    if (removed.has(e.variant)) throw invalidChannel(where, 'variant is both promoted and removed');
    if (!TAG_RE.test(e.tag)) throw invalidChannel(where, `tag "${e.tag}" is not an OCI tag`);
    if (!DIGEST_RE.test(e.digest))
      throw invalidChannel(where, `digest "${e.digest}" is not sha256:<64 lowercase hex>`);
    if (!isRfc3339(e.created))
      throw invalidChannel(where, `created "${e.created}" is not an RFC 3339 date-time`);
    if (e.cve && !safeParseEn(cveSchema, e.cve).success)
      throw invalidChannel(where, 'cve needs an id and a CVSS score 0-10');

    const old = prev?.variants[e.variant];
    const floor = mergeFloor(old, entryFloor(e), lower.has(e.variant));
    const forced = opts.belowFloor?.[e.variant];
    const below = floor.minImageCreated !== null && ms(e.created) < ms(floor.minImageCreated);
    if (below && forced === undefined) {
      throw refused(
        `refusing to promote ${e.variant}:${e.tag}: it was created ${e.created}, before the security floor ${floor.minImageCreated}` +
          (floor.cve ? ` (${floor.cve.id})` : ''),
        'promote an image built after the floor, or lower the floor explicitly (lowerFloors) if the floor itself was wrong',
      );
    }
    variants[e.variant] = {
      tag: e.tag,
      digest: e.digest,
      created: e.created,
      mandatoryUpdate: floor.mandatoryUpdate,
      minImageDate: floor.minImageDate,
      minImageCreated: floor.minImageCreated,
      ...(floor.cve ? { cve: floor.cve } : {}),
      ...(e.scan ? { scan: e.scan } : {}),
      ...(below && forced !== undefined
        ? { belowFloor: { reason: oneLineReason(forced), at: formatTime(t) } }
        : {}),
    };
  }
  const sequence = opts.sequence ?? (prev?.sequence ?? 0) + 1;
  if (
    !Number.isSafeInteger(sequence) ||
    sequence <= (prev?.sequence ?? 0) ||
    sequence > MAX_CHANNEL_SEQUENCE
  ) {
    throw refused(
      `refusing to publish channel sequence ${sequence}: it must be an integer above the previous ${prev?.sequence ?? 0} and at most ${MAX_CHANNEL_SEQUENCE}`,
      'the channel sequence only goes up by one per publication; a larger jump means a tampered or corrupt channel (see `aiboxctl channel repair`)',
    );
  }
  const channel: Channel = {
    schemaVersion: CHANNEL_SCHEMA_VERSION,
    sequence,
    issuedAt: formatTime(t),
    expiresAt: formatTime(t + ttlDays * 86_400_000),
    variants,
  };
  // Key announcements are carried forward, so a client that skipped the announcing sequence still sees them.
  const keys = opts.keys === undefined ? prev?.keys : (opts.keys ?? undefined);
  return validateChannel(keys ? { ...channel, keys } : channel, `sequence ${sequence}`);
}

// ------------------------------------------------------------------ floors

/**
 * Every floor `next` lowers relative to `prev` (empty when none): a floored variant dropped, a floor moved earlier
 * or cleared, or `mandatoryUpdate` turned off. Promotions and repairs must never lower a floor (issue 7 §1); only an
 * explicit rollback-below-floor may, and it does not go through this rule.
 */
export function floorsLowered(prev: Channel, next: Channel): string[] {
  const out: string[] = [];
  for (const name of Object.keys(prev.variants).sort()) {
    const p = prev.variants[name] as ChannelVariant;
    if (p.minImageCreated === null) continue;
    const n = next.variants[name];
    if (!n) {
      out.push(`${name}: the variant (floor ${p.minImageCreated}) is dropped`);
    } else if (n.minImageCreated === null) {
      out.push(`${name}: the floor ${p.minImageCreated} is cleared`);
    } else if (ms(n.minImageCreated) < ms(p.minImageCreated)) {
      out.push(`${name}: the floor goes down from ${p.minImageCreated} to ${n.minImageCreated}`);
    } else if (p.mandatoryUpdate && !n.mandatoryUpdate) {
      out.push(`${name}: mandatoryUpdate is turned off (floor ${p.minImageCreated})`);
    }
  }
  return out;
}

/** Throw POLICY_REFUSED naming every floor `next` would lower relative to `prev`. */
export function assertFloorsKept(prev: Channel, next: Channel, where: string): void {
  const lowered = floorsLowered(prev, next);
  if (lowered.length === 0) return;
  throw new AiboxError({
    code: 'POLICY_REFUSED',
    message: `refusing to publish channel sequence ${next.sequence}: it would lower security floors of sequence ${prev.sequence} (${where}): ${lowered.join('; ')}`,
    hint: 'floors only go up; an image older than a floor cannot be promoted (rollback below a floor is a separate, explicit operation)',
    details: { lowered },
  });
}

// ------------------------------------------------------------------ check

export type ChannelProblemCode = 'expired' | 'not-yet-valid' | 'rollback' | 'equivocation' | 'malformed';

export interface ChannelProblem {
  readonly code: ChannelProblemCode;
  readonly message: string;
}

export type ChannelCheck =
  { readonly ok: true } | { readonly ok: false; readonly problems: readonly ChannelProblem[] };

export interface CheckChannelOptions {
  readonly now: Date | number;
  /** Highest sequence this client has accepted before (null/undefined on first use). */
  readonly lastSeenSequence?: number | null;
  /** Digest of the document accepted at lastSeenSequence, and of this one: same sequence must mean same document. */
  readonly lastSeenDigest?: string | null;
  readonly digest?: string;
}

/** Decide whether a client may trust a (signature-verified) channel right now; lists every problem found. */
export function checkChannel(channel: Channel, opts: CheckChannelOptions): ChannelCheck {
  const problems: ChannelProblem[] = [];
  const t = typeof opts.now === 'number' ? opts.now : opts.now.getTime();
  const valid = safeParseEn(channelSchema, channel);
  if (!valid.success) problems.push({ code: 'malformed', message: describeIssues(valid.error) });
  const expires = ms(channel.expiresAt);
  const issued = ms(channel.issuedAt);
  if (!(t < expires)) {
    problems.push({
      code: 'expired',
      message: `channel sequence ${channel.sequence} expired at ${channel.expiresAt} (now ${formatTime(t)}): the registry may be serving a frozen state`,
    });
  }
  if (issued - CLOCK_SKEW_MS > t) {
    problems.push({
      code: 'not-yet-valid',
      message: `channel sequence ${channel.sequence} was issued at ${channel.issuedAt}, in the future (now ${formatTime(t)})`,
    });
  }
  const last = opts.lastSeenSequence;
  if (last !== undefined && last !== null) {
    if (channel.sequence < last) {
      problems.push({
        code: 'rollback',
        message: `channel sequence went backwards: got ${channel.sequence}, already saw ${last}`,
      });
    } else if (
      channel.sequence === last &&
      opts.lastSeenDigest &&
      opts.digest &&
      opts.lastSeenDigest !== opts.digest
    ) {
      problems.push({
        code: 'equivocation',
        message: `two different channel documents carry sequence ${last} (${opts.lastSeenDigest} and ${opts.digest})`,
      });
    }
  }
  return problems.length === 0 ? { ok: true } : { ok: false, problems };
}

/** Turn a failed check into the CHANNEL_REJECTED error clients show. */
export function assertChannelOk(check: ChannelCheck, where: string): void {
  if (check.ok) return;
  throw new AiboxError({
    code: 'CHANNEL_REJECTED',
    message: `release channel ${where} rejected: ${check.problems.map((p) => p.message).join('; ')}`,
    hint: check.problems.some((p) => p.code === 'expired')
      ? 'the platform publishes a fresh channel on every promotion (at least weekly); ask the platform team to run `aiboxctl promote`'
      : 'do not use this registry state; contact the platform team (possible rollback or tampering)',
    details: { problems: check.problems.map((p) => p.code) },
  });
}
