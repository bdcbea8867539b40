/**
 * `aibox update` (issue 10 §2, runbook §3): verify the signed channel (no replay, not expired), take the variant's
 * digest from it, compare with the local image, VERIFY THE SIGNATURE OF THE REMOTE DIGEST BEFORE PULLING, pull by
 * digest, tag it locally, re-verify what landed, and cache the verified channel and signatures so `check`/`start`
 * verify offline. Running sandboxes are never touched. A rollback (newer sequence, older digest) goes the same way.
 * When nothing changed it costs one registry request (the channel manifest; everything else is in the cache).
 */
import { AiboxError, isAiboxError } from '../core/errors.js';
import { LABELS, parseSecurityFixes, type SecurityFix } from '../core/labels.js';
import type { Engine } from '../engine/engine.js';
import { signatureFailedMessage } from '../signing/messages.js';
import { fetchSignatures, verifyCachedSignatures } from './material.js';
import { displayBase, localDigestFor, normaliseTime, type PreflightDeps } from './preflight.js';
import type { CachedImage, CachedSignatures, DevState } from './state.js';
import { verifiedChannel, type DevDeps } from './verified-channel.js';

export interface UpdateDeps extends DevDeps {
  readonly engine: Pick<Engine, 'inspectImage' | 'pull' | 'tag'>;
  /** The local image without a podman process when possible (as in the preflight); default `engine.inspectImage`. */
  readonly localImage?: PreflightDeps['localImage'];
  /** Milliseconds, for the "done (45s)" of the pull line. */
  readonly clock: () => number;
}

export interface UpdateOptions {
  readonly variant: string;
  /** Each output line as it happens (the runbook's lines). */
  readonly onLine: (line: string) => void;
  /** Podman's pull progress (a terminal only; absent on a pipe). */
  readonly onProgress?: ((line: string) => void) | undefined;
}

export interface UpdateResult {
  readonly status: 'up-to-date' | 'updated';
  readonly variant: string;
  readonly previous: { readonly tag: string; readonly digest: string } | null;
  readonly image: {
    readonly tag: string;
    readonly digest: string;
    readonly created: string;
    readonly ref: string;
  };
  readonly pullSeconds: number | null;
  readonly securityFixes: readonly SecurityFix[];
  readonly channelSequence: number;
  readonly warnings: readonly string[];
}

/** `Security fix: CVE-2026-12345 (CVSS 9.8)`. */
export function securityFixLine(f: SecurityFix): string {
  return `Security fix: ${f.id} (CVSS ${f.cvss.toFixed(1)})`;
}

/**
 * The local name an update tags: the registry's own name for the tag (`harbor.internal/aibox/base:24.04-20260221`),
 * so images from two registries (or projects) never share a local name.
 */
export function localRef(host: string, project: string, variant: string, tag: string): string {
  return `${host}/${project}/${variant}:${tag}`;
}

