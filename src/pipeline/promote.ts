/**
 * Promotion: check every candidate (present, signed by a trusted key, scanned, built FROM the parent being
 * promoted), then move `latest` of every variant and publish the signed release channel so that the set
 * converges even when the process dies between two registry calls (docs/pipeline.md "Promotion"):
 *
 *   1. the next channel is pushed by digest and signed (nothing visible has changed);
 *   2. the intent is recorded: `<project>/channel:pending` → that signed channel;
 *   3. each `latest` moves to the channel's digest (a manifest PUT of the exact bytes);
 *   4. `<project>/channel:current` moves to the same channel.
 *
 * Invariant: whenever a `latest` differs from what `current` names, `pending` holds a signed channel, newer than
 * `current`, that names it. Every promotion first completes such an open intent (roll forward: it re-publishes
 * the same signed document, which moves the remaining tags), so a re-run after a crash at any point ends with the
 * channel matching `latest` everywhere. An intent that does not verify (not signed by a trusted key, not newer
 * than `current`) is ignored and replaced; nothing moves on its behalf.
 */
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { ImageStore } from '../oci/store.js';
import type { Reference } from '../oci/reference.js';
import {
  buildChannel,
  CHANNEL_TAG,
  type Channel,
  type ChannelEntry,
  type ChannelScan,
  serializeChannel,
} from '../channel/channel.js';
import {
  publishOnBase,
  resolveChannelBase,
  type ChannelBase,
  type ChannelPublisherDeps,
} from '../channel/publisher.js';
import type { ChannelStateStore } from '../channel/state.js';
import { channelRepository, readChannel, readChannelIfPresent } from '../channel/store.js';
import { verifyImage } from '../signing/workflows.js';
import type { SigningKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import { describeImage } from '../inspect/describe.js';
import { repositoryFor } from '../tags/tags.js';
import { LABELS } from './inputs.js';
import { channelFloor, floorFromLabels, higherFloor, imageCreated, type Floor } from '../cve/floor.js';
import type { RunPlan } from './plan.js';

/** Tag in the channel repository recording the promotion in progress (the signed next channel). */
export const PENDING_TAG = 'pending';

export interface PromotionCandidate {
  readonly variant: string;
  readonly repository: string;
  readonly tag: string;
  /** The variant this one is built FROM (config `from`); undefined for a root variant. */
  readonly parent?: string | undefined;
}

export interface CheckedCandidate extends PromotionCandidate {
  readonly digest: string;
  readonly created: string;
  readonly mandatoryUpdate: boolean;
  readonly minImageDate: string;
  /** The precise floor the image carries (labels or manifest annotations), when it has one. */
  readonly floor?: Floor | undefined;
  /** `org.opencontainers.image.base.digest` of the image, or null when it has none. */
  readonly baseDigest: string | null;
  /** `passed` when a verified signature records a passed scan; `unscanned` only when the run allows it. */
  readonly scan: ChannelScan;
}

export interface PromotionDeps {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  readonly key: SigningKey;
  readonly signer: string;
  readonly trust: readonly TrustedKey[];
  readonly now: () => Date;
  readonly logger?: Logger;
  /** Promote images whose signed payload records no passed scan (then recorded in the channel entry). */
  readonly allowUnscanned?: boolean;
  /** This machine's record of the last channel published and seen (src/channel/state.ts). */
  readonly channelState: ChannelStateStore;
}

/** The candidates of a plan: one per variant, with the variant it is built FROM (for the lineage rule). */
export function promotionCandidates(plan: RunPlan): PromotionCandidate[] {
  return plan.variants.map((p) => ({
    variant: p.name,
    repository: p.repository,
    tag: p.tag,
    ...(p.base.kind === 'variant' ? { parent: p.base.variant } : {}),
  }));
}

function refusal(message: string, hint: string, cause?: unknown): AiboxError {
  return new AiboxError({ code: 'POLICY_REFUSED', message, hint, ...(cause ? { cause } : {}) });
}

/** Check one published date tag: present, signed by a trusted key, scan passed (or allowed unscanned). */
export async function checkCandidate(d: PromotionDeps, c: PromotionCandidate): Promise<CheckedCandidate> {
  const ref = { registry: d.host, repository: c.repository, tag: c.tag };
  const where = `${c.variant}: ${d.host}/${c.repository}:${c.tag}`;
  const desc = await describeImage(d.store, ref).catch((e: unknown) => {
    // A missing image is a refusal (exit 3); an outage stays an outage (exit 1).
    if (!isAiboxError(e, 'NOT_FOUND')) throw e;
    throw refusal(
      `${where} is not publishable: ${describeError(e)}`,
      `Run 'aiboxctl rebuild --variant ${c.variant}' for this date first`,
      e,
    );
  });
  const v = await verifyImage({
    client: d.store,
    ref: { ...ref, digest: desc.digest },
    trustedKeys: d.trust,
    now: d.now(),
  });
  if (!v.ok) {
    throw refusal(
      `${where} has no valid signature from a trusted key`,
      `Sign it with 'aiboxctl sign' or re-run 'aiboxctl rebuild --variant ${c.variant}'`,
    );
  }
  // Only what a trusted key signed counts: the image's own label is not evidence of a scan.
  const recorded = v.verified
    .map((x) => x.payload?.optional?.[LABELS.scan])
    .filter((x): x is string => typeof x === 'string');
  const passed = recorded.includes('passed');
  if (!passed && d.allowUnscanned !== true) {
    throw refusal(
      `${where} has no passed scan recorded in its signature (${LABELS.scan}: ${recorded.length ? recorded.join(', ') : 'absent'})`,
      `Re-run 'aiboxctl rebuild --variant ${c.variant}' with a scanner configured, or pass --allow-unscanned to promote it as unscanned (recorded in the channel)`,
    );
  }
  const floor = higherFloor(floorFromLabels(desc.labels), floorFromLabels(desc.annotations));
  return {
    ...c,
    digest: desc.digest,
    // The one created of the image (config created = label; floors compare against it).
    created: imageCreated(desc) ?? d.now().toISOString(),
    ...(floor ? { floor } : {}),
    mandatoryUpdate: desc.labels[LABELS.mandatoryUpdate] === 'true',
    minImageDate: desc.labels[LABELS.minImageDate] ?? '',
    baseDigest: desc.labels[LABELS.baseDigest] || null,
    scan: passed ? 'passed' : 'unscanned',
  };
}

/**
 * Check every candidate and report every problem at once (one fan-in rule for rebuild and promote).
 * Refusals (missing, unsigned, unscanned) become one POLICY_REFUSED listing them all; any other failure
 * (registry outage, timeout) is rethrown with its own code, so an outage exits 1, not 3.
 */
export async function checkAll(
  d: PromotionDeps,
  candidates: readonly PromotionCandidate[],
): Promise<CheckedCandidate[]> {
  // Every candidate is checked at once (registry reads and signature checks); results keep the candidates' order.
  const results = await Promise.allSettled(candidates.map((c) => checkCandidate(d, c)));
  const checked: CheckedCandidate[] = [];
  const refused: string[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') checked.push(r.value);
    else if (isAiboxError(r.reason, 'POLICY_REFUSED')) refused.push(r.reason.message);
    else throw r.reason;
  }
  if (refused.length > 0) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `not promoting: ${refused.join('; ')}`,
      hint: 'Every variant must be built, scanned and signed for the date before latest moves',
      details: { refused },
    });
  }
  return checked;
}

