/**
 * The fleet report (issue 10 §6): one small JSON document `aibox start`, `check` and `update` send
 * when a fleet URL is configured, so the platform team sees what every developer machine runs.
 * Pure: plain values in (including `now`), the document out. Schema: schema/fleet-report.schema.json,
 * documented in docs/fleet-report.md. The sender is an adapter (src/adapters/fleet-http.ts).
 */
import { sha256Digest } from '../oci/digest.js';
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

/** The report of a command that failed before any preflight outcome (registry down, podman missing). */
export function failureReport(event: FleetEvent, variant: string, ctx: FleetContext): FleetReport {
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
