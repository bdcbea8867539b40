/**
 * The pure verification core: given the bytes of an image's `.sig` manifest, its payload blobs,
 * any Sigstore bundles, and the trusted keys, decide whether the image is signed. No I/O, no
 * clock (takes `now`), synchronous — so `aibox start` can verify from a local cache in
 * microseconds. Semantics follow `cosign verify --key`: one good signature is enough, bad layers
 * are reported and skipped; additionally the payload must name this repository.
 */
import { AiboxError } from '../core/errors.js';
import {
  COSIGN_SIGN_PREDICATE,
  IN_TOTO_PAYLOAD_TYPE,
  dssePae,
  parseBundle,
  statementProblem,
} from './bundle.js';
import { decodeBase64Strict } from './encoding.js';
import { goString } from './gojson.js';
import { normaliseRepository } from './identity.js';
import { ecdsaDerProblem, verifyBytes } from './keys.js';
import {
  MAX_PAYLOAD_BYTES,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  cosignVerifyJson,
  parsePayload,
  payloadSigner,
  payloadTimestamp,
  type SimpleSigningPayload,
} from './payload.js';
import { parseSignatureManifest, sha256, type SigLayer } from './sigmanifest.js';
import { keyWindowProblem, type TrustedKey } from './trust.js';

export interface BundleBytes {
  /** Digest of the referrer manifest (for reporting). */
  readonly digest: string;
  readonly bytes: Uint8Array;
}

export interface VerifyInput {
  /** The repository the image was pulled from, e.g. `harbor.internal/aibox/base` (tag ignored). */
  readonly repository: string;
  /** Digest of the manifest that will be run. */
  readonly manifestDigest: string;
  /** The `sha256-<hex>.sig` manifest bytes, or null when that tag does not exist. */
  readonly sigManifestBytes: Uint8Array | null;
  /** Payload blobs by digest (the adapter fetched them; the core re-checks their digests). */
  readonly payloads: ReadonlyMap<string, Uint8Array>;
  /** Sigstore bundles attached as referrers (cosign v3), if any were found. */
  readonly bundles?: readonly BundleBytes[];
  readonly trustedKeys: readonly TrustedKey[];
  readonly now: Date;
  /** `-a k=v` on verify: each must equal the payload's `optional[k]` (cosign semantics). */
  readonly requiredAnnotations?: Readonly<Record<string, string>>;
}

export interface VerifiedSignature {
  readonly source: 'sig-layer' | 'bundle';
  /** Layer index in the `.sig` manifest, or bundle index. */
  readonly index: number;
  readonly keyName: string;
  readonly keyFingerprint: string;
  /** `optional.signer` when aibox signed, else the trusted key's name. */
  readonly signer: string;
  readonly signedAt: Date | null;
  /** The payload as `cosign verify` prints it (one JSON value). */
  readonly cosignJson: string;
  readonly payload: SimpleSigningPayload | null;
}

export interface Rejection {
  readonly source: 'sig-layer' | 'bundle';
  readonly index: number;
  readonly digest: string | null;
  readonly reason: string;
}

export type VerifyStatus = 'verified' | 'no-signatures' | 'no-matching-signature';

export interface VerifyResult {
  readonly ok: boolean;
  readonly status: VerifyStatus;
  /** Whether the `.sig` tag existed at all. */
  readonly signatureTagFound: boolean;
  readonly verified: readonly VerifiedSignature[];
  readonly rejected: readonly Rejection[];
}

function findKey(
  keys: readonly TrustedKey[],
  message: Uint8Array,
  sig: Uint8Array,
  now: Date,
): { key: TrustedKey } | { reason: string } {
  let windowReason: string | null = null;
  for (const k of keys) {
    if (!verifyBytes(k.publicKey, message, sig)) continue;
    const w = keyWindowProblem(k, now);
    if (w === null) return { key: k };
    windowReason ??= `signature made with ${w}`;
  }
  if (windowReason) return { reason: windowReason };
  const allEcdsa = keys.length > 0 && keys.every((k) => k.publicKey.algorithm.startsWith('ecdsa'));
  const der = allEcdsa ? ecdsaDerProblem(sig) : null;
  if (der) return { reason: der };
  const names = keys.map((k) => k.name).join(', ');
  return { reason: `signature does not verify with any trusted key (${names || 'none configured'})` };
}

