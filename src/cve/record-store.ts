/**
 * The CVE records in the registry (issue 9 §2): an OCI artifact (artifactType
 * `application/vnd.aibox.cve-records.v1+json`, empty config, one JSON layer) at `<project>/cve-records:current`,
 * beside the channel, SIGNED with the pipeline key (cosign `.sig`, like the channel) and verified against the
 * pipeline trust set on every read: an unsigned or foreign document is refused, never trusted, and never
 * overwritten. Workflow on the `ImageStore` port; constructs no adapter.
 */
import { AiboxError, isAiboxError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { EMPTY_CONFIG_BYTES, EMPTY_CONFIG_DIGEST } from '../channel/store.js';
import { sha256Digest } from '../oci/digest.js';
import { MediaTypes, parseManifest, type ImageManifest } from '../oci/manifest.js';
import { formatReference, type Reference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import type { SigningKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import { signImage, verifyImage } from '../signing/workflows.js';
import {
  CVE_RECORDS_ARTIFACT_TYPE,
  CVE_RECORDS_REPOSITORY,
  CVE_RECORDS_TAG,
  MAX_CVE_RECORDS_BYTES,
  invalidRecords,
  parseCveRecords,
  serializeCveRecords,
  type CveRecords,
} from './records.js';

export interface CveRecordDeps {
  readonly store: ImageStore;
  /** Registry host[:port] and project: the records live at `<host>/<project>/cve-records`. */
  readonly host: string;
  readonly project: string;
  /** The pipeline trust set (configured trusted keys plus the signing key's public key). */
  readonly trust: readonly TrustedKey[];
  /** The pipeline signing key; needed to write (reads need only `trust`). */
  readonly key?: SigningKey | Promise<SigningKey>;
  readonly signer?: string;
  readonly now: () => Date;
  readonly logger?: Logger;
}

/** How often `updateCveRecords` re-reads and retries when another writer moved `current` meanwhile. */
export const MAX_UPDATE_ATTEMPTS = 3;

/** `<host>/<project>/cve-records`. */
export function cveRecordsRepository(host: string, project: string): Reference {
  return { registry: host, repository: `${project}/${CVE_RECORDS_REPOSITORY}` };
}

function currentRef(d: Pick<CveRecordDeps, 'host' | 'project'>): Reference {
  return { ...cveRecordsRepository(d.host, d.project), tag: CVE_RECORDS_TAG };
}

/** The artifact manifest for records bytes (pure). */
export function cveRecordsManifest(doc: CveRecords, layer: { digest: string; size: number }): Uint8Array {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    artifactType: CVE_RECORDS_ARTIFACT_TYPE,
    config: {
      mediaType: MediaTypes.OCI_EMPTY,
      digest: EMPTY_CONFIG_DIGEST,
      size: EMPTY_CONFIG_BYTES.byteLength,
    },
    layers: [
      {
        mediaType: CVE_RECORDS_ARTIFACT_TYPE,
        digest: layer.digest,
        size: layer.size,
        annotations: { 'org.opencontainers.image.title': 'cve-records.json' },
      },
    ],
    annotations: { 'org.opencontainers.image.created': doc.updatedAt },
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/** Read and verify the records at `digest`: signature by a trusted key first, then shape, size and schema. */
async function readAt(d: CveRecordDeps, digest: string): Promise<CveRecords> {
  const repo = cveRecordsRepository(d.host, d.project);
  const where = `${formatReference(repo)}@${digest}`;
  const ver = await verifyImage({
    client: d.store,
    ref: { ...repo, digest },
    trustedKeys: d.trust,
    now: d.now(),
  });
  if (!ver.ok) {
    const why = ver.rejected.map((r) => r.reason).join('; ');
    throw new AiboxError({
      code: 'CVE_RECORDS_INVALID',
      message: `refusing the CVE records at ${where}: no valid signature from a trusted key${why ? ` (${why})` : ' (unsigned)'}`,
      hint: `nothing was read or changed. Check who wrote ${formatReference(repo)}; only the pipeline key (signing.key, trusted by signing.trustedKeys) may sign it`,
      details: { digest },
    });
  }
  const got = await d.store.getManifest({ ...repo, digest });
  if (sha256Digest(got.bytes) !== digest)
    throw invalidRecords(where, 'manifest bytes do not match the signed digest');
  const parsed = parseManifest(got.bytes, got.descriptor.mediaType);
  if (parsed.kind !== 'manifest') throw invalidRecords(where, 'it is an index, not a manifest');
  const m = parsed.manifest;
  if (m.artifactType !== CVE_RECORDS_ARTIFACT_TYPE)
    throw invalidRecords(
      where,
      `artifactType is ${JSON.stringify(m.artifactType ?? null)}, want ${CVE_RECORDS_ARTIFACT_TYPE}`,
    );
  const layer = m.layers[0];
  if (m.layers.length !== 1 || layer === undefined)
    throw invalidRecords(where, `want exactly one layer, got ${m.layers.length}`);
  if (layer.mediaType !== CVE_RECORDS_ARTIFACT_TYPE)
    throw invalidRecords(where, `layer mediaType is ${layer.mediaType}`);
  if (layer.size > MAX_CVE_RECORDS_BYTES)
    throw invalidRecords(where, `layer is ${layer.size} bytes, over ${MAX_CVE_RECORDS_BYTES}`);
  const bytes = await d.store.getBlob(repo, layer.digest, { maxBytes: MAX_CVE_RECORDS_BYTES });
  if (bytes.byteLength !== layer.size)
    throw invalidRecords(where, `layer size ${bytes.byteLength} != declared ${layer.size}`);
  return parseCveRecords(bytes, where);
}

async function currentDigest(d: CveRecordDeps): Promise<string | null> {
  try {
    return (await d.store.headManifest(currentRef(d)))?.digest ?? null;
  } catch (e: unknown) {
    if (isAiboxError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

/** The verified records at `cve-records:current`, or null when none were ever written. */
export async function readCveRecords(deps: CveRecordDeps): Promise<CveRecords | null> {
  const digest = await currentDigest(deps);
  return digest === null ? null : readAt(deps, digest);
}

/** Push, sign, then move `current` (only from `expectCurrent` when given). Returns the manifest digest. */
async function writeAt(
  d: CveRecordDeps,
  next: CveRecords,
  expectCurrent: string | null | undefined,
): Promise<string> {
  if (d.key === undefined) {
    throw new AiboxError({
      code: 'KEY_INVALID',
      message: 'cannot write the CVE records: no signing key',
      hint: 'set signing.key in the aibox config or pass --key',
    });
  }
  const repo = cveRecordsRepository(d.host, d.project);
  const bytes = serializeCveRecords(next);
  parseCveRecords(bytes, 'to write'); // what readers will see must validate
  await d.store.pushBlob(repo, EMPTY_CONFIG_BYTES, { mediaType: MediaTypes.OCI_EMPTY });
  const layer = await d.store.pushBlob(repo, bytes, { mediaType: CVE_RECORDS_ARTIFACT_TYPE });
  const manifest = cveRecordsManifest(next, layer);
  const digest = sha256Digest(manifest);
  await d.store.putManifest({ ...repo, digest }, manifest, MediaTypes.OCI_MANIFEST);
  await signImage({
    client: d.store,
    ref: { ...repo, digest },
    key: d.key,
    signer: d.signer ?? 'aibox',
    now: d.now(),
    ...(d.logger ? { logger: d.logger } : {}),
  });
  if (expectCurrent !== undefined) {
    const found = await currentDigest(d);
    if (found !== expectCurrent) throw new MovedError(found);
  }
  await d.store.putManifest(currentRef(d), manifest, MediaTypes.OCI_MANIFEST);
  return digest;
}

class MovedError extends Error {
  constructor(readonly found: string | null) {
    super('cve-records:current moved');
  }
}

/** Write `next` as the new `cve-records:current` (signed before the tag moves); returns the manifest digest. */
export async function writeCveRecords(deps: CveRecordDeps, next: CveRecords): Promise<string> {
  return writeAt(deps, next, undefined);
}

/**
 * Read (verified) → f → write, moving `current` only if nobody moved it meanwhile; re-reads and retries up to
 * MAX_UPDATE_ATTEMPTS times. An untrusted `current` is refused (thrown), never overwritten.
 */
export async function updateCveRecords(
  deps: CveRecordDeps,
  f: (prev: CveRecords | null) => CveRecords,
): Promise<CveRecords> {
  let found: string | null = null;
  for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
    const digest = await currentDigest(deps);
    const prev = digest === null ? null : await readAt(deps, digest);
    const next = f(prev);
    try {
      await writeAt(deps, next, digest);
      return next;
    } catch (e: unknown) {
      if (!(e instanceof MovedError)) throw e;
      found = e.found;
      deps.logger?.info(`cve-records:current moved while updating (now ${found ?? 'absent'}); re-reading`);
    }
  }
  throw new AiboxError({
    code: 'LOCKED',
    message: `could not update ${formatReference(currentRef(deps))}: another writer moved it ${MAX_UPDATE_ATTEMPTS} times (now ${found ?? 'absent'})`,
    hint: 'another triage or emergency rebuild is writing the records; re-run when it has finished',
  });
}
