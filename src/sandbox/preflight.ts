/**
 * THE preflight (issue 10 §3, runbook §2 and §5): what `aibox check` runs and `aibox start` runs before launching.
 * The local image must be the one whose signature verifies (from the cached material, or fetched when online and
 * not cached), and not older than the variant's floor (the channel's when reachable, else the cached one; the
 * highest floor ever seen wins). Offline is a one-line warning, never a pass for an image that cannot be verified.
 */
import type { ChannelCve } from '../channel/channel.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { newestSignature, signatureFailedMessage, signatureValidLine } from '../signing/messages.js';
import { fetchSignatures, verifyCachedSignatures } from './material.js';
import { higherFloor, type CachedSignatures, type DevState, type VariantFloor } from './state.js';
import { channelFloor, currentTrust, verifiedChannel, type DevDeps } from './verified-channel.js';

export type { VariantFloor } from './state.js';

export interface PreflightImage {
  variant: string;
  displayName: string;
  tag: string;
  digest: string;
  created: string;
  ref: string /* local podman reference */;
}

export type Preflight =
  | {
      ok: true;
      image: PreflightImage;
      signer: string;
      signedAt: string;
      floor: VariantFloor | null;
      offline: boolean;
      warnings: string[];
      channelSequence: number;
    }
  | {
      ok: false;
      kind: 'signature' | 'floor' | 'no-image' | 'channel';
      image?: PreflightImage;
      error: AiboxError /* message = the runbook's exact text; exit 12 for signature, 3 for floor */;
    };

/** The ports the preflight needs (the CLI builds them: `cli/dev-deps.ts` `createDevDeps`). */
export interface PreflightDeps extends DevDeps {
  readonly engine: Pick<Engine, 'inspectImage'>;
  /**
   * The local image's manifest digest(s) and creation time, without a podman process when possible (the CLI
   * reads containers-storage first: `adapters/podman-storage.ts`); NOT_FOUND like `inspectImage`. Default:
   * `engine.inspectImage`.
   */
  readonly localImage?:
    | ((
        ref: string,
        wanted: string,
      ) => Promise<{ digest: string; repoDigests: readonly string[]; created: string }>)
    | undefined;
}

/** `aibox-base` for variant `base` (the runbook's display names). */
export function displayBase(variant: string): string {
  return `aibox-${variant}`;
}

/** An image time as RFC 3339 at millisecond precision (podman prints nanoseconds and zone offsets). */
export function normaliseTime(t: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$/.exec(t.trim());
  const s = m ? `${m[1]}${m[2] ? m[2].slice(0, 4) : ''}${m[3]}` : t;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : t;
}

/**
 * Every manifest digest local storage holds for an image (`Digest` and the `RepoDigests`): an image pulled by digest
 * from several places, or built here and pushed, has more than one. Returns `wanted` when it is among them.
 */
export function localDigestFor(
  info: { digest: string; repoDigests: readonly string[] },
  wanted: string,
): string {
  const all = [info.digest, ...info.repoDigests.map((r) => r.slice(r.lastIndexOf('@') + 1))];
  return all.includes(wanted) ? wanted : info.digest;
}

/** The SECURITY UPDATE REQUIRED text of runbook §2, filled with the real CVE and score. */
export function securityUpdateMessage(cve: ChannelCve | null): string {
  const what =
    cve === null
      ? 'A security vulnerability'
      : `${cve.cvss >= 9 ? 'A critical vulnerability' : 'A high-severity vulnerability'} (${cve.id}, CVSS ${cve.cvss.toFixed(1)})`;
  return [
    `SECURITY UPDATE REQUIRED: ${what} has been`,
    "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
  ].join('\n');
}

/** The lines `check` and `start` print for a passed preflight (warnings go to stderr). */
export function preflightLines(p: Extract<Preflight, { ok: true }>): string[] {
  return [signatureValidLine({ signer: p.signer, signedAt: p.signedAt ? new Date(p.signedAt) : null })];
}

function signatureFailure(image: PreflightImage, reasons: readonly string[]): Preflight {
  return {
    ok: false,
    kind: 'signature',
    image,
    error: new AiboxError({
      code: 'NO_MATCHING_SIGNATURE',
      message: signatureFailedMessage(image.displayName),
      verbatim: true,
      details: { image: image.displayName, digest: image.digest, reasons },
    }),
  };
}

