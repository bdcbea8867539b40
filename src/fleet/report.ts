/**
 * The fleet report (issue 10 §6): one small JSON document `aibox start`, `check` and `update` send
 * when a fleet URL is configured, so the platform team sees what every developer machine runs.
 * Pure: plain values in (including `now`), the document out. Schema: schema/fleet-report.schema.json,
 * documented in docs/fleet-report.md. The sender is an adapter (src/adapters/fleet-http.ts).
 */
import { sha256Digest } from '../oci/digest.js';
import type { ErrorCode } from '../core/errors.js';
import type { Preflight } from '../sandbox/preflight.js';

/** Bumped on any incompatible change of the document (fields removed or re-typed). */
export const FLEET_REPORT_SCHEMA = 'aibox.fleet-report/v1';

export type FleetEvent = 'start' | 'check' | 'update';
/** Why a command said no (the preflight's kinds), or null when it did not. */
export type FleetRefusal = 'signature' | 'floor' | 'no-image' | 'channel';

export interface FleetReport {
  readonly schema: typeof FLEET_REPORT_SCHEMA;
  /** sha256 of host name + user name (hex): stable per developer account, names neither */
  readonly clientId: string;
  readonly event: FleetEvent;
  /** when the report was made (RFC 3339, UTC) */
  readonly at: string;
  readonly aiboxVersion: string;
  readonly variant: string;
  /** the local image the command looked at, or null when there is none */
  readonly image: { readonly digest: string; readonly tag: string; readonly created: string } | null;
  /** whether the image meets the variant's security floor (null: unknown, e.g. no image) */
  readonly floorMet: boolean | null;
  readonly outcome: 'ok' | 'refused' | 'failed';
  readonly refusal: FleetRefusal | null;
  /** images whose signature failed verification in this command (0 or more) */
  readonly signatureFailures: number;
  /** the channel sequence the command used, or null */
  readonly channelSequence: number | null;
  /** the command verified from the cache because the registry was unreachable */
  readonly offline: boolean;
}

/** The client id: sha256 over `host\nuser`, hex (no prefix). */
export function fleetClientId(host: string, user: string): string {
  return sha256Digest(new TextEncoder().encode(`${host}\n${user}`)).slice('sha256:'.length);
}

export interface FleetContext {
  readonly clientId: string;
  readonly aiboxVersion: string;
  readonly now: Date;
}

/** The report of a command whose outcome is a preflight (start, check; update after its own verify). */
export function reportFromPreflight(
  event: FleetEvent,
  variant: string,
  pf: Preflight,
  ctx: FleetContext,
): FleetReport {
  const image = pf.image ? { digest: pf.image.digest, tag: pf.image.tag, created: pf.image.created } : null;
  const common = {
    schema: FLEET_REPORT_SCHEMA,
    clientId: ctx.clientId,
    event,
    at: ctx.now.toISOString(),
    aiboxVersion: ctx.aiboxVersion,
    variant,
    image,
  } as const;
  if (pf.ok) {
    return {
      ...common,
      floorMet: true,
      outcome: 'ok',
      refusal: null,
      signatureFailures: 0,
      channelSequence: pf.channelSequence,
      offline: pf.offline,
    };
  }
  const refused = pf.kind === 'signature' || pf.kind === 'floor';
  return {
    ...common,
    floorMet: pf.kind === 'floor' ? false : null,
    outcome: refused ? 'refused' : 'failed',
    refusal: pf.kind,
    signatureFailures: pf.kind === 'signature' ? 1 : 0,
    channelSequence: null,
    offline: false,
  };
}

/** What `aibox update` reports once it has installed (or already had) the channel's image. */
export interface FleetUpdateOutcome {
  readonly variant: string;
  readonly image: { readonly tag: string; readonly digest: string; readonly created: string };
  readonly channelSequence: number;
}

/** The report of a successful `aibox update`: the channel's image, so the floor is met. */
export function reportFromUpdate(r: FleetUpdateOutcome, ctx: FleetContext): FleetReport {
  return {
    ...base('update', r.variant, ctx),
    image: { digest: r.image.digest, tag: r.image.tag, created: r.image.created },
    floorMet: true,
    outcome: 'ok',
    channelSequence: r.channelSequence,
  };
}

const SIGNATURE_CODES: ReadonlySet<ErrorCode> = new Set(['NO_SIGNATURES', 'NO_MATCHING_SIGNATURE']);
const CHANNEL_CODES: ReadonlySet<ErrorCode> = new Set(['CHANNEL_INVALID', 'CHANNEL_REJECTED']);

/** The report of a command that ended with an error (by its code, never its text): refusal or failure. */
export function reportFromError(
  event: FleetEvent,
  variant: string,
  code: ErrorCode | undefined,
  ctx: FleetContext,
): FleetReport {
  const r = base(event, variant, ctx);
  if (code !== undefined && SIGNATURE_CODES.has(code))
    return { ...r, outcome: 'refused', refusal: 'signature', signatureFailures: 1 };
  if (code === 'POLICY_REFUSED') return { ...r, outcome: 'refused', refusal: 'floor', floorMet: false };
  if (code !== undefined && CHANNEL_CODES.has(code)) return { ...r, refusal: 'channel' };
  return r;
}

/** A report of a failed command with nothing known yet (the fields a later outcome fills in). */
function base(event: FleetEvent, variant: string, ctx: FleetContext): FleetReport {
  return {
    schema: FLEET_REPORT_SCHEMA,
    clientId: ctx.clientId,
    event,
    at: ctx.now.toISOString(),
    aiboxVersion: ctx.aiboxVersion,
    variant,
    image: null,
    floorMet: null,
    outcome: 'failed',
    refusal: null,
    signatureFailures: 0,
    channelSequence: null,
    offline: false,
  };
}

export interface FleetSettings {
  readonly url: string;
  readonly tokenFile: string | null;
}

/** The developer config's `fleet` section (`{url, tokenFile}`), or null when no URL is configured. */
export function fleetSettings(config: object): FleetSettings | null {
  const f = (config as { fleet?: { url?: unknown; tokenFile?: unknown } | null }).fleet;
  if (!f || typeof f.url !== 'string' || f.url === '') return null;
  return { url: f.url, tokenFile: typeof f.tokenFile === 'string' && f.tokenFile ? f.tokenFile : null };
}

/** The port a workflow sends through: resolves (never rejects) within the sender's budget. */
export type FleetSink = (report: FleetReport) => Promise<void>;
