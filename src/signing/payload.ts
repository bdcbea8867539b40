/**
 * cosign's "simple signing" payload for container images: building the exact bytes cosign signs
 * and parsing payloads written by cosign, skopeo (containers/image) and aibox. Pure.
 * Spec: sigstore/cosign specs/SIGNATURE_SPEC.md; reference/signing.md (a).
 */
import { AiboxError } from '../core/errors.js';
import { goMarshalSorted, goString, type JsonValue } from './gojson.js';

/** `critical.type` of every cosign/skopeo image signature payload. */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** Media type of a `.sig` layer holding one payload. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** Layer annotation holding the base64 signature. */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Key in `optional` where aibox records who signed (cosign ignores it, c/image allows it). */
export const SIGNER_KEY = 'signer';
/** Key in `optional` for the signing time, integer unix seconds (as containers/image writes it). */
export const TIMESTAMP_KEY = 'timestamp';
/**
 * Largest simple-signing payload read. A real one is a few hundred bytes (annotations included);
 * containers/image allows 4 MiB, but a verify must not download megabytes per layer of a hostile
 * `.sig`, so aibox reads at most 256 KiB.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export interface SimpleSigningPayload {
  /** `critical.identity.docker-reference` as written (cosign: repository; skopeo: repo:tag). */
  readonly dockerReference: string;
  /** `critical.image.docker-manifest-digest`. */
  readonly manifestDigest: string;
  readonly type: string;
  /** `optional` as written (null when absent or null). */
  readonly optional: { readonly [k: string]: JsonValue } | null;
}

export interface BuildPayloadInput {
  /** Bare repository, `host[:port]/path` (cosign's identity: no tag, no digest). */
  readonly repository: string;
  readonly manifestDigest: string;
  /** `-a key=value` annotations: string values. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Signer identity recorded as `optional.signer`. */
  readonly signer?: string;
  /** Signing time; recorded as integer unix seconds in `optional.timestamp`. */
  readonly timestamp?: Date;
}

const RESERVED = new Set([SIGNER_KEY, TIMESTAMP_KEY, 'creator']);

/**
 * The exact payload bytes to sign: cosign's field order, `optional` keys sorted as Go marshals a
 * map, integer `timestamp` (containers/image rejects a string one), `"optional":null` when empty.
 */
export function buildPayload(input: BuildPayloadInput): Uint8Array {
  const optional: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(input.annotations ?? {})) {
    if (RESERVED.has(k)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `annotation "${k}" is reserved: aibox writes "${SIGNER_KEY}" and "${TIMESTAMP_KEY}" itself, and containers/image gives "creator" a meaning`,
        hint: 'Choose another annotation key',
      });
    }
    if (typeof v !== 'string') internalAnnotation(k);
    optional[k] = v;
  }
  if (input.signer !== undefined) optional[SIGNER_KEY] = input.signer;
  if (input.timestamp !== undefined) optional[TIMESTAMP_KEY] = Math.floor(input.timestamp.getTime() / 1000);
  const opt = Object.keys(optional).length === 0 ? 'null' : goMarshalSorted(optional);
  const text =
    `{"critical":{"identity":{"docker-reference":${goString(input.repository)}},` +
    `"image":{"docker-manifest-digest":${goString(input.manifestDigest)}},` +
    `"type":${goString(SIMPLE_SIGNING_TYPE)}},"optional":${opt}}`;
  return new TextEncoder().encode(text);
}

function internalAnnotation(k: string): never {
  throw new AiboxError({ code: 'USAGE', message: `annotation "${k}" must have a string value` });
}

function invalid(rule: string): never {
  throw new AiboxError({
    code: 'MANIFEST_INVALID',
    message: `invalid signature payload: ${rule}`,
    hint: 'The signature layer does not hold a cosign simple-signing payload; re-sign the image',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse untrusted payload bytes (after the signature over them has been checked). Enforces the
 * fields both cosign and containers/image rely on, and containers/image's `optional` typing.
 */
export function parsePayload(bytes: Uint8Array): SimpleSigningPayload {
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) invalid(`larger than ${MAX_PAYLOAD_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    invalid('not UTF-8 JSON');
  }
  if (!isObject(doc)) invalid('top level is not a JSON object');
  const critical = doc.critical;
  if (!isObject(critical)) invalid('"critical" must be an object');
  const identity = critical.identity;
  if (!isObject(identity) || typeof identity['docker-reference'] !== 'string') {
    invalid('"critical.identity.docker-reference" must be a string');
  }
  const image = critical.image;
  if (!isObject(image) || typeof image['docker-manifest-digest'] !== 'string') {
    invalid('"critical.image.docker-manifest-digest" must be a string');
  }
  if (critical.type !== SIMPLE_SIGNING_TYPE) invalid(`"critical.type" must be "${SIMPLE_SIGNING_TYPE}"`);
  const optional = doc.optional;
  if (optional !== undefined && optional !== null && !isObject(optional))
    invalid('"optional" must be an object or null');
  if (isObject(optional)) {
    const ts = optional[TIMESTAMP_KEY];
    if (ts !== undefined && !(typeof ts === 'number' && Number.isSafeInteger(ts))) {
      invalid('"optional.timestamp" must be an integer');
    }
    if (optional.creator !== undefined && typeof optional.creator !== 'string')
      invalid('"optional.creator" must be a string');
  }
  return {
    dockerReference: identity['docker-reference'],
    manifestDigest: image['docker-manifest-digest'],
    type: critical.type,
    optional: isObject(optional) ? (optional as { [k: string]: JsonValue }) : null,
  };
}

/** The payload as `cosign verify` prints it: re-marshalled in cosign's shape (one JSON value). */
export function cosignVerifyJson(p: SimpleSigningPayload): string {
  return (
    `{"critical":{"identity":{"docker-reference":${goString(p.dockerReference)}},` +
    `"image":{"docker-manifest-digest":${goString(p.manifestDigest)}},"type":${goString(p.type)}},` +
    `"optional":${p.optional === null ? 'null' : goMarshalSorted(p.optional)}}`
  );
}

/** Who signed, per the payload (`optional.signer`), when aibox wrote it. */
export function payloadSigner(p: SimpleSigningPayload): string | null {
  const s = p.optional?.[SIGNER_KEY];
  return typeof s === 'string' && s.length > 0 ? s : null;
}

/** When it was signed, per the payload (`optional.timestamp`, unix seconds); null if absent. */
export function payloadTimestamp(p: SimpleSigningPayload): Date | null {
  const t = p.optional?.[TIMESTAMP_KEY];
  return typeof t === 'number' && Number.isSafeInteger(t) ? new Date(t * 1000) : null;
}

/** Parse `-a key=value` flags the way cosign does (split on the first `=`; values are strings). */
export function parseAnnotationFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of flags) {
    for (const a of raw.split(',')) {
      const eq = a.indexOf('=');
      if (eq <= 0) {
        throw new AiboxError({
          code: 'USAGE',
          message: `invalid annotation "${a}": expected key=value`,
          hint: 'Pass annotations as -a key=value (repeat -a for several)',
        });
      }
      out[a.slice(0, eq)] = a.slice(eq + 1);
    }
  }
  return out;
}