function failed(kind: 'no-image' | 'channel', error: AiboxError, image?: PreflightImage): Preflight {
  return { ok: false, kind, error, ...(image ? { image } : {}) };
}

/** Run the preflight for one variant; `online: false` never touches the network. */
export async function preflight(
  deps: PreflightDeps,
  opts: { variant: string; online: boolean },
): Promise<Preflight> {
  const state = await deps.state.read();
  const installed = state.images[opts.variant];
  if (!installed)
    return failed('no-image', noImage(opts.variant, 'no image has been installed with `aibox update`'));
  // The local image and the channel are independent: podman and the registry answer at the same time.
  const [local, channelStep] = await Promise.allSettled([
    deps.localImage
      ? deps.localImage(installed.ref, installed.digest)
      : deps.engine.inspectImage(installed.ref),
    verifiedChannel(deps, state, { online: opts.online, refuseExpired: false }),
  ]);
  if (local.status === 'rejected') {
    if (!isAiboxError(local.reason, 'NOT_FOUND')) throw local.reason;
    return failed('no-image', noImage(opts.variant, `${installed.ref} is no longer in local podman storage`));
  }
  const info = local.value;
  const image: PreflightImage = {
    variant: opts.variant,
    displayName: `${displayBase(opts.variant)}:${installed.tag}`,
    tag: installed.tag,
    digest: localDigestFor(info, installed.digest),
    created: normaliseTime(info.created),
    ref: installed.ref,
  };

  if (channelStep.status === 'rejected') {
    const e: unknown = channelStep.reason;
    if (
      isAiboxError(e, 'CHANNEL_REJECTED') ||
      isAiboxError(e, 'NOT_FOUND') ||
      isAiboxError(e, 'CHANNEL_INVALID')
    )
      return failed('channel', e, image);
    throw e;
  }
  const step = channelStep.value;
  const warnings = [...step.warnings];
  let next: DevState = step.channel ? step.state : state;
  const trust = step.channel ? step.trust : currentTrust(state, deps.trustedKeys);
  if (!step.channel)
    warnings.push('warning: no release channel cached on this machine; the floor kept locally applies');

  // The signature of the digest actually in local storage: cached material first, the registry when online.
  let sigs: CachedSignatures | undefined =
    installed.signatures.digest === image.digest ? installed.signatures : undefined;
  if (!sigs && !step.offline) {
    const ref = { registry: deps.host, repository: `${deps.project}/${opts.variant}`, digest: image.digest };
    sigs = await fetchSignatures(await deps.registry(), ref);
  }
  if (!sigs) return signatureFailure(image, ['offline, and no signature for this digest is cached']);
  const ver = verifyCachedSignatures(sigs, image.digest, trust, deps.now);
  const floor = higherFloor(
    next.floors[opts.variant],
    step.channel ? channelFloor(step.channel, opts.variant) : undefined,
  );
  if (floor) next = { ...next, floors: { ...next.floors, [opts.variant]: floor } };
  // Written only when something was learnt (a new channel, a higher floor): a plain check writes nothing.
  if (next !== state && JSON.stringify(next) !== JSON.stringify(state)) await deps.state.write(next);
  const sig = ver.ok ? newestSignature(ver.verified) : undefined;
  if (!sig)
    return signatureFailure(
      image,
      ver.rejected.map((r) => r.reason),
    );

  if (floor && Date.parse(image.created) < Date.parse(floor.minImageCreated)) {
    return {
      ok: false,
      kind: 'floor',
      image,
      error: new AiboxError({
        code: 'POLICY_REFUSED',
        message: securityUpdateMessage(floor.cve),
        verbatim: true,
        details: { image: image.displayName, created: image.created, floor },
      }),
    };
  }
  const latest = step.channel?.variants[opts.variant];
  if (latest && latest.digest !== image.digest) {
    warnings.push(`Update available: ${displayBase(opts.variant)}:${latest.tag} (run 'aibox update')`);
  }
  return {
    ok: true,
    image,
    signer: sig.signer,
    signedAt: sig.signedAt?.toISOString() ?? '',
    floor: floor ?? null,
    offline: step.offline,
    warnings,
    channelSequence: step.channel?.sequence ?? next.seen?.sequence ?? 0,
  };
}

function noImage(variant: string, why: string): AiboxError {
  return new AiboxError({
    code: 'NOT_FOUND',
    message: `no ${displayBase(variant)} image on this machine: ${why}`,
    hint: "Run 'aibox update' to pull and verify the latest image",
  });
}
