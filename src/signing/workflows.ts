/**
 * Sign and verify an image in a registry: resolve the tag, fetch signature material, call the pure
 * core, append. Receives its ports (RegistryClient, keys, clock); constructs none.
 */
import { AiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { RegistryClient } from '../oci/client.js';
import { formatReference, repositoryName, type Reference } from '../oci/reference.js';
import { encodeBase64 } from './encoding.js';
import { signBytes, type SigningKey } from './keys.js';
import { buildPayload } from './payload.js';
import {
  appendSignature,
  readPayloads,
  readSignatureManifest,
  readSignatureMaterial,
  type DigestRef,
} from './store.js';
import { signatureTag } from './sigmanifest.js';
import type { TrustedKey } from './trust.js';
import { verifyImageSignatures, type VerifyResult } from './verify.js';

/** Tag → digest (HEAD); a digest reference is checked to exist. Missing image = NOT_FOUND. */
export async function resolveDigest(client: RegistryClient, ref: Reference): Promise<DigestRef> {
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

export interface SignImageInput {
  readonly client: RegistryClient;
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
  const [k, reg] = await Promise.allSettled([
    input.key,
    resolveDigest(input.client, input.ref).then(async (r) => ({
      ref: r,
      existing: await readSignatureManifest(input.client, r),
    })),
  ]);
  if (k.status === 'rejected') throw k.reason;
  if (reg.status === 'rejected') throw reg.reason;
  const key = k.value;
  const { ref, existing } = reg.value;
  const repository = repositoryName(ref);
  const base = {
    image: formatReference(input.ref),
    repository,
    digest: ref.digest,
    signatureTag: signatureTag(ref.digest),
    keyFingerprint: key.publicKey.fingerprint,
    signer: input.signer,
  };
  if (existing) {
    // cosign's dedupe: skip if this key already produced a valid signature for this image.
    const payloads = await readPayloads(input.client, ref, existing, log);
    const self: TrustedKey = {
      name: 'signing key',
      publicKey: key.publicKey,
      notBefore: null,
      notAfter: null,
      createdAt: null,
    };
    const r = verifyImageSignatures({
      repository,
      manifestDigest: ref.digest,
      sigManifestBytes: existing,
      payloads,
      trustedKeys: [self],
      now: input.now,
      requiredAnnotations: input.annotations ?? {},
    });
    if (r.ok) {
      log.info(`${base.image} (${ref.digest}) is already signed with this key; nothing appended`);
      return {
        ...base,
        appended: false,
        timestamp: r.verified[0]?.signedAt ? r.verified[0].signedAt.getTime() / 1000 : null,
      };
    }
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
  readonly client: RegistryClient;
  readonly ref: Reference;
  readonly trustedKeys: readonly TrustedKey[];
  readonly now: Date;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Also look for cosign v3 Sigstore bundles attached as referrers (default true). */
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
  const m = await readSignatureMaterial(input.client, ref, {
    bundles: input.bundles ?? true,
    ...(input.logger ? { logger: input.logger } : {}),
  });
  const result = verifyImageSignatures({
    repository,
    manifestDigest: ref.digest,
    sigManifestBytes: m.sigManifestBytes,
    payloads: m.payloads,
    bundles: m.bundles,
    trustedKeys: input.trustedKeys,
    now: input.now,
    ...(input.annotations ? { requiredAnnotations: input.annotations } : {}),
  });
  return { ...result, digest: ref.digest, repository };
}
