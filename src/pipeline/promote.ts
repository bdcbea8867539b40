/**
 * Promotion: move `latest` of every variant to its checked date-tag image (a manifest PUT of the
 * exact bytes, atomic per repository), then publish the signed release channel. Nothing moves
 * unless every variant passed its checks.
 */
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { ImageStore } from '../oci/store.js';
import { buildChannel, type Channel, type ChannelEntry } from '../channel/channel.js';
import { publishOnBase, resolveChannelBase, type ChannelPublisherDeps } from '../channel/publisher.js';
import type { ChannelStateStore } from '../channel/state.js';
import { verifyImage } from '../signing/workflows.js';
import type { SigningKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import { describeImage } from '../inspect/describe.js';
import { LABELS } from './inputs.js';

export interface PromotionCandidate {
  readonly variant: string;
  readonly repository: string;
  readonly tag: string;
}

export interface CheckedCandidate extends PromotionCandidate {
  readonly digest: string;
  readonly created: string;
  readonly mandatoryUpdate: boolean;
  readonly minImageDate: string;
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

/** Check one published date tag: present, signed by a trusted key, not marked as failed. */
export async function checkCandidate(d: PromotionDeps, c: PromotionCandidate): Promise<CheckedCandidate> {
  const ref = { registry: d.host, repository: c.repository, tag: c.tag };
  const desc = await describeImage(d.store, ref).catch((e: unknown) => {
    // A missing image is a refusal (exit 3); an outage stays an outage (exit 1).
    if (!isAiboxError(e, 'NOT_FOUND')) throw e;
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `${c.variant}: ${d.host}/${c.repository}:${c.tag} is not publishable: ${describeError(e)}`,
      hint: `Run 'aiboxctl rebuild --variant ${c.variant}' for this date first`,
      cause: e,
    });
  });
  const v = await verifyImage({
    client: d.store,
    ref: { ...ref, digest: desc.digest },
    trustedKeys: d.trust,
    now: d.now(),
  });
  if (!v.ok) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `${c.variant}: ${d.host}/${c.repository}:${c.tag} has no valid signature from a trusted key`,
      hint: `Sign it with 'aiboxctl sign' or re-run 'aiboxctl rebuild --variant ${c.variant}'`,
    });
  }
  return {
    ...c,
    digest: desc.digest,
    created: desc.labels[LABELS.created] || desc.created || d.now().toISOString(),
    mandatoryUpdate: desc.labels[LABELS.mandatoryUpdate] === 'true',
    minImageDate: desc.labels[LABELS.minImageDate] ?? '',
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
  const checked: CheckedCandidate[] = [];
  const refused: string[] = [];
  for (const c of candidates) {
    try {
      checked.push(await checkCandidate(d, c));
    } catch (e: unknown) {
      if (!isAiboxError(e, 'POLICY_REFUSED')) throw e;
      refused.push(e.message);
    }
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

export interface PromotionResult {
  readonly variants: Record<string, { tag: string; digest: string }>;
  readonly channel: { sequence: number; digest: string; channel: Channel };
}

/** Move every `latest` (exact bytes) and publish the next channel document, signed. */
export async function promote(
  d: PromotionDeps,
  checked: readonly CheckedCandidate[],
): Promise<PromotionResult> {
  const log = d.logger ?? silentLogger;
  const variants: Record<string, { tag: string; digest: string }> = {};
  // Fetch every manifest first, so a read failure moves nothing.
  const manifests = await Promise.all(
    checked.map(async (c) => {
      const m = await d.store.getManifest({ registry: d.host, repository: c.repository, digest: c.digest });
      return { c, bytes: m.bytes, mediaType: m.descriptor.mediaType };
    }),
  );
  // The previous channel is verified (signature, history, local state) before anything moves.
  const cd: ChannelPublisherDeps = { ...d, state: d.channelState };
  const base = await resolveChannelBase(cd);
  const entries: ChannelEntry[] = checked.map((c) => ({
    variant: c.variant,
    tag: c.tag,
    digest: c.digest,
    created: c.created,
    ...(c.mandatoryUpdate && c.minImageDate
      ? {
          mandatoryUpdate: true,
          minImageDate: c.minImageDate,
          minImageCreated: `${c.minImageDate}T00:00:00Z`,
        }
      : {}),
  }));
  const channel = buildChannel(base.prev?.channel ?? null, entries, d.now());
  // Remember where each `latest` pointed, to put it back if any later move or the channel fails.
  const previous = await Promise.all(
    checked.map(async (c) => {
      const ref = { registry: d.host, repository: c.repository, tag: 'latest' };
      const head = await d.store.headManifest(ref);
      return head ? { ref, ...(await d.store.getManifest(ref)) } : undefined;
    }),
  );
  const moved: typeof manifests = [];
  try {
    for (const m of manifests) {
      await d.store.putManifest(
        { registry: d.host, repository: m.c.repository, tag: 'latest' },
        m.bytes,
        m.mediaType,
      );
      moved.push(m);
      variants[m.c.variant] = { tag: m.c.tag, digest: m.c.digest };
      log.debug(`promoted ${m.c.repository}:latest → ${m.c.tag} (${m.c.digest})`);
    }
    const published = await publishOnBase(cd, base, channel);
    return { variants, channel: { sequence: channel.sequence, digest: published.digest, channel } };
  } catch (e: unknown) {
    for (const m of moved) {
      const prev = previous[manifests.indexOf(m)];
      try {
        if (prev) await d.store.putManifest(prev.ref, prev.bytes, prev.descriptor.mediaType);
      } catch (restoreError: unknown) {
        log.error(`could not restore ${m.c.repository}:latest: ${describeError(restoreError)}`);
      }
    }
    throw e;
  }
}
