/**
 * `aiboxctl keys rotate --new-key KEY [--compromised]` as one call (issue 10 item 4, runbook §5): announce the new
 * signing key to every client in a new channel sequence, signed by the current key (which clients already trust)
 * and co-signed by the new one; with `--compromised`, first re-sign every image the channel names with the new key,
 * then retire the old key in that same sequence, so the next `aibox check` refuses images signed only by the old
 * key. Takes the pipeline lock. Order makes every crash safe: images are re-signed before the channel that retires
 * the old key exists, and `current` moves only once the new document carries both signatures; a re-run converges
 * (re-signing is idempotent, an already published announcement is not published again). Threat model: docs/keys.md.
 */
import { planKeyBlock, sameKeyBlock } from '../channel/keys.js';
import { buildChannel, formatTime, type Channel, type ChannelKeys } from '../channel/channel.js';
import { publishOnBase, resolveChannelBase, type ChannelPublisherDeps } from '../channel/publisher.js';
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import { formatReference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import type { SigningKey } from '../signing/keys.js';
import { SIGNER_KEY, TIMESTAMP_KEY } from '../signing/payload.js';
import { trustedSelf, type TrustedKey } from '../signing/trust.js';
import { signImage, verifyImage } from '../signing/workflows.js';
import { repositoryFor } from '../tags/tags.js';
import { newRunId } from './records.js';
import { openPublisher, type RunDeps } from './run.js';

export const DEFAULT_OVERLAP_DAYS = 30;
const DAY_MS = 86_400_000;

export interface KeyRotationRequest {
  /** The new signing key (its private half: it co-signs the channel and, when compromised, re-signs images). */
  readonly newKey: () => Promise<SigningKey>;
  /** Name clients give the new key in their trust store. */
  readonly newKeyName: string;
  /** Retire the old key now (instead of after the overlap) and re-sign every image the channel names. */
  readonly compromised: boolean;
  /** Days both keys stay trusted in a planned rotation. */
  readonly overlapDays: number;
  /** false: only show what would be done. */
  readonly apply: boolean;
}

/** One image the channel names, and what the rotation does with it. */
export interface ResignReport {
  readonly variant: string;
  readonly image: string;
  /** pending (dry run), signed (appended now), already-signed (by the new key), unverified (skipped: no valid signature by a trusted key). */
  readonly status: 'pending' | 'signed' | 'already-signed' | 'unverified';
  readonly reason?: string;
}

export interface KeyRotationRun {
  readonly channel: string;
  readonly mode: 'planned' | 'compromised';
  readonly oldKey: string;
  readonly newKey: { readonly fingerprint: string; readonly name: string };
  readonly base: { readonly sequence: number; readonly digest: string };
  /** The key block the new sequence carries (or already carries). */
  readonly keys: ChannelKeys;
  /** The document that will be (or was) published; null when the announcement is already current. */
  readonly next: Channel | null;
  readonly resign: readonly ResignReport[];
  /** Keys announced in the channel that the platform does not know (retired by `--compromised`). */
  readonly unknownAnnounced: readonly string[];
  readonly published: { readonly sequence: number; readonly digest: string } | null;
  /** Set when `current` already announced exactly this rotation: nothing new was published. */
  readonly alreadyCurrent: boolean;
}

type Deps = Pick<
  RunDeps,
  'config' | 'target' | 'key' | 'trustedKeys' | 'dataDir' | 'now' | 'channelState' | 'logger'
>;

/** Announce (and with `compromised`, enforce) a signing-key rotation through the verified channel publisher. */
export async function runKeyRotation(deps: Deps, req: KeyRotationRequest): Promise<KeyRotationRun> {
  if (!(Number.isInteger(req.overlapDays) && req.overlapDays >= 1 && req.overlapDays <= 366)) {
    throw new AiboxError({
      code: 'USAGE',
      message: `--overlap-days must be a whole number of days from 1 to 366, got ${req.overlapDays}`,
      hint: 'the runbook overlap is 30 days (both keys trusted); use --compromised to retire the old key at once',
    });
  }
  const newKey = await req.newKey();
  const { key, trust, target, lock } = await openPublisher(deps, newRunId(deps.now()));
  try {
    if (newKey.publicKey.fingerprint === key.publicKey.fingerprint) {
      throw new AiboxError({
        code: 'USAGE',
        message: `the new key is the current signing key (${key.publicKey.fingerprint})`,
        hint: 'pass the new private key with --new-key (from `aiboxctl keys rotate`), and the current one as --key or signing.key',
      });
    }
    const pub: ChannelPublisherDeps = {
      store: target.store,
      host: target.host,
      project: target.project,
      // The new key is trusted by the publisher too: a re-run after a crash builds on a document it co-signed.
      trust: [...trust, trustedSelf(newKey.publicKey, req.newKeyName)],
      state: deps.channelState,
      key,
      signer: deps.config.signing.identity,
      now: deps.now,
    };
    const base = await resolveChannelBase(pub);
    if (!base.prev || !base.currentDigest) {
      throw new AiboxError({
        code: 'NOT_FOUND',
        message: `no release channel at ${target.host}/${target.project}/channel to announce the new key in`,
        hint: 'publish the channel first (aiboxctl promote); developers learn keys only from a channel signed by a key they trust',
      });
    }
    const prev = base.prev.channel;
    const now = deps.now();
    const plan = planKeyBlock({
      prev: prev.keys,
      oldKey: key.publicKey,
      newKey: { publicKey: newKey.publicKey, name: req.newKeyName },
      retireAt: req.compromised ? now : new Date(now.getTime() + req.overlapDays * DAY_MS),
      now,
      known: new Set(pub.trust.map((t) => t.publicKey.fingerprint)),
      retireUnknown: req.compromised,
    });
    for (const id of plan.unknownAnnounced) {
      deps.logger.warn(
        `the channel announces key ${id}, which this platform does not trust${req.compromised ? '; retiring it' : ' (check who published it; --compromised retires it)'}`,
      );
    }
    for (const id of plan.dropped) {
      deps.logger.warn(
        `the channel's keys block is full: the oldest retirement (${id}) is no longer carried forward`,
      );
    }
    const resign = req.compromised ? await resignAll(pub, trust, newKey, prev, req.apply) : [];
    const alreadyCurrent = sameKeyBlock(prev.keys, plan.keys);
    const run = {
      channel: `${target.host}/${target.project}/channel`,
      mode: req.compromised ? ('compromised' as const) : ('planned' as const),
      oldKey: key.publicKey.fingerprint,
      newKey: { fingerprint: newKey.publicKey.fingerprint, name: req.newKeyName },
      base: { sequence: prev.sequence, digest: base.currentDigest },
      keys: plan.keys,
      resign,
      unknownAnnounced: plan.unknownAnnounced,
      alreadyCurrent,
    };
    if (alreadyCurrent) return { ...run, next: null, published: null };
    const next = buildChannel(prev, [], now, { keys: plan.keys });
    if (!req.apply) return { ...run, next, published: null };
    const published = await publishOnBase(pub, base, next, {
      cosigned: true,
      // The second signature, by the new key, lands before `current` moves (publishChannel's contract).
      afterSign: async (ref) => {
        await signImage({ client: target.store, ref, key: newKey, signer: pub.signer, now: deps.now() });
      },
    });
    return { ...run, next, published: { sequence: next.sequence, digest: published.digest } };
  } finally {
    await lock.release();
  }
}

/** String annotations of a verified payload, without the per-signature signer and timestamp. */
function carriedAnnotations(optional: Readonly<Record<string, unknown>> | null | undefined) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(optional ?? {}))
    if (typeof v === 'string' && k !== SIGNER_KEY && k !== TIMESTAMP_KEY) out[k] = v;
  return out;
}