/** What a signature is checked against: the image, its repository, the keys, the clock, `-a`. */
export interface VerifyContext {
  readonly repository: string;
  readonly manifestDigest: string;
  readonly trustedKeys: readonly TrustedKey[];
  readonly now: Date;
  readonly requiredAnnotations?: Readonly<Record<string, string>>;
}

/** The verdict on one candidate signature (a `.sig` layer or a bundle). */
export type Check =
  | { readonly ok: true; readonly signature: VerifiedSignature }
  | { readonly ok: false; readonly rejection: Rejection };

/** Whether a `.sig` layer is a signature candidate at all (attestations etc. share the tag family). */
export function isSignatureLayer(layer: SigLayer): boolean {
  return layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE;
}

/**
 * Check one simple-signing layer of a `.sig` manifest with its payload blob (undefined when it
 * could not be fetched). Lets the adapter fetch and check payloads one at a time, so memory stays
 * bounded by one payload however many layers a hostile `.sig` carries.
 */
export function checkSignatureLayer(
  ctx: VerifyContext,
  layer: SigLayer,
  payload: Uint8Array | undefined,
): Check {
  const reject = (reason: string): Check => ({
    ok: false,
    rejection: { source: 'sig-layer', index: layer.index, digest: layer.digest, reason },
  });
  const b64 = layer.annotations[SIGNATURE_ANNOTATION];
  if (b64 === undefined || b64 === '') return reject(`layer has no ${SIGNATURE_ANNOTATION} annotation`);
  const sig = decodeBase64Strict(b64);
  if (!sig) return reject('signature annotation is not valid base64 (truncated or garbled)');
  const tooLarge = `payload blob larger than the ${MAX_PAYLOAD_BYTES / 1024} KiB a signature payload may have`;
  if (layer.size > MAX_PAYLOAD_BYTES) return reject(tooLarge);
  if (!payload) return reject('payload blob was not available');
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return reject(tooLarge);
  if (payload.byteLength !== layer.size || sha256(payload) !== layer.digest) {
    return reject('payload blob does not match the layer digest/size');
  }
  const found = findKey(ctx.trustedKeys, payload, sig, ctx.now);
  if ('reason' in found) return reject(found.reason);
  let p: SimpleSigningPayload;
  try {
    p = parsePayload(payload);
  } catch (e: unknown) {
    return reject(e instanceof Error ? e.message : String(e));
  }
  if (p.manifestDigest !== ctx.manifestDigest) {
    return reject(
      `payload names image ${p.manifestDigest}, not ${ctx.manifestDigest} (signature belongs to another image)`,
    );
  }
  const wantRepo = normaliseRepository(ctx.repository);
  const gotRepo = normaliseRepository(p.dockerReference);
  if (gotRepo !== wantRepo) {
    return reject(
      `payload names repository ${gotRepo}, not ${wantRepo} (signature belongs to another repository)`,
    );
  }
  const annotationProblem = checkAnnotations(p, ctx.requiredAnnotations);
  if (annotationProblem) return reject(annotationProblem);
  return {
    ok: true,
    signature: {
      source: 'sig-layer',
      index: layer.index,
      keyName: found.key.name,
      keyFingerprint: found.key.publicKey.fingerprint,
      signer: payloadSigner(p) ?? found.key.name,
      signedAt: payloadTimestamp(p),
      cosignJson: cosignVerifyJson(p),
      payload: p,
    },
  };
}

/** The rejection recorded when the `.sig` manifest itself cannot be read. */
export function invalidSignatureManifest(e: unknown): Check {
  return {
    ok: false,
    rejection: {
      source: 'sig-layer',
      index: -1,
      digest: null,
      reason: e instanceof Error ? e.message : String(e),
    },
  };
}

function verifyLayers(input: VerifyInput, checks: Check[]): number {
  if (!input.sigManifestBytes) return 0;
  let sigManifest;
  try {
    sigManifest = parseSignatureManifest(input.sigManifestBytes);
  } catch (e: unknown) {
    checks.push(invalidSignatureManifest(e));
    return 0;
  }
  let candidates = 0;
  for (const layer of sigManifest.layers) {
    if (!isSignatureLayer(layer)) continue;
    candidates++;
    checks.push(checkSignatureLayer(input, layer, input.payloads.get(layer.digest)));
  }
  return candidates;
}

function checkAnnotations(
  p: SimpleSigningPayload,
  required: Readonly<Record<string, string>> | undefined,
): string | null {
  for (const [k, v] of Object.entries(required ?? {})) {
    const got = p.optional?.[k];
    if (got !== v)
      return `annotation ${k}=${JSON.stringify(v)} required, payload has ${got === undefined ? 'none' : JSON.stringify(got)}`;
  }
  return null;
}

