/**
 * The channel step every developer verb shares (setup, update, check, status): fetch the signed channel when online
 * (or take the cached one), verify its signature with the trusted keys FROM BYTES, refuse a sequence lower than the
 * highest this machine has seen (replay) or a second document for the same sequence, apply key announcements, and
 * fold its floors into the floors this machine keeps (they never go down). Ports only.
 */
import { checkChannel, type Channel } from '../channel/channel.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import type { ImageStore } from '../oci/store.js';
import type { TrustedKey } from '../signing/trust.js';
import { fetchChannel, openCachedChannel, verifyCachedSignatures } from './material.js';
import {
  higherFloor,
  type CachedChannel,
  type DevState,
  type DevStatePort,
  type VariantFloor,
} from './state.js';
import { applyAnnouncements, fromStored, toStored } from './trust.js';

/** What the developer verbs need: the registry (opened only when online), the state, the keys, the clock. */
export interface DevDeps {
  /** The registry client; called only when a command goes online. */
  readonly registry: () => Promise<ImageStore>;
  readonly host: string;
  readonly project: string;
  readonly state: DevStatePort;
  /** The trusted keys of the developer config (installed by `aibox setup`). */
  readonly trustedKeys: readonly TrustedKey[];
  readonly now: Date;
}

export interface VerifiedChannel {
  readonly channel: Channel;
  readonly cached: CachedChannel;
  /** The trusted set after the channel's key announcements. */
  readonly trust: readonly TrustedKey[];
  /** True when the registry could not be asked (or was not) and the cached channel is used. */
  readonly offline: boolean;
  readonly warnings: string[];
  /** The state with this channel folded in (seen sequence, channel cache, floors, trusted keys); not yet written. */
  readonly state: DevState;
  readonly expired: boolean;
}

/** Offline with nothing cached: there is no channel to judge by. */
export interface NoChannel {
  readonly channel: undefined;
  readonly offline: boolean;
  readonly warnings: string[];
}

const OUTAGES = ['REGISTRY_UNREACHABLE', 'TIMEOUT'] as const;

function rejected(message: string, hint: string, details: Record<string, unknown> = {}): AiboxError {
  return new AiboxError({ code: 'CHANNEL_REJECTED', message, hint, details });
}

/** The trusted keys in effect: the stored set (after announcements) when present, else the config's. */
export function currentTrust(state: DevState, configured: readonly TrustedKey[]): TrustedKey[] {
  return state.trusted && state.trusted.length > 0 ? fromStored(state.trusted) : [...configured];
}

/** The floor a channel variant carries, or undefined when it has none. */
export function channelFloor(channel: Channel, variant: string): VariantFloor | undefined {
  const v = channel.variants[variant];
  if (!v || v.minImageCreated === null || v.minImageDate === null) return undefined;
  return {
    minImageCreated: v.minImageCreated,
    minImageDate: v.minImageDate,
    mandatoryUpdate: v.mandatoryUpdate,
    cve: v.cve ?? null,
    sequence: channel.sequence,
  };
}

/**
 * Verify the channel: online (one manifest GET when nothing changed) unless `online` is false or the registry is
 * unreachable, then from the cache with a warning. Throws CHANNEL_REJECTED (signature, replay, equivocation, and
 * expiry when `refuseExpired`), NOT_FOUND (no channel), CACHE_INVALID (corrupt cache); never returns an unverified one.
 */
export async function verifiedChannel(
  deps: DevDeps,
  state: DevState,
  opts: { readonly online: boolean; readonly refuseExpired: boolean },
): Promise<VerifiedChannel | NoChannel> {
  const warnings: string[] = [];
  let cached = state.channel;
  let offline = !opts.online;
  if (opts.online) {
    try {
      cached = (await fetchChannel(await deps.registry(), deps.host, deps.project, state.channel, deps.now))
        .cached;
    } catch (e: unknown) {
      if (!OUTAGES.some((c) => isAiboxError(e, c))) throw e;
      offline = true;
      warnings.push(
        `warning: registry ${deps.host} unreachable (${(e as Error).message.split('\n')[0] ?? ''}); using the channel cached on this machine (offline)`,
      );
    }
  }
  if (!cached) return { channel: undefined, offline, warnings };
  const where = `${deps.host}/${deps.project}/channel@${cached.digest}`;
  const { channel } = await openCachedChannel(cached);
  const trust = currentTrust(state, deps.trustedKeys);
  const ver = verifyCachedSignatures(cached.signatures, cached.digest, trust, deps.now);
  const signedBy = ver.ok ? trust.find((k) => k.name === ver.verified[0]?.keyName) : undefined;
  if (!ver.ok || !signedBy) {
    throw rejected(
      `release channel ${where} rejected: its signature does not verify with the trusted keys (${trust.map((k) => k.name).join(', ') || 'none'}): ${ver.rejected.map((r) => r.reason).join('; ') || ver.status}`,
      'nothing was pulled or started; the channel may have been tampered with: contact the platform team (if the platform rotated its key, re-run `aibox setup --key NEW.pub`)',
      { reasons: ver.rejected.map((r) => r.reason) },
    );
  }
  const seen = state.seen?.key === `${deps.host}/${deps.project}` ? state.seen : undefined;
  const chk = checkChannel(channel, {
    now: deps.now,
    lastSeenSequence: seen?.sequence ?? null,
    lastSeenDigest: seen?.digest ?? null,
    digest: cached.digest,
  });
  const problems = chk.ok ? [] : chk.problems;
  const fatal = problems.filter((p) => p.code !== 'expired' || opts.refuseExpired);
  if (fatal.length > 0) {
    throw rejected(
      `release channel ${where} rejected: ${fatal.map((p) => p.message).join('; ')}`,
      fatal.some((p) => p.code === 'expired')
        ? 'nothing was pulled; the platform publishes a fresh channel on every promotion (at least weekly): ask the platform team to run `aiboxctl promote`'
        : 'nothing was pulled or started; the registry may be serving a replayed or tampered channel: contact the platform team',
      { problems: fatal.map((p) => p.code), sequence: channel.sequence, seen: seen?.sequence ?? null },
    );
  }
  const expired = problems.some((p) => p.code === 'expired');
  if (expired)
    warnings.push(`warning: the release channel expired at ${channel.expiresAt}; its floors still apply`);
  const rotated = applyAnnouncements(trust, channel, signedBy, deps.now);
  const floors: Record<string, VariantFloor> = { ...state.floors };
  for (const name of Object.keys(channel.variants)) {
    const f = higherFloor(floors[name], channelFloor(channel, name));
    if (f) floors[name] = f;
  }
  const next: DevState = {
    ...state,
    // Only a verified, non-replayed document raises what this machine remembers.
    seen:
      seen && seen.sequence >= channel.sequence
        ? seen
        : {
            key: `${deps.host}/${deps.project}`,
            sequence: channel.sequence,
            digest: cached.digest,
            at: deps.now.toISOString(),
          },
    channel: cached,
    floors,
    ...(rotated.added.length + rotated.retired.length > 0
      ? { trusted: toStored(rotated.trusted, 'channel') }
      : {}),
  };
  return { channel, cached, trust: rotated.trusted, offline, warnings, state: next, expired };
}