/**
 * The lineage rule (pure): each child must be built FROM the digest of its parent being promoted now, or, when
 * the parent is not in this promotion, the parent's digest in the current channel. Returns every violation.
 */
export function lineageProblems(checked: readonly CheckedCandidate[], current: Channel | null): string[] {
  const problems: string[] = [];
  for (const c of checked) {
    if (c.parent === undefined) continue;
    const promoted = checked.find((x) => x.variant === c.parent);
    const expected = promoted?.digest ?? current?.variants[c.parent]?.digest;
    const source = promoted ? `the ${c.parent} being promoted` : `the ${c.parent} in the current channel`;
    if (expected === undefined) {
      problems.push(
        `${c.variant}:${c.tag}: its base variant ${c.parent} is neither promoted now nor in the current channel`,
      );
    } else if (c.baseDigest !== expected) {
      problems.push(
        `${c.variant}:${c.tag} was built FROM ${c.parent}@${c.baseDigest ?? '(no base.digest label)'}, but ${source} is ${expected}`,
      );
    }
  }
  return problems;
}

export interface PromotionResult {
  readonly variants: Record<string, { tag: string; digest: string }>;
  readonly channel: { sequence: number; digest: string; channel: Channel };
  /** The sequence of an interrupted promotion this call completed first, if any. */
  readonly completed?: number;
}

/** Options of one promotion (the rollback's explicit below-floor decision; nothing else uses them). */
export interface PromoteOptions {
  /** Variant → reason: publish these below their floor with the signed marker (`aiboxctl rollback --force-below-floor`). */
  readonly belowFloor?: Readonly<Record<string, string>>;
}

