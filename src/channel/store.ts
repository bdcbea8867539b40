/**
 * Channel adapter: publishes and reads the channel document as an OCI artifact
 * (image-spec v1.1 "artifacts" guidance: artifactType + empty config + one layer holding the JSON) at
 * `<project>/channel:current`. https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md#guidelines-for-artifact-usage
 */
import { LABELS } from '../core/labels.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import { sha256Digest } from '../oci/digest.js';
import { MediaTypes, parseManifest, type Descriptor, type ImageManifest } from '../oci/manifest.js';
import { formatReference, type Reference } from '../oci/reference.js';
import {
  CHANNEL_ARTIFACT_TYPE,
  CHANNEL_REPOSITORY,
  CHANNEL_TAG,
  MAX_CHANNEL_BYTES,
  MAX_CHANNEL_SEQUENCE,
  parseChannel,
  serializeChannel,
  type Channel,
} from './channel.js';

/** The registry operations the channel needs (RegistryClient satisfies it; tests may pass a fake). */
export interface ChannelRegistry {
  pushBlob(ref: Reference, bytes: Uint8Array, opts?: { mediaType?: string }): Promise<Descriptor>;
  putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  getManifest(ref: Reference): Promise<{ descriptor: Descriptor; bytes: Uint8Array }>;
  getBlob(ref: Reference, digest: string, opts?: { maxBytes?: number }): Promise<Uint8Array>;
}

/** Signs a manifest digest in the channel repository (cosign format; provided by the signing module). */
export type SignChannel = (ref: Reference & { digest: string }) => Promise<void>;

/** The OCI empty descriptor's content `{}` (image-spec manifest.md "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG_BYTES: Uint8Array = new TextEncoder().encode('{}');
export const EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** Where the channel lives for a registry host and project: `<host>/<project>/channel`. */
export function channelRepository(registry: string, project: string): Reference {
  return { registry, repository: `${project}/${CHANNEL_REPOSITORY}` };
}

