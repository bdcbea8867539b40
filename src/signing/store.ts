/**
 * Registry edge for signatures: read an image's `.sig` manifest, one payload blob at a time, and
 * its Sigstore-bundle referrers one at a time; append a signature layer to the `.sig` manifest.
 * Uses the `ImageStore` port only; every decision is left to the pure modules.
 */
import { isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatReference, type Reference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import { BUNDLE_ARTIFACT_TYPE, MAX_BUNDLE_BYTES } from './bundle.js';
import { MAX_PAYLOAD_BYTES } from './payload.js';
import {
  OCI_CONFIG_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  appendSignatureLayer,
  signatureTag,
  type NewSignatureLayer,
  type SigLayer,
} from './sigmanifest.js';
import type { BundleBytes } from './verify.js';

export type DigestRef = Reference & { digest: string };

/** Most bundle referrers read for one image (each is a manifest plus a blob). */
export const MAX_BUNDLES = 32;

function sigRef(ref: DigestRef): Reference {
  return { registry: ref.registry, repository: ref.repository, tag: signatureTag(ref.digest) };
}

/**
 * An outage (registry unreachable, deadline passed) is not "this signature is unreadable": it must
 * surface with its own code (exit 1), never turn into "no valid signature" (exit 12 or a refusal).
 */
function rethrowOutage(e: unknown): void {
  if (isAiboxError(e, 'REGISTRY_UNREACHABLE') || isAiboxError(e, 'TIMEOUT')) throw e;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The `.sig` manifest bytes, or null when the tag does not exist. */
export async function readSignatureManifest(store: ImageStore, ref: DigestRef): Promise<Uint8Array | null> {
  try {
    return (await store.getManifest(sigRef(ref))).bytes;
  } catch (e: unknown) {
    if (isAiboxError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

/** One simple-signing payload blob (capped); undefined when it cannot be fetched (the core reports it). */
export async function readPayload(
  store: ImageStore,
  ref: DigestRef,
  layer: SigLayer,
  logger: Logger = silentLogger,
): Promise<Uint8Array | undefined> {
  if (layer.size > MAX_PAYLOAD_BYTES) return undefined;
  try {
    return await store.getBlob(ref, layer.digest, { maxBytes: MAX_PAYLOAD_BYTES });
  } catch (e: unknown) {
    rethrowOutage(e);
    logger.debug(`signature payload ${layer.digest} of ${formatReference(ref)} unavailable: ${why(e)}`);
    return undefined;
  }
}

/** Descriptors of the Sigstore bundles attached as referrers (API, else the referrers tag schema). */
export async function listBundleReferrers(
  store: ImageStore,
  ref: DigestRef,
  logger: Logger = silentLogger,
): Promise<readonly Descriptor[]> {
  try {
    const { descriptors } = await store.referrers(ref, { artifactType: BUNDLE_ARTIFACT_TYPE });
    return descriptors.slice(0, MAX_BUNDLES);
  } catch (e: unknown) {
    rethrowOutage(e);
    logger.debug(`referrers of ${formatReference(ref)} unavailable: ${why(e)}`);
    return [];
  }
}

/** One bundle referrer's bundle bytes (capped), or a reason it could not be read. */
export async function readBundle(
  store: ImageStore,
  ref: DigestRef,
  referrer: Descriptor,
): Promise<BundleBytes | string> {
  try {
    const { bytes } = await store.getManifest({
      registry: ref.registry,
      repository: ref.repository,
      digest: referrer.digest,
    });
    const m = JSON.parse(new TextDecoder().decode(bytes)) as {
      layers?: { mediaType?: string; digest?: string; size?: number }[];
    };
    const layer = (Array.isArray(m.layers) ? m.layers : []).find(
      (l) =>
        typeof l.digest === 'string' &&
        typeof l.mediaType === 'string' &&
        l.mediaType.startsWith('application/vnd.dev.sigstore.bundle'),
    );
    if (!layer?.digest) return 'referrer manifest has no Sigstore bundle layer';
    if (typeof layer.size === 'number' && layer.size > MAX_BUNDLE_BYTES) {
      return `bundle larger than ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB`;
    }
    return {
      digest: referrer.digest,
      bytes: await store.getBlob(ref, layer.digest, { maxBytes: MAX_BUNDLE_BYTES }),
    };
  } catch (e: unknown) {
    rethrowOutage(e);
    return `bundle referrer unreadable: ${why(e)}`;
  }
}

/**
 * Append one signature layer to the image's `.sig` manifest (read-modify-write, as cosign does;
 * concurrent signers can race, the last PUT wins). Blobs first, then the manifest.
 */
export async function appendSignature(
  client: ImageStore,
  ref: DigestRef,
  existing: Uint8Array | null,
  layer: NewSignatureLayer,
): Promise<{ sigManifestDigest: string; tag: string }> {
  const next = appendSignatureLayer(existing, layer);
  await Promise.all([
    client.pushBlob(ref, layer.payload),
    client.pushBlob(ref, next.config, { mediaType: OCI_CONFIG_MEDIA_TYPE }),
  ]);
  const target = sigRef(ref);
  const d = await client.putManifest(target, next.manifest, OCI_MANIFEST_MEDIA_TYPE);
  return { sigManifestDigest: d.digest, tag: target.tag ?? '' };
}