/** Check the lineage, then move every `latest` and publish the next signed channel, convergently. */
export async function promote(
  d: PromotionDeps,
  checked: readonly CheckedCandidate[],
  opts: PromoteOptions = {},
): Promise<PromotionResult> {
  const log = d.logger ?? silentLogger;
  const completed = await completePendingPromotion(d);
  // The previous channel is verified (signature, history, local state) before anything moves.
  const base = await resolveChannelBase(publisherDeps(d));
  const prev = base.prev;
  const problems = lineageProblems(checked, prev?.channel ?? null);
  if (problems.length > 0) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `not promoting: variants do not belong together: ${problems.join('; ')}`,
      hint: 'Rebuild the child variants on the base being promoted (aiboxctl rebuild for the date), then promote again',
      details: { refused: problems },
    });
  }
  const entries: ChannelEntry[] = checked.map((c) => ({
    variant: c.variant,
    tag: c.tag,
    digest: c.digest,
    created: c.created,
    scan: c.scan,
    // The precise floor the image carries; a bare date (images from before min-image-created) is midnight UTC.
    ...(c.floor
      ? channelFloor(c.floor)
      : c.mandatoryUpdate && c.minImageDate
        ? {
            mandatoryUpdate: true,
            minImageDate: c.minImageDate,
            minImageCreated: `${c.minImageDate}T00:00:00Z`,
          }
        : {}),
  }));
  const channel = buildChannel(
    prev?.channel ?? null,
    entries,
    d.now(),
    opts.belowFloor ? { belowFloor: opts.belowFloor } : {},
  );
  let digest: string;
  try {
    digest = await publishAndMove(d, base, channel);
  } catch (e: unknown) {
    digest = await convergeAfterFailure(d, channel, e);
  }
  const variants: Record<string, { tag: string; digest: string }> = {};
  for (const c of checked) variants[c.variant] = { tag: c.tag, digest: c.digest };
  for (const c of checked) log.debug(`promoted ${c.repository}:latest → ${c.tag} (${c.digest})`);
  return {
    variants,
    channel: { sequence: channel.sequence, digest, channel },
    ...(completed ? { completed: completed.sequence } : {}),
  };
}

/**
 * A promotion failed part-way: if its intent was recorded, try once to complete it (a transient registry fault
 * then costs nothing); otherwise, or if that fails too, throw with the original code and say what is left.
 */
async function convergeAfterFailure(d: PromotionDeps, channel: Channel, e: unknown): Promise<string> {
  const log = d.logger ?? silentLogger;
  let retry: unknown;
  try {
    const done = await completePendingPromotion(d);
    if (done?.sequence === channel.sequence) {
      log.warn(`promotion of channel sequence ${channel.sequence} completed after: ${describeError(e)}`);
      return done.digest;
    }
  } catch (again: unknown) {
    retry = again;
  }
  const repo = channelRepository(d.host, d.project);
  if (retry === undefined) {
    // Nothing open: either the intent was never recorded, or it completed and only the answer was lost.
    const now = await readCurrentChannel(d, repo).catch(() => null);
    if (now && Buffer.from(now.bytes).equals(serializeChannel(channel))) return now.digest;
    throw e;
  }
  const pending = await d.store.headManifest({ ...repo, tag: PENDING_TAG }).catch(() => null);
  if (!pending) throw e;
  throw new AiboxError({
    code: isAiboxError(e) ? e.code : 'REGISTRY_ERROR',
    message: `promotion of channel sequence ${channel.sequence} interrupted: ${describeError(e)}`,
    hint: `${d.project}/channel:${PENDING_TAG} records it; re-run 'aiboxctl promote' to complete it (some latest tags may already point at the new images)`,
    cause: e,
  });
}

/** The channel publisher's view of the promotion's ports. */
function publisherDeps(d: PromotionDeps): ChannelPublisherDeps {
  return { ...d, state: d.channelState };
}

/** The channel `current` holds, read but not judged (only to compare with our own document's bytes). */
async function readCurrentChannel(d: PromotionDeps, channelRepo: Reference) {
  return readChannelIfPresent(d.store, channelRepo);
}

/**
 * Publish `channel` (pushed by digest, signed), record it as the pending intent, move every `latest` it names to
 * its digest, then move `current`. Idempotent: re-publishing the same document completes it.
 */