/**
 * Check one Sigstore bundle: DSSE signature by a trusted key over an in-toto statement whose
 * subject is this digest, named as this repository, with the required annotations (the same
 * identity rules as a `.sig` payload; see `statementProblem`).
 */
export function checkBundle(ctx: VerifyContext, index: number, b: BundleBytes): Check {
  const reject = (reason: string): Check => ({
    ok: false,
    rejection: { source: 'bundle', index, digest: b.digest, reason },
  });
  const parsed = parseBundle(b.bytes);
  if (typeof parsed === 'string') return reject(parsed);
  if (parsed.kind === 'message-signature')
    return reject('bundle holds a message signature, not an image signature (DSSE)');
  if (parsed.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return reject(`DSSE payload type ${parsed.payloadType} is not ${IN_TOTO_PAYLOAD_TYPE}`);
  const pae = dssePae(parsed.payloadType, parsed.payload);
  let found: { key: TrustedKey } | { reason: string } = { reason: 'no signatures' };
  for (const sig of parsed.signatures) {
    found = findKey(ctx.trustedKeys, pae, sig, ctx.now);
    if ('key' in found) break;
  }
  if ('reason' in found) return reject(found.reason);
  const problem = statementProblem(
    parsed.payload,
    ctx.manifestDigest,
    ctx.repository,
    ctx.requiredAnnotations ?? {},
  );
  if (problem) return reject(problem);
  return {
    ok: true,
    signature: {
      source: 'bundle',
      index,
      keyName: found.key.name,
      keyFingerprint: found.key.publicKey.fingerprint,
      signer: found.key.name,
      signedAt: null,
      cosignJson:
        `{"critical":{"identity":{"docker-reference":${goString(ctx.repository)}},` +
        `"image":{"docker-manifest-digest":${goString(ctx.manifestDigest)}},"type":${goString(COSIGN_SIGN_PREDICATE)}},"optional":{}}`,
      payload: null,
    },
  };
}

/**
 * Combine the checks into a result: verified when at least one signature verified; no-signatures
 * when there was nothing to check at all; no-matching-signature otherwise.
 */
export function summarise(
  checks: readonly Check[],
  candidates: number,
  signatureTagFound: boolean,
): VerifyResult {
  const verified: VerifiedSignature[] = [];
  const rejected: Rejection[] = [];
  for (const c of checks) {
    if (c.ok) verified.push(c.signature);
    else rejected.push(c.rejection);
  }
  const status: VerifyStatus =
    verified.length > 0
      ? 'verified'
      : candidates === 0 && rejected.length === 0
        ? 'no-signatures'
        : 'no-matching-signature';
  return { ok: verified.length > 0, status, signatureTagFound, verified, rejected };
}

/** Verify an image's signatures from bytes: at least one must verify with a trusted key and name this image. */
export function verifyImageSignatures(input: VerifyInput): VerifyResult {
  const checks: Check[] = [];
  const layerCandidates = verifyLayers(input, checks);
  const bundles = input.bundles ?? [];
  bundles.forEach((b, index) => checks.push(checkBundle(input, index, b)));
  return summarise(checks, layerCandidates + bundles.length, input.sigManifestBytes !== null);
}

/** Turn a failed result into the error (and so the cosign exit code: 10 or 12) the CLI reports. */
export function verificationError(result: VerifyResult, image: string): AiboxError {
  if (result.status === 'no-signatures') {
    return new AiboxError({
      code: 'NO_SIGNATURES',
      message: `no signatures found for ${image}${result.signatureTagFound ? ' (the .sig tag is empty)' : ''}`,
      hint: 'Sign it with `aiboxctl sign --key cosign.key IMAGE`, or check that you verify the right image',
      details: { rejected: result.rejected },
    });
  }
  const reasons = result.rejected.map(
    (r) => `${r.source === 'bundle' ? 'bundle' : 'layer'} ${r.index}: ${r.reason}`,
  );
  return new AiboxError({
    code: 'NO_MATCHING_SIGNATURE',
    message: `no matching signatures for ${image}: ${reasons.join('; ')}`,
    hint: 'Check that you pass the right public key (--key cosign.pub) and that the image was signed after it was pushed',
    details: { rejected: result.rejected },
  });
}
