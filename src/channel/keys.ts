/**
 * Key rotation reaching developers (issue 10 item 4, runbook §5): apply the `keys` block of a verified channel
 * to a client's trust store. Pure: plain values and `now` in, the new trust store and what happened out.
 *
 * The rules (threat model in docs/keys.md):
 *  1. Authority: announcements are applied only when the channel was verified with a key this client ALREADY
 *     trusted and may use now. A key announced only in a channel signed by itself (or by any key the client does
 *     not trust) is never trusted.
 *  2. Freshness: an expired document (possibly a replayed old announcement) or one issued in the future changes
 *     nothing.
 *  3. Announcements only narrow what the client already has: an added key never replaces or widens the window of a
 *     key already in the trust store; a retired key stays in the store as a tombstone (its `notAfter`), so a replayed
 *     announcement can never bring it back.
 *  4. A document may retire the key that signed it only when the client is left a successor: another trusted key
 *     (added by this document or before) usable from the retirement on. Otherwise that retirement is ignored (it
 *     would strand the client, forcing a `setup` the rotation is meant to avoid).
 */
import { loadPublicKey, type PublicKeyMaterial } from '../signing/keys.js';
import { keyWindowProblem, type TrustedKey } from '../signing/trust.js';
import {
  CLOCK_SKEW_MS,
  MAX_KEY_ADDS,
  MAX_KEY_RETIRES,
  formatTime,
  type Channel,
  type ChannelKeyAdd,
  type ChannelKeys,
} from './channel.js';

export interface KeyAnnouncementResult {
  /** The client's trust store after the announcements (retired keys kept, with `notAfter`, as tombstones). */
  readonly trusted: TrustedKey[];
  /** `<keyId> (<name>)` of every key added. */
  readonly added: string[];
  /** `<keyId> (<name>)` of every key whose retirement was applied. */
  readonly retired: string[];
  /** `<keyId>: <reason>` of every announcement not applied (never trusted), for the client to show. */
  readonly ignored: string[];
}

const fp = (k: TrustedKey): string => k.publicKey.fingerprint;

/** A key usable at `t` and after it (no end before or at `t`). */
function usableFrom(k: TrustedKey, t: Date): boolean {
  return (k.notBefore === null || k.notBefore <= t) && (k.notAfter === null || k.notAfter > t);
}

/** Apply a verified channel's key announcements to `trusted` (see the module comment for the rules). */
export function applyKeyAnnouncements(
  trusted: readonly TrustedKey[],
  channel: Channel,
  signedBy: TrustedKey,
  now: Date,
): KeyAnnouncementResult {
  const out: TrustedKey[] = trusted.map((k) => ({ ...k }));
  const added: string[] = [];
  const retired: string[] = [];
  const ignored: string[] = [];
  const block = channel.keys;
  if (!block) return { trusted: out, added, retired, ignored };
  const names = new Map(trusted.map((k) => [fp(k), k.name]));
  for (const a of block.add) names.set(a.keyId, names.get(a.keyId) ?? a.name);
  const label = (id: string) => `${id} (${names.get(id) ?? 'unknown key'})`;
  const ignoreAll = (why: string): KeyAnnouncementResult => ({
    trusted: out,
    added,
    retired,
    ignored: [...block.add, ...block.retire].map((e) => `${label(e.keyId)}: ${why}`),
  });

  // 1. Authority: the signer must be in the store already, and usable now (by the store's window, not the caller's).
  const signer = out.find((k) => fp(k) === signedBy.publicKey.fingerprint);
  if (!signer) {
    return ignoreAll(
      `channel sequence ${channel.sequence} is signed by ${signedBy.publicKey.fingerprint}, which this client did not already trust; a key announced only in a channel signed by itself (or by an unknown key) is never trusted`,
    );
  }
  const signerProblem = keyWindowProblem(signer, now);
  if (signerProblem) {
    return ignoreAll(
      `channel sequence ${channel.sequence} is signed by a key this client may not use now: ${signerProblem}`,
    );
  }
  // 2. Freshness.
  const t = now.getTime();
  if (!(t < Date.parse(channel.expiresAt))) {
    return ignoreAll(
      `channel sequence ${channel.sequence} expired at ${channel.expiresAt}: announcements of an expired (possibly replayed) document are not applied`,
    );
  }
  if (Date.parse(channel.issuedAt) - CLOCK_SKEW_MS > t) {
    return ignoreAll(`channel sequence ${channel.sequence} was issued at ${channel.issuedAt}, in the future`);
  }

  // 3. Additions: only keys this store has never held (a tombstone blocks re-adding a retired key).
  for (const a of block.add) {
    const got = addable(a, out, now);
    if (got === 'already-trusted') continue;
    if (typeof got === 'string') {
      ignored.push(`${label(a.keyId)}: ${got}`);
      continue;
    }
    const notBefore = new Date(a.notBefore);
    out.push({
      name: a.name,
      publicKey: got,
      notBefore,
      notAfter: a.notAfter === null ? null : new Date(a.notAfter),
      createdAt: notBefore,
    });
    added.push(label(a.keyId));
  }

  // 4. Retirements: every other key first, then the signer's own, which needs a successor.
  const signerId = fp(signer);
  const ordered = [...block.retire].sort(
    (x, y) => Number(x.keyId === signerId) - Number(y.keyId === signerId),
  );
  for (const r of ordered) {
    const i = out.findIndex((k) => fp(k) === r.keyId);
    const k = out[i];
    if (k === undefined) continue; // never trusted here: nothing to retire
    const effective = new Date(r.effective);
    if (k.notAfter !== null && k.notAfter <= effective) continue; // already retired (at least as early)
    if (r.keyId === signerId && !out.some((o) => fp(o) !== signerId && usableFrom(o, effective))) {
      ignored.push(
        `${label(r.keyId)}: this retirement of the key that signed the channel is not applied: it would leave this client no trusted key usable from ${r.effective}; announce the successor key in the same document`,
      );
      continue;
    }
    out[i] = { ...k, notAfter: effective };
    retired.push(label(r.keyId));
  }
  return { trusted: out, added, retired, ignored };
}

