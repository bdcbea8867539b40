/**
 * Registry edge for signatures: read an image's `.sig` manifest, its payload blobs and any
 * Sigstore-bundle referrers; append a signature layer to the `.sig` manifest. Uses the OCI client
 * only; every decision is left to the pure modules.
 */
import { isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { ImageStore } from '../oci/store.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { BUNDLE_ARTIFACT_TYPE } from './bundle.js';
import { MAX_PAYLOAD_BYTES, SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';
import {
  OCI_CONFIG_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  appendSignatureLayer,
  parseSignatureManifest,
  signatureTag,
  type NewSignatureLayer,
} from './sigmanifest.js';
import type { BundleBytes } from './verify.js';

export type DigestRef = Reference & { digest: string };

export interface SignatureMaterial {
  readonly sigManifestBytes: Uint8Array | null;
  readonly payloads: Map<string, Uint8Array>;
  readonly bundles: BundleBytes[];
}

const MAX_BUNDLES = 32;

function sigRef(ref: DigestRef): Reference {
  return { registry: ref.registry, repository: ref.repository, tag: signatureTag(ref.digest) };
}

/** The `.sig` manifest bytes, or null when the tag does not exist. */
export async function readSignatureManifest(client: ImageStore, ref: DigestRef): Promise<Uint8Array | null> {
  try {
    return (await client.getManifest(sigRef(ref))).bytes;
  } catch (e: unknown) {
    if (isAiboxError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

/** Payload blobs of the simple-signing layers (deduplicated, fetched in parallel, 4 MiB cap). */
export async function readPayloads(
  client: ImageStore,
  ref: DigestRef,
  sigManifest: Uint8Array,
  logger: Logger = silentLogger,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  let layers;
  try {
    layers = parseSignatureManifest(sigManifest).layers;
  } catch {
    return out; // the pure core reports the invalid manifest
  }
  const digests = [
    ...new Set(
      layers
        .filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && l.size <= MAX_PAYLOAD_BYTES)
        .map((l) => l.digest),
    ),
  ];
  await Promise.all(
    digests.map(async (d) => {
      try {
        out.set(d, await client.getBlob(ref, d, { maxBytes: MAX_PAYLOAD_BYTES }));
      } catch (e: unknown) {
        logger.debug(
          `signature payload ${d} of ${formatReference(ref)} unavailable: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }),
  );
  return out;
}

/** Sigstore bundles attached to the image as referrers (API, else the referrers tag schema). */
export async function readBundles(
  client: ImageStore,
  ref: DigestRef,
  logger: Logger = silentLogger,
): Promise<BundleBytes[]> {
  let descriptors;
  try {
    ({ descriptors } = await client.referrers(ref, { artifactType: BUNDLE_ARTIFACT_TYPE }));
  } catch (e: unknown) {
    logger.debug(
      `referrers of ${formatReference(ref)} unavailable: ${e instanceof Error ? e.message : String(e)}`,
    );
    return [];
  }
  const out: BundleBytes[] = [];
  await Promise.all(
    descriptors.slice(0, MAX_BUNDLES).map(async (d) => {
      try {
        const { bytes } = await client.getManifest({
          registry: ref.registry,
          repository: ref.repository,
          digest: d.digest,
        });
        const m = JSON.parse(new TextDecoder().decode(bytes)) as {
          layers?: { mediaType?: string; digest?: string; size?: number }[];
        };
        const layer = (m.layers ?? []).find(
          (l) =>
            typeof l.digest === 'string' &&
            (l.mediaType ?? '').startsWith('application/vnd.dev.sigstore.bundle'),
        );
        if (!layer?.digest) return;
        out.push({
          digest: d.digest,
          bytes: await client.getBlob(ref, layer.digest, { maxBytes: MAX_PAYLOAD_BYTES }),
        });
      } catch (e: unknown) {
        logger.debug(`bundle referrer ${d.digest} unreadable: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );
  return out;
}

/** Everything the verification core needs, fetched concurrently. */
export async function readSignatureMaterial(
  client: ImageStore,
  ref: DigestRef,
  opts: { bundles?: boolean; logger?: Logger } = {},
): Promise<SignatureMaterial> {
  const [sig, bundles] = await Promise.all([
    readSignatureManifest(client, ref).then(async (bytes) => ({
      bytes,
      payloads: bytes ? await readPayloads(client, ref, bytes, opts.logger) : new Map<string, Uint8Array>(),
    })),
    opts.bundles === false ? Promise.resolve([]) : readBundles(client, ref, opts.logger),
  ]);
  return { sigManifestBytes: sig.bytes, payloads: sig.payloads, bundles };
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