async function localDigest(
  deps: Pick<UpdateDeps, 'engine' | 'localImage'>,
  ref: string,
  wanted: string,
): Promise<string | null> {
  try {
    return localDigestFor(
      await (deps.localImage ? deps.localImage(ref, wanted) : deps.engine.inspectImage(ref)),
      wanted,
    );
  } catch (e: unknown) {
    if (isAiboxError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

/** Run the update flow for one variant. */
export async function update(deps: UpdateDeps, opts: UpdateOptions): Promise<UpdateResult> {
  const { variant, onLine } = opts;
  onLine('Checking for updates...');
  const state = await deps.state.read();
  const step = await verifiedChannel(deps, state, { online: true, refuseExpired: true });
  if (!step.channel)
    throw new AiboxError({ code: 'INTERNAL', message: 'online channel step returned no channel' });
  const entry = step.channel.variants[variant];
  if (!entry) {
    throw new AiboxError({
      code: 'NOT_FOUND',
      message: `the release channel (sequence ${step.channel.sequence}) has no variant "${variant}" (it has: ${Object.keys(step.channel.variants).join(', ')})`,
      hint: 'pass --variant with one of those, or set `variant:` in your aibox config',
    });
  }
  const latestName = `${displayBase(variant)}:${entry.tag}`;
  const floor = step.state.floors[variant];
  if (floor && Date.parse(entry.created) < Date.parse(floor.minImageCreated)) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `refusing to update to ${latestName}: it was created ${entry.created}, before the security floor ${floor.minImageCreated}${floor.cve ? ` (${floor.cve.id})` : ''} this machine has seen`,
      hint: 'floors never go down; nothing was pulled: contact the platform team',
    });
  }
  const installed = state.images[variant];
  const current = installed ? await localDigest(deps, installed.ref, entry.digest) : null;
  const repoRef = { registry: deps.host, repository: `${deps.project}/${variant}` };
  const trust = step.trust;

  // Up to date: the local image is the channel's digest and its cached signature still verifies.
  if (installed && current === entry.digest && installed.digest === entry.digest) {
    let sigs: CachedSignatures = installed.signatures;
    if (!verifyCachedSignatures(sigs, entry.digest, trust, deps.now).ok) {
      sigs = await fetchSignatures(await deps.registry(), { ...repoRef, digest: entry.digest });
      if (!verifyCachedSignatures(sigs, entry.digest, trust, deps.now).ok)
        throw signatureError(latestName, entry.digest);
    }
    await deps.state.write({
      ...step.state,
      images: { ...step.state.images, [variant]: { ...installed, signatures: sigs } },
    });
    onLine(`Already up to date (${latestName}).`);
    return result('up-to-date', null, installed, null, [], step);
  }

  onLine(
    `Current image: ${installed && current !== null ? `${displayBase(variant)}:${installed.tag}` : 'none'}`,
  );
  onLine(`Latest image:  ${latestName}`);
  // The signature of the digest we are about to pull, before pulling anything.
  const sigs = await fetchSignatures(await deps.registry(), { ...repoRef, digest: entry.digest });
  if (!verifyCachedSignatures(sigs, entry.digest, trust, deps.now).ok)
    throw signatureError(latestName, entry.digest);

  const remote = `${deps.host}/${deps.project}/${variant}@${entry.digest}`;
  const t0 = deps.clock();
  await deps.engine.pull(remote, opts.onProgress ? { onProgress: opts.onProgress } : {});
  const pulled = await deps.engine.inspectImage(remote);
  const pulledDigest = localDigestFor(pulled, entry.digest);
  if (pulledDigest !== entry.digest) {
    throw new AiboxError({
      code: 'DIGEST_MISMATCH',
      message: `podman pulled ${remote} but local storage reports digest ${pulled.digest}`,
      hint: 'nothing was tagged; run `podman rmi` on it and retry',
    });
  }
  const ref = localRef(deps.host, deps.project, variant, entry.tag);
  await deps.engine.tag(remote, ref);
  const seconds = Math.max(0, Math.round((deps.clock() - t0) / 1000));
  onLine(`Pulling ${latestName}... done (${seconds}s)`);
  // What landed locally is checked again, from the same bytes the cache will hold.
  if (!verifyCachedSignatures(sigs, pulledDigest, trust, deps.now).ok)
    throw signatureError(latestName, pulledDigest);
  onLine('Verifying signature... valid');
  const image: CachedImage = {
    variant,
    tag: entry.tag,
    digest: entry.digest,
    created: normaliseTime(pulled.created),
    ref,
    signatures: sigs,
  };
  await deps.state.write({ ...step.state, images: { ...step.state.images, [variant]: image } });
  onLine("Update complete. Changes take effect on next 'aibox start'.");
  const fixes = parseSecurityFixes(pulled.labels[LABELS.securityFixes]);
  for (const f of fixes) onLine(securityFixLine(f));
  const previous = installed && current !== null ? { tag: installed.tag, digest: current } : null;
  return result('updated', previous, image, seconds, fixes, step);
}

function result(
  status: UpdateResult['status'],
  previous: UpdateResult['previous'],
  image: CachedImage,
  pullSeconds: number | null,
  securityFixes: readonly SecurityFix[],
  step: {
    readonly channel: { readonly sequence: number };
    readonly warnings: readonly string[];
    readonly state: DevState;
  },
): UpdateResult {
  return {
    status,
    variant: image.variant,
    previous,
    image: { tag: image.tag, digest: image.digest, created: image.created, ref: image.ref },
    pullSeconds,
    securityFixes,
    channelSequence: step.channel.sequence,
    warnings: step.warnings,
  };
}

function signatureError(displayName: string, digest: string): AiboxError {
  return new AiboxError({
    code: 'NO_MATCHING_SIGNATURE',
    message: signatureFailedMessage(displayName),
    verbatim: true,
    details: { image: displayName, digest, pulled: false },
  });
}