/**
 * The announced key to add, 'already-trusted' to skip it silently, or why it is not added. Keys already in the store
 * are recognised by keyId before any parsing: the steady state (a carried-forward block applied on every check)
 * parses nothing, and nothing about an already-held key is taken from the announcement.
 */
function addable(a: ChannelKeyAdd, store: readonly TrustedKey[], now: Date): PublicKeyMaterial | string {
  const existing = store.find((k) => fp(k) === a.keyId);
  if (existing) {
    return existing.notAfter !== null && existing.notAfter <= now
      ? `this key was retired on this machine at ${existing.notAfter.toISOString()}; a retired key is never trusted again`
      : 'already-trusted';
  }
  if (a.notAfter !== null && Date.parse(a.notAfter) <= now.getTime())
    return `its validity window ended at ${a.notAfter}`;
  let key: PublicKeyMaterial;
  try {
    key = loadPublicKey(a.publicKey, `channel key "${a.name}"`);
  } catch {
    return 'the announced public key is not a valid PEM public key';
  }
  if (key.fingerprint !== a.keyId)
    return `the announced public key's fingerprint is ${key.fingerprint}, not its keyId`;
  return key;
}

// ------------------------------------------------------------------ publisher side (pure)

export interface KeyBlockPlanInput {
  /** The block of the channel the rotation builds on (undefined when it has none). */
  readonly prev: ChannelKeys | undefined;
  /** The key that signs now and is being rotated out. */
  readonly oldKey: PublicKeyMaterial;
  readonly newKey: { readonly publicKey: PublicKeyMaterial; readonly name: string };
  /** When the old key stops being trusted: now for `--compromised`, the end of the overlap otherwise. */
  readonly retireAt: Date;
  readonly now: Date;
  /** Fingerprints the platform itself trusts (config trust store, old and new key). */
  readonly known: ReadonlySet<string>;
  /** `--compromised`: also retire announced keys the platform does not know (an attacker's, announced with the stolen key). */
  readonly retireUnknown: boolean;
}

export interface KeyBlockPlan {
  readonly keys: ChannelKeys;
  /** Announced keys found in the channel that the platform does not know (retired when `retireUnknown`). */
  readonly unknownAnnounced: readonly string[];
  /** Retirements dropped to stay within MAX_KEY_RETIRES (the oldest). */
  readonly dropped: readonly string[];
}

/**
 * The `keys` block a rotation publishes: what the channel already announces (carried forward), plus the new key from
 * now, plus the old key's retirement. Re-running with the same input gives the same block (so a re-run converges).
 */
export function planKeyBlock(i: KeyBlockPlanInput): KeyBlockPlan {
  const prev = i.prev ?? { add: [], retire: [] };
  const newId = i.newKey.publicKey.fingerprint;
  const oldId = i.oldKey.fingerprint;
  const unknownAnnounced = prev.add.map((a) => a.keyId).filter((id) => id !== newId && !i.known.has(id));
  const retireIds = new Map<string, string>(prev.retire.map((r) => [r.keyId, r.effective]));
  const at = (d: Date) => formatTime(d.getTime());
  const retireOne = (id: string, when: string) => {
    const had = retireIds.get(id);
    if (had === undefined || Date.parse(when) < Date.parse(had)) retireIds.set(id, when);
  };
  retireOne(oldId, at(i.retireAt));
  if (i.retireUnknown) for (const id of unknownAnnounced) retireOne(id, at(i.now));
  retireIds.delete(newId); // a key being announced now is not retired by this document
  const existingNew = prev.add.find((a) => a.keyId === newId);
  const add: ChannelKeyAdd[] = [
    ...prev.add.filter(
      (a) =>
        a.keyId !== newId &&
        !retireIds.has(a.keyId) &&
        (a.notAfter === null || Date.parse(a.notAfter) > i.now.getTime()),
    ),
    existingNew ?? {
      keyId: newId,
      name: i.newKey.name,
      publicKey: i.newKey.publicKey.pem,
      notBefore: at(i.now),
      notAfter: null,
    },
  ].slice(-MAX_KEY_ADDS);
  const retire = [...retireIds].map(([keyId, effective]) => ({ keyId, effective }));
  // Keep the old key's retirement, then the newest others, within the bound.
  retire.sort((a, b) => Date.parse(b.effective) - Date.parse(a.effective) || (a.keyId < b.keyId ? -1 : 1));
  const old = retire.find((r) => r.keyId === oldId);
  const kept = [...(old ? [old] : []), ...retire.filter((r) => r !== old)].slice(0, MAX_KEY_RETIRES);
  const dropped = retire.filter((r) => !kept.includes(r)).map((r) => r.keyId);
  return { keys: { add, retire: kept }, unknownAnnounced, dropped };
}

/** Two key blocks with the same content (order-insensitive). */
export function sameKeyBlock(a: ChannelKeys | undefined, b: ChannelKeys | undefined): boolean {
  const norm = (k: ChannelKeys | undefined) =>
    k === undefined
      ? ''
      : JSON.stringify([
          [...k.add].sort((x, y) => (x.keyId < y.keyId ? -1 : 1)),
          [...k.retire].sort((x, y) => (x.keyId < y.keyId ? -1 : 1)),
        ]);
  return norm(a) === norm(b);
}
