/**
 * Signature and channel material for the developer verbs: fetched from the registry once (through the `ImageStore`
 * port), kept in the developer state, and re-verified from those bytes with the pure core on every use, so
 * `aibox check`/`start` verify offline and a cache entry is never trusted just because it is there.
 */
import type { Channel } from '../channel/channel.js';
import { channelFromManifest, channelRepository } from '../channel/store.js';
import { CHANNEL_TAG } from '../channel/channel.js';
import { AiboxError } from '../core/errors.js';
import { sha256Digest } from '../oci/digest.js';
import { repositoryName, type Reference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import { decodeBase64Strict, encodeBase64 } from '../signing/encoding.js';
import { SIGNATURE_ANNOTATION } from '../signing/payload.js';
import { isSignatureLayer, verifyImageSignatures, type VerifyResult } from '../signing/verify.js';
import { parseSignatureManifest } from '../signing/sigmanifest.js';
import { readPayload, readSignatureManifest } from '../signing/store.js';
import type { TrustedKey } from '../signing/trust.js';
import type { CachedChannel, CachedSignatures } from './state.js';

/** Most payloads kept per digest (a `.sig` manifest has one layer per signing; more is hostile). */
export const MAX_CACHED_PAYLOADS = 16;

/** Fetch the `.sig` manifest of repo@digest and its simple-signing payloads (bounded), as cacheable bytes. */
export async function fetchSignatures(
  store: ImageStore,
  ref: Reference & { digest: string },
): Promise<CachedSignatures> {
  const repository = repositoryName(ref);
  const bytes = await readSignatureManifest(store, ref);
  const payloads: Record<string, string> = {};
  if (bytes === null) return { repository, digest: ref.digest, sigManifest: '', payloads };
  let layers: ReturnType<typeof parseSignatureManifest>['layers'];
  try {
    layers = parseSignatureManifest(bytes).layers;
  } catch {
    layers = []; // the pure core reports the bad manifest when it re-verifies these bytes
  }
  for (const layer of layers) {
    if (Object.keys(payloads).length >= MAX_CACHED_PAYLOADS) break;
    if (!isSignatureLayer(layer) || !layer.annotations[SIGNATURE_ANNOTATION]) continue;
    const p = await readPayload(store, ref, layer);
    if (p) payloads[layer.digest] = encodeBase64(p);
  }
  return { repository, digest: ref.digest, sigManifest: encodeBase64(bytes), payloads };
}

function b64(s: string, what: string): Uint8Array {
  const out = decodeBase64Strict(s);
  if (out === null) throw new AiboxError({ code: 'CACHE_INVALID', message: `${what} is not base64` });
  return out;
}

/** Verify cached signature material for `digest` (the digest actually about to be used) with the pure core. */
export function verifyCachedSignatures(
  sigs: CachedSignatures,
  digest: string,
  trustedKeys: readonly TrustedKey[],
  now: Date,
): VerifyResult {
  const payloads = new Map<string, Uint8Array>();
  for (const [d, p] of Object.entries(sigs.payloads)) payloads.set(d, b64(p, `cached payload ${d}`));
  return verifyImageSignatures({
    repository: sigs.repository,
    // The material is for sigs.digest; verifying it against another digest fails in the core, as it must.
    manifestDigest: digest,
    sigManifestBytes: sigs.sigManifest === '' ? null : b64(sigs.sigManifest, 'cached .sig manifest'),
    payloads,
    trustedKeys,
    now,
  });
}

export interface FetchedChannel {
  readonly cached: CachedChannel;
  readonly channel: Channel;
  /** False when the registry's `current` is the digest already cached (one request, nothing re-fetched). */
  readonly fresh: boolean;
}

/**
 * The registry's current channel: one manifest GET; when its digest is the cached one, nothing more is fetched (the
 * caller re-verifies the cached bytes); otherwise the document blob and its signature material.
 */
export async function fetchChannel(
  store: ImageStore,
  host: string,
  project: string,
  cached: CachedChannel | undefined,
  now: Date,
): Promise<FetchedChannel> {
  const repo = channelRepository(host, project);
  const ref = { ...repo, tag: CHANNEL_TAG };
  const got = await store.getManifest(ref).catch((e: unknown) => {
    if (e instanceof AiboxError && e.code === 'NOT_FOUND') {
      throw new AiboxError({
        code: 'NOT_FOUND',
        message: `no release channel at ${host}/${project}/channel:${CHANNEL_TAG}`,
        hint: 'check the registry and project in your aibox config (aibox setup --registry HOST/PROJECT); the platform publishes the channel with `aiboxctl promote`',
        cause: e,
      });
    }
    throw e;
  });
  const digest = sha256Digest(got.bytes);
  if (cached && cached.host === host && cached.project === project && cached.digest === digest) {
    return { cached, channel: (await openCachedChannel(cached)).channel, fresh: false };
  }
  const read = await channelFromManifest(store, repo, ref, got);
  const signatures = await fetchSignatures(store, { ...repo, digest });
  return {
    cached: {
      host,
      project,
      digest,
      manifest: encodeBase64(got.bytes),
      document: encodeBase64(read.bytes),
      signatures,
      fetchedAt: now.toISOString(),
    },
    channel: read.channel,
    fresh: true,
  };
}

/** Re-check a cached channel's digest chain (manifest → layer → document) and parse it; no I/O. */
export async function openCachedChannel(cc: CachedChannel): Promise<{ channel: Channel }> {
  const manifest = b64(cc.manifest, 'cached channel manifest');
  const doc = b64(cc.document, 'cached channel document');
  if (sha256Digest(manifest) !== cc.digest) {
    throw new AiboxError({
      code: 'CACHE_INVALID',
      message: `the cached channel manifest does not match its digest ${cc.digest}`,
    });
  }
  const repo = channelRepository(cc.host, cc.project);
  const blobs = {
    getBlob: (_r: Reference, d: string): Promise<Uint8Array> =>
      sha256Digest(doc) === d
        ? Promise.resolve(doc)
        : Promise.reject(
            new AiboxError({
              code: 'CACHE_INVALID',
              message: `the cached channel document does not match the manifest's layer ${d}`,
            }),
          ),
  };
  const descriptor = { mediaType: OCI_MANIFEST, digest: cc.digest, size: manifest.byteLength };
  const read = await channelFromManifest(
    blobs,
    repo,
    { ...repo, digest: cc.digest },
    { descriptor, bytes: manifest },
  );
  return { channel: read.channel };
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