/** The artifact manifest for channel bytes (pure; exported for tests and for `--dry-run` output). */
export function channelManifest(channel: Channel, layer: Descriptor): Uint8Array {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    artifactType: CHANNEL_ARTIFACT_TYPE,
    config: {
      mediaType: MediaTypes.OCI_EMPTY,
      digest: EMPTY_CONFIG_DIGEST,
      size: EMPTY_CONFIG_BYTES.byteLength,
    },
    layers: [{ ...layer, annotations: { 'org.opencontainers.image.title': 'channel.json' } }],
    annotations: {
      'org.opencontainers.image.created': channel.issuedAt,
      [LABELS.channelSequence]: String(channel.sequence),
      [LABELS.channelExpires]: channel.expiresAt,
    },
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

export interface PublishChannelOptions {
  /** Called with the manifest digest before `current` moves, so clients never see an unsigned channel. */
  readonly sign: SignChannel;
  /**
   * The digest `current` must still point at when it moves (null: it must be absent). A promotion passes the digest of
   * the verified channel it built on, a repair the digest it showed the operator; anything else there means another
   * publisher (or an attacker) moved it meanwhile, and nothing is moved.
   */
  readonly expectCurrent: string | null;
}

export interface PublishedChannel {
  readonly digest: string;
  readonly reference: Reference & { digest: string };
  readonly bytes: Uint8Array;
}

/** The history tag of a sequence: every published channel manifest is also tagged `seq-<N>` (never moved). */
export function historyTag(sequence: number): string {
  return `${HISTORY_TAG_PREFIX}${sequence}`;
}
export const HISTORY_TAG_PREFIX = 'seq-';
const HISTORY_TAG_RE = /^seq-([1-9][0-9]{0,9})$/;

/** Sequence numbers that have a history tag in the channel repository, highest first. */
export async function listHistory(
  client: Pick<ChannelRegistryWithTags, 'listTags'>,
  repoRef: Reference,
): Promise<number[]> {
  const repo: Reference = { registry: repoRef.registry, repository: repoRef.repository };
  const tags = await client.listTags(repo).catch((e: unknown) => {
    if (isAiboxError(e, 'NOT_FOUND')) return [] as string[];
    throw e;
  });
  return tags
    .map((t) => HISTORY_TAG_RE.exec(t))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((n) => Number.isSafeInteger(n) && n <= MAX_CHANNEL_SEQUENCE)
    .sort((a, b) => b - a);
}

/** A ChannelRegistry that can also resolve tags and list them (the publisher's needs; ImageStore satisfies it). */
export interface ChannelRegistryWithTags extends ChannelRegistry {
  headManifest(ref: Reference): Promise<Descriptor | null>;
  listTags(ref: Reference): Promise<string[]>;
}

function refusedPublish(message: string, hint: string, details: Record<string, unknown>): AiboxError {
  return new AiboxError({ code: 'POLICY_REFUSED', message, hint, details });
}

/**
 * Push the channel, sign it, move `current` to it (only from `expectCurrent`), then tag it `seq-<N>` in the history.
 * Refuses before pushing anything when sequence N is already in the history (a concurrent or stale promotion), and
 * before moving anything when `current` is no longer what the caller built on. A crash after `current` moved and
 * before the history tag leaves a newer `current` than the history, which the next promotion accepts.
 */
export async function publishChannel(
  client: ChannelRegistryWithTags,
  repoRef: Reference,
  channel: Channel,
  opts: PublishChannelOptions,
): Promise<PublishedChannel> {
  const repo: Reference = { registry: repoRef.registry, repository: repoRef.repository };
  const hist = { ...repo, tag: historyTag(channel.sequence) };
  const taken = await client.headManifest(hist);
  if (taken) {
    throw refusedPublish(
      `refusing to publish channel sequence ${channel.sequence} to ${formatReference(repo)}: sequence ${channel.sequence} was already published (${formatReference(hist)} = ${taken.digest})`,
      'another promotion published first; re-run `aiboxctl promote` so it builds on the current channel',
      { sequence: channel.sequence, existing: taken.digest },
    );
  }
  const bytes = serializeChannel(channel);
  // Validate what we are about to publish exactly as clients will read it.
  parseChannel(bytes, 'to publish');
  await client.pushBlob(repo, EMPTY_CONFIG_BYTES, { mediaType: MediaTypes.OCI_EMPTY });
  const layer = await client.pushBlob(repo, bytes, { mediaType: CHANNEL_ARTIFACT_TYPE });
  const manifest = channelManifest(channel, {
    mediaType: CHANNEL_ARTIFACT_TYPE,
    digest: layer.digest,
    size: layer.size,
  });
  const digest = sha256Digest(manifest);
  await client.putManifest({ ...repo, digest }, manifest, MediaTypes.OCI_MANIFEST);
  const reference = { ...repo, digest };
  await opts.sign(reference);
  const now = (await client.headManifest({ ...repo, tag: CHANNEL_TAG }))?.digest ?? null;
  if (now !== opts.expectCurrent) {
    throw refusedPublish(
      `refusing to move ${formatReference({ ...repo, tag: CHANNEL_TAG })}: it points at ${now ?? 'nothing'}, not at ${opts.expectCurrent ?? 'nothing'} as when this publication started`,
      'another publisher moved the channel meanwhile; re-run the command so it builds on (and verifies) the new one',
      { expected: opts.expectCurrent, found: now },
    );
  }
  await client.putManifest({ ...repo, tag: CHANNEL_TAG }, manifest, MediaTypes.OCI_MANIFEST);
  await client.putManifest(hist, manifest, MediaTypes.OCI_MANIFEST);
  return { digest, reference, bytes };
}

export interface ReadChannel {
  readonly channel: Channel;
  /** Digest of the artifact manifest (what the signature covers). */
  readonly digest: string;
  /** The channel JSON exactly as stored. */
  readonly bytes: Uint8Array;
}

function notChannel(ref: Reference, rule: string): AiboxError {
  return new AiboxError({
    code: 'CHANNEL_INVALID',
    message: `${formatReference(ref)} is not an aibox channel artifact: ${rule}`,
    hint: 'only `aiboxctl promote` should write this repository; republish the channel with it',
  });
}

/**
 * Read the channel at `current` (or at `digest`, to read exactly what a signature was verified for, or at a history
 * `tag`). The manifest
 * and the JSON blob are both digest-verified by the client; the artifact shape is checked before the JSON is read.
 */
export async function readChannel(
  client: ChannelRegistry,
  repoRef: Reference,
  opts: { readonly digest?: string; readonly tag?: string } = {},
): Promise<ReadChannel> {
  const repo: Reference = { registry: repoRef.registry, repository: repoRef.repository };
  const ref: Reference =
    opts.digest !== undefined ? { ...repo, digest: opts.digest } : { ...repo, tag: opts.tag ?? CHANNEL_TAG };
  const got = await client.getManifest(ref).catch((e: unknown) => {
    if (isAiboxError(e, 'NOT_FOUND')) {
      throw new AiboxError({
        code: 'NOT_FOUND',
        message: `no release channel at ${formatReference(ref)}`,
        hint: 'the channel is published by `aiboxctl promote`; run a promotion first (or check the registry project)',
        cause: e,
      });
    }
    throw e;
  });
  const digest = sha256Digest(got.bytes);
  if (opts.digest !== undefined && digest !== opts.digest) {
    throw new AiboxError({
      code: 'DIGEST_MISMATCH',
      message: `channel manifest digest ${digest} != requested ${opts.digest}`,
    });
  }
  return channelFromManifest(client, repo, ref, got);
}

/**
 * The channel document a fetched channel manifest names (shape checked, then the JSON blob, digest-verified), so a
 * reader that already holds the manifest (`aibox update` compares its digest with the cached one) fetches only the blob.
 */
export async function channelFromManifest(
  client: Pick<ChannelRegistry, 'getBlob'>,
  repoRef: Reference,
  ref: Reference,
  got: { descriptor: Descriptor; bytes: Uint8Array },
): Promise<ReadChannel> {
  const repo: Reference = { registry: repoRef.registry, repository: repoRef.repository };
  const digest = sha256Digest(got.bytes);
  const parsed = parseManifest(got.bytes, got.descriptor.mediaType);
  if (parsed.kind !== 'manifest') throw notChannel(ref, 'it is an index, not a manifest');
  const m = parsed.manifest;
  if (m.artifactType !== CHANNEL_ARTIFACT_TYPE) {
    throw notChannel(
      ref,
      `artifactType is ${JSON.stringify(m.artifactType ?? null)}, want ${CHANNEL_ARTIFACT_TYPE}`,
    );
  }
  const layer = m.layers[0];
  if (m.layers.length !== 1 || layer === undefined)
    throw notChannel(ref, `want exactly one layer, got ${m.layers.length}`);
  if (layer.mediaType !== CHANNEL_ARTIFACT_TYPE)
    throw notChannel(ref, `layer mediaType is ${layer.mediaType}`);
  if (layer.size > MAX_CHANNEL_BYTES)
    throw notChannel(ref, `layer is ${layer.size} bytes, over ${MAX_CHANNEL_BYTES}`);
  const bytes = await client.getBlob(repo, layer.digest, { maxBytes: MAX_CHANNEL_BYTES });
  if (bytes.byteLength !== layer.size)
    throw notChannel(ref, `layer size ${bytes.byteLength} != declared ${layer.size}`);
  const channel = parseChannel(bytes, `${formatReference(repo)}@${digest}`);
  return { channel, digest, bytes };
}

/** Like readChannel, but null when the repository has no channel yet (first promotion). */
export async function readChannelIfPresent(
  client: ChannelRegistry,
  repoRef: Reference,
): Promise<ReadChannel | null> {
  try {
    return await readChannel(client, repoRef);
  } catch (e: unknown) {
    if (isAiboxError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}
