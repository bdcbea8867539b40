/**
 * The channel publisher (issue 7 §1): what `promote` and `channel repair` build on, verified like anyone else's
 * input. The registry's `current` is trusted only when it is signed by a trusted key, reads back at the signed
 * digest, and is not older than the last sequence this publisher knows of — from the registry history
 * (`channel:seq-<N>`, signed, never moved) and from this machine's own state (`ChannelStateStore`). Anything else is
 * refused with what was found, and recovery is the explicit `repairChannel`. Receives its ports; constructs none.
 */
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import { formatReference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import type { SigningKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import { signImage, verifyImage } from '../signing/workflows.js';
import {
  CHANNEL_TAG,
  assertFloorsKept,
  buildChannel,
  checkChannel,
  formatTime,
  type Channel,
  type ChannelEntry,
} from './channel.js';
import {
  channelRepository,
  historyTag,
  listHistory,
  publishChannel,
  readChannel,
  type PublishedChannel,
  type ReadChannel,
} from './store.js';
import {
  channelStateKey,
  higherMark,
  markPublished,
  markSeen,
  type ChannelMark,
  type ChannelStateStore,
} from './state.js';

/** History entries tried (highest first) before giving up on finding a verified one. */
export const MAX_HISTORY_PROBES = 16;

export interface ChannelPublisherDeps {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  /** The pipeline trust set (configured trusted keys plus the signing key). */
  readonly trust: readonly TrustedKey[];
  readonly state: ChannelStateStore;
  readonly key: SigningKey;
  readonly signer: string;
  readonly now: () => Date;
}

/** A channel document whose signature verified with the trust set and that read back at the signed digest. */
export interface VerifiedChannel {
  readonly read: ReadChannel;
  readonly signer: string;
}

/** What `current` holds, judged. */
export type CurrentChannel =
  | { readonly kind: 'absent' }
  | { readonly kind: 'verified'; readonly digest: string; readonly doc: VerifiedChannel }
  | { readonly kind: 'untrusted'; readonly digest: string; readonly reason: string };

/** The last publication this publisher knows of, and where that knowledge comes from. */
export interface LastPublished {
  readonly sequence: number;
  readonly digest: string;
  /** `history` = the verified `seq-<N>` tag; `local` = this machine's channel-state.json. */
  readonly source: 'history' | 'local';
  /** The verified document, when it could be read (always for `history`). */
  readonly doc?: VerifiedChannel;
}

/** Verify the signature on a channel manifest digest, then read exactly that manifest. Never throws for bad input. */
export async function verifyChannelAt(
  d: Pick<ChannelPublisherDeps, 'store' | 'host' | 'project' | 'trust' | 'now'>,
  digest: string,
): Promise<{ ok: true; doc: VerifiedChannel } | { ok: false; reason: string }> {
  const repo = channelRepository(d.host, d.project);
  try {
    const ver = await verifyImage({
      client: d.store,
      ref: { ...repo, digest },
      trustedKeys: d.trust,
      now: d.now(),
    });
    if (!ver.ok) {
      const why = ver.rejected.map((r) => r.reason).join('; ');
      return {
        ok: false,
        reason: `no valid signature from a trusted key${why ? ` (${why})` : ' (unsigned)'}`,
      };
    }
    const read = await readChannel(d.store, repo, { digest });
    return { ok: true, doc: { read, signer: ver.verified[0]?.signer ?? '?' } };
  } catch (e: unknown) {
    if (
      isAiboxError(e, 'REGISTRY_UNREACHABLE') ||
      isAiboxError(e, 'TIMEOUT') ||
      isAiboxError(e, 'REGISTRY_AUTH')
    )
      throw e;
    return { ok: false, reason: describeError(e) };
  }
}

/** Judge the registry's `current`. */
export async function inspectCurrent(
  d: Pick<ChannelPublisherDeps, 'store' | 'host' | 'project' | 'trust' | 'now'>,
): Promise<CurrentChannel> {
  const repo = channelRepository(d.host, d.project);
  const head = await d.store.headManifest({ ...repo, tag: CHANNEL_TAG });
  if (!head) return { kind: 'absent' };
  const v = await verifyChannelAt(d, head.digest);
  return v.ok
    ? { kind: 'verified', digest: head.digest, doc: v.doc }
    : { kind: 'untrusted', digest: head.digest, reason: v.reason };
}

/** The highest history entry `seq-<N>` that verifies and really is sequence N; unverifiable ones are reported. */
export async function latestHistory(
  d: Pick<ChannelPublisherDeps, 'store' | 'host' | 'project' | 'trust' | 'now'>,
): Promise<{ entry: (VerifiedChannel & { digest: string }) | undefined; skipped: string[] }> {
  const repo = channelRepository(d.host, d.project);
  const skipped: string[] = [];
  for (const n of (await listHistory(d.store, repo)).slice(0, MAX_HISTORY_PROBES)) {
    const got = await historyEntry(d, n);
    if (got.ok) return { entry: { ...got.doc, digest: got.doc.read.digest }, skipped };
    skipped.push(`${historyTag(n)}: ${got.reason}`);
  }
  return { entry: undefined, skipped };
}

/** History entry N, verified: signed by a trusted key and its document says sequence N. */
export async function historyEntry(
  d: Pick<ChannelPublisherDeps, 'store' | 'host' | 'project' | 'trust' | 'now'>,
  n: number,
): Promise<{ ok: true; doc: VerifiedChannel } | { ok: false; reason: string }> {
  const repo = channelRepository(d.host, d.project);
  const head = await d.store.headManifest({ ...repo, tag: historyTag(n) });
  if (!head)
    return { ok: false, reason: `no history entry ${formatReference({ ...repo, tag: historyTag(n) })}` };
  const v = await verifyChannelAt(d, head.digest);
  if (!v.ok) return v;
  if (v.doc.read.channel.sequence !== n)
    return { ok: false, reason: `its document is sequence ${v.doc.read.channel.sequence}, not ${n}` };
  return v;
}

/** The last publication known: the higher of the verified history and this machine's state. */
export async function lastPublished(
  d: ChannelPublisherDeps,
): Promise<{ last: LastPublished | undefined; skipped: string[] }> {
  const local = await d.state.get(channelStateKey(d.host, d.project));
  const mark = higherMark(local.published, local.seen);
  const { entry, skipped } = await latestHistory(d);
  if (entry && (!mark || entry.read.channel.sequence >= mark.sequence)) {
    return {
      last: { sequence: entry.read.channel.sequence, digest: entry.digest, source: 'history', doc: entry },
      skipped,
    };
  }
  if (!mark) return { last: undefined, skipped };
  // The registry history is behind (or gone): this machine remembers more. Read the document if it is still there.
  const v = await verifyChannelAt(d, mark.digest);
  return {
    last: { sequence: mark.sequence, digest: mark.digest, source: 'local', ...(v.ok ? { doc: v.doc } : {}) },
    skipped,
  };
}

function describeLast(l: LastPublished): string {
  return `sequence ${l.sequence} (${l.digest}, ${l.source === 'history' ? `registry history ${historyTag(l.sequence)}` : "this machine's channel state"})`;
}

function rejected(message: string, hint: string, details: Record<string, unknown>): AiboxError {
  return new AiboxError({ code: 'CHANNEL_REJECTED', message, hint, details });
}

function repairHint(d: ChannelPublisherDeps, last: LastPublished | undefined): string {
  const n = last?.sequence;
  return n !== undefined
    ? `nothing was moved. Check who wrote ${d.host}/${d.project}/channel, then restore it explicitly: aiboxctl channel repair --from-sequence ${n} (shows what it will do; add --yes to publish)`
    : `nothing was moved. Check who wrote ${d.host}/${d.project}/channel, then restore it explicitly from a signed history entry: aiboxctl channel repair --from-sequence N`;
}

/** What the next publication builds on. */
export interface ChannelBase {
  /** The verified channel to build on (null for the very first publication). */
  readonly prev: ReadChannel | null;
  /** The digest `current` points at now (null when absent): the publication moves it only from here. */
  readonly currentDigest: string | null;
  readonly last: LastPublished | undefined;
}

/**
 * Verify what `current` holds before building on it. Refuses (CHANNEL_REJECTED, nothing moved) when it is missing
 * although a channel was published, unsigned or signed by an unknown key, unreadable, older than the last
 * publication known, a second document for the same sequence, or expired without the history confirming it.
 */
export async function resolveChannelBase(d: ChannelPublisherDeps): Promise<ChannelBase> {
  const repo = channelRepository(d.host, d.project);
  const where = formatReference({ ...repo, tag: CHANNEL_TAG });
  const { last } = await lastPublished(d);
  const cur = await inspectCurrent(d);
  if (cur.kind === 'absent') {
    if (last) {
      throw rejected(
        `refusing to publish: ${where} is missing, but ${describeLast(last)} was published`,
        `${repairHint(d, last)}. If the registry was reset on purpose, remove the "${channelStateKey(d.host, d.project)}" entry from this machine's $XDG_DATA_HOME/aibox/channel-state.json first`,
        { found: null, last: { sequence: last.sequence, digest: last.digest, source: last.source } },
      );
    }
    return { prev: null, currentDigest: null, last };
  }
  if (cur.kind === 'untrusted') {
    throw rejected(`refusing to build on ${where} (${cur.digest}): ${cur.reason}`, repairHint(d, last), {
      found: cur.digest,
      reason: cur.reason,
      ...(last ? { last: { sequence: last.sequence, digest: last.digest } } : {}),
    });
  }
  const c = cur.doc.read.channel;
  if (last && c.sequence < last.sequence) {
    throw rejected(
      `refusing to build on ${where}: it is sequence ${c.sequence} (${cur.digest}), older than ${describeLast(last)} — a rollback of the channel`,
      repairHint(d, last),
      {
        found: { sequence: c.sequence, digest: cur.digest },
        last: { sequence: last.sequence, digest: last.digest },
      },
    );
  }
  if (last && c.sequence === last.sequence && cur.digest !== last.digest) {
    throw rejected(
      `refusing to build on ${where}: it is sequence ${c.sequence} (${cur.digest}), but ${describeLast(last)} is a different document for the same sequence`,
      repairHint(d, last),
      {
        found: { sequence: c.sequence, digest: cur.digest },
        last: { sequence: last.sequence, digest: last.digest },
      },
    );
  }
  const check = checkChannel(c, { now: d.now() });
  const confirmed = last !== undefined && c.sequence === last.sequence;
  if (!check.ok) {
    const blocking = check.problems.filter((p) => p.code !== 'expired' || !confirmed);
    if (blocking.length > 0) {
      throw rejected(
        `refusing to build on ${where} (sequence ${c.sequence}, ${cur.digest}): ${blocking.map((p) => p.message).join('; ')}${
          blocking.some((p) => p.code === 'expired')
            ? ', and no history entry confirms it is the last one published'
            : ''
        }`,
        repairHint(d, last ?? { sequence: c.sequence, digest: cur.digest, source: 'history' }),
        { found: { sequence: c.sequence, digest: cur.digest }, problems: blocking.map((p) => p.code) },
      );
    }
  }
  await d.state.update(channelStateKey(d.host, d.project), (s) =>
    markSeen(s, { sequence: c.sequence, digest: cur.digest, at: formatTime(d.now().getTime()) }),
  );
  return { prev: cur.doc.read, currentDigest: cur.digest, last };
}

/** The signing callback of the channel: the same cosign `.sig` as an image. */
function signWith(d: ChannelPublisherDeps) {
  return async (ref: Parameters<typeof signImage>[0]['ref']) => {
    await signImage({ client: d.store, ref, key: d.key, signer: d.signer, now: d.now() });
  };
}

/**
 * Refuse to publish a channel signed only by a key the channel itself retires (docs/keys.md): every client that
 * applied the retirement would reject it. Happens when `signing.key` was not switched after `keys rotate --compromised`.
 */
function assertSignerNotRetired(d: ChannelPublisherDeps, next: Channel): void {
  const fp = d.key.publicKey.fingerprint;
  const r = next.keys?.retire.find((x) => x.keyId === fp);
  if (!r || Date.parse(r.effective) > d.now().getTime()) return;
  throw new AiboxError({
    code: 'POLICY_REFUSED',
    message: `refusing to publish channel sequence ${next.sequence}: it would be signed by ${fp}, which the channel retired at ${r.effective}; developer machines would reject it`,
    hint: 'switch signing.key (or --key) to the new key announced by `aiboxctl keys rotate` (docs/keys.md)',
    details: { key: fp, retiredAt: r.effective },
  });
}

/** Publish `next` on `base`: floors kept, `current` moved only from `base.currentDigest`, history and local state updated. */
export async function publishOnBase(
  d: ChannelPublisherDeps,
  base: ChannelBase,
  next: Channel,
  opts: {
    /** The channel whose floors `next` must keep (default: the base). */
    readonly floorsOf?: Channel | null;
    /** Runs once the manifest is signed, before `current` moves (promotion moves its `latest` tags here). */
    readonly afterSign?: (ref: Parameters<typeof signImage>[0]['ref']) => Promise<void>;
    /** `afterSign` adds a signature by a key clients still trust (key rotation): the signing key may be retired. */
    readonly cosigned?: boolean;
  } = {},
): Promise<PublishedChannel> {
  const floorsOf = opts.floorsOf === undefined ? (base.prev?.channel ?? null) : opts.floorsOf;
  if (floorsOf) assertFloorsKept(floorsOf, next, `sequence ${floorsOf.sequence}`);
  if (!opts.cosigned) assertSignerNotRetired(d, next);
  const sign = signWith(d);
  const published = await publishChannel(d.store, channelRepository(d.host, d.project), next, {
    sign: async (ref) => {
      await sign(ref);
      await opts.afterSign?.(ref);
    },
    expectCurrent: base.currentDigest,
  });
  const mark: ChannelMark = {
    sequence: next.sequence,
    digest: published.digest,
    at: formatTime(d.now().getTime()),
  };
  await d.state.update(channelStateKey(d.host, d.project), (s) => markPublished(s, mark));
  return published;
}

// ------------------------------------------------------------------ repair

export interface RepairPlan {
  /** The verified document whose content is re-published. */
  readonly from: {
    readonly sequence: number;
    readonly digest: string;
    readonly source: 'history' | 'current';
  };
  /** What `current` holds now and why it is (or is not) trusted. */
  readonly current:
    | { readonly state: 'absent' }
    | { readonly state: 'verified'; readonly sequence: number; readonly digest: string }
    | { readonly state: 'untrusted'; readonly digest: string; readonly reason: string };
  /** The last publication known before the repair (history or local state). */
  readonly last: { readonly sequence: number; readonly digest: string; readonly source: string } | null;
  /** The document that will be (or was) published: N's content, floors kept, a new higher sequence. */
  readonly next: Channel;
  /** History entries that did not verify (shown, never trusted). */
  readonly skipped: readonly string[];
}

export interface RepairResult {
  readonly plan: RepairPlan;
  /** Set when published (not for a dry run). */
  readonly published?: { readonly sequence: number; readonly digest: string };
}

/** Turn a channel's variants back into promotion entries, floors included. */
function entriesOf(c: Channel): ChannelEntry[] {
  return Object.entries(c.variants).map(([variant, v]) => ({
    variant,
    tag: v.tag,
    digest: v.digest,
    created: v.created,
    ...(v.minImageCreated !== null && v.minImageDate !== null
      ? {
          mandatoryUpdate: v.mandatoryUpdate,
          minImageDate: v.minImageDate,
          minImageCreated: v.minImageCreated,
        }
      : {}),
    ...(v.cve ? { cve: v.cve } : {}),
  }));
}

/**
 * `aiboxctl channel repair --from-sequence N`: verify history entry N (or a verified `current` that is N), and
 * re-publish its content as a new sequence above everything known (history, local state, a verified `current`),
 * signed, with no floor lower than in the newest verified document. An unsigned `current` — whatever sequence or
 * issuedAt it claims — is replaced, never built on. `apply: false` only plans.
 */
export async function repairChannel(
  d: ChannelPublisherDeps,
  req: { readonly fromSequence: number; readonly apply: boolean },
): Promise<RepairResult> {
  const n = req.fromSequence;
  const repo = channelRepository(d.host, d.project);
  const [cur, known, hist] = await Promise.all([inspectCurrent(d), lastPublished(d), historyEntry(d, n)]);
  let from: VerifiedChannel;
  let source: 'history' | 'current';
  if (hist.ok) {
    from = hist.doc;
    source = 'history';
  } else if (cur.kind === 'verified' && cur.doc.read.channel.sequence === n) {
    from = cur.doc;
    source = 'current';
  } else {
    throw new AiboxError({
      code: 'CHANNEL_REJECTED',
      message: `cannot repair ${formatReference(repo)} from sequence ${n}: ${hist.reason}`,
      hint: `repair only re-publishes a verified, signed document; list the history with 'aiboxctl tags ${d.project}/channel' (seq-<N> tags) and pick one that verifies`,
      details: { fromSequence: n, reason: hist.reason },
    });
  }
  // The newest verified document: its floors must survive the repair.
  const candidates: VerifiedChannel[] = [from];
  if (known.last?.doc) candidates.push(known.last.doc);
  if (cur.kind === 'verified') candidates.push(cur.doc);
  const newest = candidates.reduce((a, b) => (b.read.channel.sequence > a.read.channel.sequence ? b : a));
  const top = Math.max(
    n,
    known.last?.sequence ?? 0,
    cur.kind === 'verified' ? cur.doc.read.channel.sequence : 0,
  );
  const next = buildChannel(newest.read.channel, entriesOf(from.read.channel), d.now(), {
    sequence: top + 1,
  });
  const plan: RepairPlan = {
    from: { sequence: n, digest: from.read.digest, source },
    current:
      cur.kind === 'absent'
        ? { state: 'absent' }
        : cur.kind === 'verified'
          ? { state: 'verified', sequence: cur.doc.read.channel.sequence, digest: cur.digest }
          : { state: 'untrusted', digest: cur.digest, reason: cur.reason },
    last: known.last
      ? { sequence: known.last.sequence, digest: known.last.digest, source: known.last.source }
      : null,
    next,
    skipped: known.skipped,
  };
  assertFloorsKept(newest.read.channel, next, `sequence ${newest.read.channel.sequence}`);
  if (!req.apply) return { plan };
  const published = await publishOnBase(
    d,
    { prev: newest.read, currentDigest: cur.kind === 'absent' ? null : cur.digest, last: known.last },
    next,
    { floorsOf: newest.read.channel },
  );
  return { plan, published: { sequence: next.sequence, digest: published.digest } };
}
