/**
 * The developer's trusted keys: the stored set (after key announcements) or the config's keys, and the ONE place that
 * applies a verified channel's key announcements (issue 10 §4). Slice `rotation` provides
 * `applyKeyAnnouncements` in `channel/keys.ts`; until it is merged this is the identity (no announcements).
 */
import type { Channel } from '../channel/channel.js';
import { loadPublicKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import type { StoredKey } from './state.js';

export interface KeyAnnouncementResult {
  readonly trusted: TrustedKey[];
  readonly added: string[];
  readonly retired: string[];
  readonly ignored: string[];
}

/**
 * Apply the key announcements of a channel verified with `signedBy` (stub: identity until slice `rotation`'s
 * `applyKeyAnnouncements(trusted, channel, signedBy, now)` lands; replace this body with a call to it).
 */
export function applyAnnouncements(
  trusted: readonly TrustedKey[],
  _channel: Channel,
  _signedBy: TrustedKey,
  _now: Date,
): KeyAnnouncementResult {
  return { trusted: [...trusted], added: [], retired: [], ignored: [] };
}

/** Stored keys → TrustedKey values (a stored key that does not parse is CACHE_INVALID via loadPublicKey's error). */
export function fromStored(keys: readonly StoredKey[]): TrustedKey[] {
  return keys.map((k) => {
    const notBefore = k.notBefore ? new Date(k.notBefore) : null;
    return {
      name: k.name,
      publicKey: loadPublicKey(k.pem, `trusted key "${k.name}"`),
      notBefore,
      notAfter: k.notAfter ? new Date(k.notAfter) : null,
      createdAt: notBefore,
    };
  });
}

/** TrustedKey values → what the key store keeps. */
export function toStored(keys: readonly TrustedKey[], source: StoredKey['source']): StoredKey[] {
  return keys.map((k) => ({
    name: k.name,
    pem: k.publicKey.pem,
    notBefore: k.notBefore?.toISOString() ?? null,
    notAfter: k.notAfter?.toISOString() ?? null,
    source,
  }));
}