/**
 * Re-sign every image the channel names with the new key, carrying the annotations (e.g. the scan result) of the
 * signature that verified. Only images that verify with the pipeline trust are re-signed; the others are reported.
 */
async function resignAll(
  pub: ChannelPublisherDeps,
  trust: readonly TrustedKey[],
  newKey: SigningKey,
  channel: Channel,
  apply: boolean,
): Promise<ResignReport[]> {
  const store: ImageStore = pub.store;
  const out: ResignReport[] = [];
  for (const variant of Object.keys(channel.variants).sort()) {
    const v = channel.variants[variant];
    if (!v) continue;
    const ref = { registry: pub.host, repository: repositoryFor(pub.project, variant), digest: v.digest };
    const image = formatReference(ref);
    const now = pub.now();
    const mine = await verifyImage({ client: store, ref, trustedKeys: [trustedSelf(newKey.publicKey)], now });
    if (mine.ok) {
      out.push({ variant, image, status: 'already-signed' });
      continue;
    }
    const ver = await verifyImage({ client: store, ref, trustedKeys: trust, now });
    const good = ver.verified[0];
    if (!ver.ok || !good) {
      const why = ver.rejected.map((r) => r.reason).join('; ') || 'no signatures';
      out.push({ variant, image, status: 'unverified', reason: `not re-signed: ${why}` });
      continue;
    }
    if (!apply) {
      out.push({ variant, image, status: 'pending' });
      continue;
    }
    try {
      await signImage({
        client: store,
        ref,
        key: newKey,
        signer: pub.signer,
        annotations: carriedAnnotations(good.payload?.optional),
        now,
      });
    } catch (e: unknown) {
      // Nothing retires the old key until every image verifiable now carries the new key's signature.
      throw new AiboxError({
        code: isAiboxError(e) ? e.code : 'INTERNAL',
        message: `re-signing ${image} with the new key failed at ${formatTime(now.getTime())}: ${describeError(e)}; the channel was not changed`,
        hint: 're-run the same `aiboxctl keys rotate --compromised` command: images already re-signed are skipped',
        cause: e,
      });
    }
    out.push({ variant, image, status: 'signed' });
  }
  return out;
}
