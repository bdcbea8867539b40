/**
 * The classic cosign `.sig` object: an OCI image manifest tagged `sha256-<hex>.sig` in the image's
 * repository, one `simplesigning` layer per signature. Parsing (untrusted bytes) and appending a
 * layer without dropping existing ones. Pure. reference/signing.md (b).
 */
import { createHash } from 'node:crypto';
import { AiboxError } from '../core/errors.js';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
/**
 * More layers than this in one `.sig` manifest is treated as hostile (a layer is one signer key
 * and annotation set; re-signing with the same key appends nothing).
 */
export const MAX_SIG_LAYERS = 128;
const MAX_SIG_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface SigLayer {
  /** Position in the manifest's `layers`, from 0. */
  readonly index: number;
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface SignatureManifest {
  readonly layers: readonly SigLayer[];
  /** The layer descriptors exactly as found (unknown fields kept when appending). */
  readonly rawLayers: readonly Record<string, unknown>[];
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** `sha256:abc…` → `sha256-abc….sig`: where cosign stores an image's signatures. */
export function signatureTag(manifestDigest: string): string {
  if (!DIGEST_RE.test(manifestDigest)) {
    throw new AiboxError({
      code: 'INVALID_DIGEST',
      message: `invalid digest "${manifestDigest}": expected sha256:<64 hex>`,
    });
  }
  return `${manifestDigest.replace(':', '-')}.sig`;
}

/** sha256 digest string of bytes. */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function invalid(rule: string): never {
  throw new AiboxError({
    code: 'MANIFEST_INVALID',
    message: `invalid signature manifest: ${rule}`,
    hint: 'The .sig tag does not hold a cosign signature manifest; re-sign the image or delete the tag',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse untrusted `.sig` manifest bytes; non-signature layers are kept but marked by media type. */
export function parseSignatureManifest(bytes: Uint8Array): SignatureManifest {
  if (bytes.byteLength > MAX_SIG_MANIFEST_BYTES) invalid('larger than 4 MiB');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    invalid('not UTF-8 JSON');
  }
  if (!isObject(doc) || doc.schemaVersion !== 2) invalid('not a schemaVersion 2 manifest');
  if (doc.mediaType !== undefined && doc.mediaType !== OCI_MANIFEST_MEDIA_TYPE) {
    invalid(`media type ${JSON.stringify(doc.mediaType)} is not ${OCI_MANIFEST_MEDIA_TYPE}`);
  }
  const layers = doc.layers ?? [];
  if (!Array.isArray(layers)) invalid('"layers" is not an array');
  if (layers.length > MAX_SIG_LAYERS)
    invalid(`${layers.length} layers, more than the ${MAX_SIG_LAYERS} allowed`);
  const out: SigLayer[] = [];
  const raw: Record<string, unknown>[] = [];
  layers.forEach((l: unknown, index: number) => {
    if (!isObject(l)) invalid(`layer ${index} is not an object`);
    const { mediaType, digest, size } = l;
    if (
      typeof mediaType !== 'string' ||
      typeof digest !== 'string' ||
      typeof size !== 'number' ||
      !Number.isSafeInteger(size) ||
      size < 0
    ) {
      invalid(`layer ${index} lacks mediaType, digest or size`);
    }
    const annotations: Record<string, string> = {};
    if (isObject(l.annotations)) {
      for (const [k, v] of Object.entries(l.annotations)) if (typeof v === 'string') annotations[k] = v;
    }
    out.push({ index, mediaType, digest, size, annotations });
    raw.push(l);
  });
  return { layers: out, rawLayers: raw };
}

export interface NewSignatureLayer {
  readonly payload: Uint8Array;
  readonly signatureB64: string;
  /** Extra layer annotations (e.g. `dev.sigstore.cosign/bundle`); the signature one is always set. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface AppendResult {
  readonly manifest: Uint8Array;
  readonly config: Uint8Array;
  readonly configDigest: string;
  readonly payloadDigest: string;
}

/**
 * The `.sig` manifest with one more signature layer, plus its rewritten config, as cosign writes
 * them (ggcr `empty.Image` + `mutate.Append`). Existing layers, signatures or not, are kept as is.
 */
export function appendSignatureLayer(existing: Uint8Array | null, layer: NewSignatureLayer): AppendResult {
  const prior = existing ? parseSignatureManifest(existing).rawLayers : [];
  if (prior.length >= MAX_SIG_LAYERS) invalid(`already has ${MAX_SIG_LAYERS} layers; cannot append`);
  const payloadDigest = sha256(layer.payload);
  const descriptor = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    size: layer.payload.byteLength,
    digest: payloadDigest,
    annotations: { ...(layer.annotations ?? {}), [SIGNATURE_ANNOTATION]: layer.signatureB64 },
  };
  const layers = [...prior, descriptor];
  const diffIds = layers.map((l) => String(l.digest));
  const epoch = '0001-01-01T00:00:00Z';
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: '',
      created: epoch,
      history: diffIds.map(() => ({ created: epoch })),
      os: '',
      rootfs: { type: 'layers', diff_ids: diffIds },
      config: {},
    }),
  );
  const configDigest = sha256(config);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: OCI_CONFIG_MEDIA_TYPE, size: config.byteLength, digest: configDigest },
      layers,
    }),
  );
  return { manifest, config, configDigest, payloadDigest };
}
