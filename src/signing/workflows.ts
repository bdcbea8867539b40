/**
 * Sign and verify an image in a registry: resolve the tag, fetch signature material, call the pure
 * core, append. Receives its ports (ImageStore, keys, clock); constructs none.
 *
 * Reading is bounded and lean: `.sig` payloads are fetched and checked one at a time (memory holds
 * one payload, however many layers a hostile `.sig` has), and Sigstore bundles are looked for only
 * when no `.sig` signature verifies, so a normal verify costs three requests (HEAD tag, GET `.sig`
 * manifest, GET payload).
 */
import { AiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { formatReference, repositoryName, type Reference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import { encodeBase64 } from './encoding.js';
import { signBytes, type SigningKey } from './keys.js';
import { SIGNATURE_ANNOTATION, buildPayload } from './payload.js';
import {
  appendSignature,
  listBundleReferrers,
  readBundle,
  readPayload,
  readSignatureManifest,
  type DigestRef,
} from './store.js';
import { parseSignatureManifest, signatureTag } from './sigmanifest.js';
import { trustedSelf, type TrustedKey } from './trust.js';
import {
  checkBundle,
  checkSignatureLayer,
  invalidSignatureManifest,
  isSignatureLayer,
  summarise,
  type Check,
  type VerifyContext,
  type VerifyResult,
} from './verify.js';

/** Tag → digest (HEAD); a digest reference is checked to exist. Missing image = NOT_FOUND. */
export async function resolveDigest(client: ImageStore, ref: Reference): Promise<DigestRef> {
  const d = await client.headManifest(ref);
  if (!d) {
    throw new AiboxError({
      code: 'NOT_FOUND',
      message: `image ${formatReference(ref)} not found in the registry`,
      hint: 'Check the repository and tag (aiboxctl tags REPOSITORY lists them)',
    });
  }
  return { registry: ref.registry, repository: ref.repository, digest: d.digest };
}

interface SignatureTagChecks {
  /** The `.sig` manifest bytes (null when the tag does not exist), for appending. */
  readonly bytes: Uint8Array | null;
  readonly checks: Check[];
  readonly candidates: number;
}

/** Fetch the `.sig` manifest and check its signature layers one payload at a time. */
async function checkSignatureTag(
  store: ImageStore,
  ref: DigestRef,
  ctx: VerifyContext,
  log: Logger,
): Promise<SignatureTagChecks> {
  const bytes = await readSignatureManifest(store, ref);
  if (bytes === null) return { bytes, checks: [], candidates: 0 };
  let layers;
  try {
    layers = parseSignatureManifest(bytes).layers;
  } catch (e: unknown) {
    return { bytes, checks: [invalidSignatureManifest(e)], candidates: 0 };
  }
  const checks: Check[] = [];
  let candidates = 0;
  for (const layer of layers) {
    if (!isSignatureLayer(layer)) continue;
    candidates++;
    // No signature annotation: rejected without downloading the payload.
    const payload = layer.annotations[SIGNATURE_ANNOTATION]
      ? await readPayload(store, ref, layer, log)
      : undefined;
    checks.push(checkSignatureLayer(ctx, layer, payload));
  }
  return { bytes, checks, candidates };
}

/** Check the Sigstore bundles attached as referrers, one at a time (unreadable ones are skipped). */
async function checkBundles(
  store: ImageStore,
  ref: DigestRef,
  ctx: VerifyContext,
  log: Logger,
): Promise<Check[]> {
  const checks: Check[] = [];
  const referrers = await listBundleReferrers(store, ref, log);
  for (const [index, d] of referrers.entries()) {
    const b = await readBundle(store, ref, d);
    if (typeof b === 'string') log.debug(`bundle referrer ${d.digest} of ${formatReference(ref)}: ${b}`);
    else checks.push(checkBundle(ctx, index, b));
  }
  return checks;
}

export interface SignImageInput {
  readonly client: ImageStore;
  readonly ref: Reference;
  /** The key, or its decryption still under way: scrypt overlaps the registry round trips. */
  readonly key: SigningKey | Promise<SigningKey>;
  readonly signer: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly now: Date;
  readonly logger?: Logger;
}

export interface SignImageResult {
  readonly image: string;
  readonly repository: string;
  readonly digest: string;
  readonly signatureTag: string;
  /** False when an existing layer already carried a valid signature by this key (idempotent). */
  readonly appended: boolean;
  readonly keyFingerprint: string;
  readonly signer: string;
  readonly timestamp: number | null;
}

/** `aiboxctl sign`: append a cosign-format signature for the image's digest unless this key already signed it. */
export async function signImage(input: SignImageInput): Promise<SignImageResult> {
  const log = input.logger ?? silentLogger;
  // The key's decryption (scrypt) and the registry round trips run together; a key error is
  // reported first whatever finishes first, so the answer does not depend on timing.
  const [k, reg] = await Promise.allSettled([input.key, resolveDigest(input.client, input.ref)]);
  if (k.status === 'rejected') throw k.reason;
  if (reg.status === 'rejected') throw reg.reason;
  const key = k.value;
  const ref = reg.value;
  const repository = repositoryName(ref);
  const self = trustedSelf(key.publicKey);
  // cosign's dedupe: skip if this key already produced a valid signature for this image.
  const tag = await checkSignatureTag(
    input.client,
    ref,
    {
      repository,
      manifestDigest: ref.digest,
      trustedKeys: [self],
      now: input.now,
      requiredAnnotations: input.annotations ?? {},
    },
    log,
  );
  const existing = tag.bytes;
  const base = {
    image: formatReference(input.ref),
    repository,
    digest: ref.digest,
    signatureTag: signatureTag(ref.digest),
    keyFingerprint: key.publicKey.fingerprint,
    signer: input.signer,
  };
  const mine = summarise(tag.checks, tag.candidates, existing !== null);
  if (mine.ok) {
    log.info(`${base.image} (${ref.digest}) is already signed with this key; nothing appended`);
    return {
      ...base,
      appended: false,
      timestamp: mine.verified[0]?.signedAt ? mine.verified[0].signedAt.getTime() / 1000 : null,
    };
  }
  const payload = buildPayload({
    repository,
    manifestDigest: ref.digest,
    annotations: input.annotations ?? {},
    signer: input.signer,
    timestamp: input.now,
  });
  const sig = signBytes(key, payload);
  await appendSignature(input.client, ref, existing, { payload, signatureB64: encodeBase64(sig) });
  log.debug(`appended a signature layer to ${repository}:${base.signatureTag}`);
  return { ...base, appended: true, timestamp: Math.floor(input.now.getTime() / 1000) };
}

export interface VerifyImageInput {
  readonly client: ImageStore;
  readonly ref: Reference;
  readonly trustedKeys: readonly TrustedKey[];
  readonly now: Date;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Also look for cosign v3 Sigstore bundles attached as referrers when no `.sig` signature verifies (default true). */
  readonly bundles?: boolean;
  readonly logger?: Logger;
}

/** `aiboxctl verify`: fetch signature material for the image's digest and run the pure core. */
export async function verifyImage(
  input: VerifyImageInput,
): Promise<VerifyResult & { digest: string; repository: string }> {
  let ref: DigestRef;
  try {
    ref = await resolveDigest(input.client, input.ref);
  } catch (e: unknown) {
    // cosign exits 11 ("image tag not found") here; keep the same number for CI scripts.
    if (e instanceof AiboxError && e.code === 'NOT_FOUND') {
      throw new AiboxError({
        code: 'IMAGE_TAG_NOT_FOUND',
        message: `image tag not found: ${formatReference(input.ref)}`,
        hint: e.hint,
        cause: e,
      });
    }
    throw e;
  }
  const repository = repositoryName(ref);
  const log = input.logger ?? silentLogger;
  const ctx: VerifyContext = {
    repository,
    manifestDigest: ref.digest,
    trustedKeys: input.trustedKeys,
    now: input.now,
    ...(input.annotations ? { requiredAnnotations: input.annotations } : {}),
  };
  const tag = await checkSignatureTag(input.client, ref, ctx, log);
  const checks = [...tag.checks];
  let candidates = tag.candidates;
  // Bundles only when the classic signature did not verify: one good signature is enough.
  if ((input.bundles ?? true) && !checks.some((c) => c.ok)) {
    const bundles = await checkBundles(input.client, ref, ctx, log);
    checks.push(...bundles);
    candidates += bundles.length;
  }
  return { ...summarise(checks, candidates, tag.bytes !== null), digest: ref.digest, repository };
}