async function publishAndMove(d: PromotionDeps, base: ChannelBase, channel: Channel): Promise<string> {
  const log = d.logger ?? silentLogger;
  const channelRepo = channelRepository(d.host, d.project);
  // Every read happens before the first write: a read failure moves nothing.
  const moves = await planLatestMoves(d, channel);
  // Floors kept, `current` moved only from the verified base, history and local state updated (channel/publisher).
  const published = await publishOnBase(publisherDeps(d), base, channel, {
    // Runs after the channel is pushed by digest and signed, before `current` moves.
    afterSign: async (ref) => {
      const m = await d.store.getManifest(ref);
      await d.store.putManifest({ ...channelRepo, tag: PENDING_TAG }, m.bytes, m.descriptor.mediaType);
      for (const mv of moves) {
        await d.store.putManifest(mv.ref, mv.bytes, mv.mediaType);
        log.debug(`moved ${mv.ref.repository}:latest → ${mv.digest}`);
      }
    },
  });
  return published.digest;
}

interface LatestMove {
  readonly ref: Reference;
  readonly digest: string;
  readonly bytes: Uint8Array;
  readonly mediaType: string;
}

/** For every variant of the channel whose `latest` does not serve the channel's digest: the bytes to put there. */
async function planLatestMoves(d: PromotionDeps, channel: Channel): Promise<LatestMove[]> {
  // Reads only, all at once; the moves keep the channel's variant order.
  const moves = await Promise.all(
    Object.entries(channel.variants).map(async ([variant, v]): Promise<LatestMove | undefined> => {
      const repo = { registry: d.host, repository: repositoryFor(d.project, variant) };
      const ref = { ...repo, tag: 'latest' };
      const head = await d.store.headManifest(ref);
      if (head?.digest === v.digest) return undefined;
      const m = await d.store.getManifest({ ...repo, digest: v.digest });
      return { ref, digest: v.digest, bytes: m.bytes, mediaType: m.descriptor.mediaType };
    }),
  );
  return moves.filter((m): m is LatestMove => m !== undefined);
}

/** Why an open intent is not completed, or the channel to complete. */
type Intent =
  | { readonly ok: true; readonly channel: Channel; readonly digest: string }
  | { readonly ok: false; readonly reason: string };

async function readIntent(d: PromotionDeps, digest: string, current: Channel | null): Promise<Intent> {
  const repo = channelRepository(d.host, d.project);
  const v = await verifyImage({
    client: d.store,
    ref: { ...repo, digest },
    trustedKeys: d.trust,
    now: d.now(),
  });
  if (!v.ok) return { ok: false, reason: 'it is not signed by a trusted key' };
  let read;
  try {
    read = await readChannel(d.store, repo, { digest });
  } catch (e: unknown) {
    if (!isAiboxError(e, 'CHANNEL_INVALID') && !isAiboxError(e, 'NOT_FOUND')) throw e;
    return { ok: false, reason: describeError(e) };
  }
  if (current && read.channel.sequence <= current.sequence) {
    return {
      ok: false,
      reason: `its sequence ${read.channel.sequence} is not newer than current's ${current.sequence}`,
    };
  }
  return { ok: true, channel: read.channel, digest };
}

/**
 * Complete an interrupted promotion (roll forward): when `channel:pending` differs from `current` and holds a
 * channel signed by a trusted key and newer than `current`, re-publish that same document, which moves the
 * remaining `latest` tags and then `current`. Returns what it completed, or null when nothing was open. An
 * intent that does not verify is ignored (logged): nothing moves on its behalf, the next promotion replaces it.
 */
export async function completePendingPromotion(
  d: PromotionDeps,
): Promise<{ sequence: number; digest: string } | null> {
  const log = d.logger ?? silentLogger;
  const repo = channelRepository(d.host, d.project);
  const pending = await d.store.headManifest({ ...repo, tag: PENDING_TAG });
  if (!pending) return null;
  const current = await d.store.headManifest({ ...repo, tag: CHANNEL_TAG });
  if (current?.digest === pending.digest) return null;
  // An intent is completed only on top of a verified `current` (the same rules as any publication).
  const base = await resolveChannelBase(publisherDeps(d));
  const intent = await readIntent(d, pending.digest, base.prev?.channel ?? null);
  if (!intent.ok) {
    log.warn(
      `ignoring ${d.host}/${repo.repository}:${PENDING_TAG} (${pending.digest}): ${intent.reason}; the next promotion replaces it`,
    );
    return null;
  }
  log.warn(
    `completing the interrupted promotion of channel sequence ${intent.channel.sequence} (${d.host}/${repo.repository}:${PENDING_TAG})`,
  );
  const digest = await publishAndMove(d, base, intent.channel);
  return { sequence: intent.channel.sequence, digest };
}
