/**
 * Sigstore bundles (cosign v3's default image signature, attached as an OCI referrer): parsing
 * untrusted bundle JSON and the DSSE pre-authentication encoding. Key-based image signatures are a
 * DSSE envelope around an in-toto statement with predicate `https://sigstore.dev/cosign/sign/v1`
 * whose subject is the image manifest digest. Pure. cosign specs/BUNDLE_SPEC.md.
 */
import { decodeBase64Strict } from './encoding.js';
import { normaliseRepository } from './identity.js';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** A bundle holding one DSSE envelope is a few KiB; more than this is refused unread. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export type ParsedBundle =
  | {
      readonly kind: 'dsse';
      readonly payloadType: string;
      readonly payload: Uint8Array;
      readonly signatures: readonly Uint8Array[];
    }
  | { readonly kind: 'message-signature' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a bundle; returns a reason string instead of throwing, since bad bundles are just rejected. */
export function parseBundle(bytes: Uint8Array): ParsedBundle | string {
  if (bytes.byteLength > MAX_BUNDLE_BYTES) return `bundle larger than ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB`;
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'bundle is not UTF-8 JSON';
  }
  if (
    !isObject(doc) ||
    typeof doc.mediaType !== 'string' ||
    !doc.mediaType.startsWith('application/vnd.dev.sigstore.bundle')
  ) {
    return 'not a Sigstore bundle (mediaType)';
  }
  if (isObject(doc.messageSignature)) return { kind: 'message-signature' };
  const env = doc.dsseEnvelope;
  if (!isObject(env)) return 'bundle has neither dsseEnvelope nor messageSignature';
  if (
    typeof env.payloadType !== 'string' ||
    typeof env.payload !== 'string' ||
    !Array.isArray(env.signatures)
  ) {
    return 'DSSE envelope lacks payloadType, payload or signatures';
  }
  const payload = decodeBase64Strict(env.payload);
  if (!payload) return 'DSSE payload is not valid base64';
  const signatures: Uint8Array[] = [];
  for (const s of env.signatures.slice(0, 16)) {
    if (!isObject(s) || typeof s.sig !== 'string') return 'DSSE signature entry lacks "sig"';
    const sig = decodeBase64Strict(s.sig);
    if (!sig) return 'DSSE signature is not valid base64';
    signatures.push(sig);
  }
  if (signatures.length === 0) return 'DSSE envelope has no signatures';
  return { kind: 'dsse', payloadType: env.payloadType, payload, signatures };
}

/** DSSE v1 pre-authentication encoding: what a DSSE signature actually covers. */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = new TextEncoder().encode(payloadType);
  const head = new TextEncoder().encode(`DSSEv1 ${type.byteLength} `);
  const mid = new TextEncoder().encode(` ${payload.byteLength} `);
  const out = new Uint8Array(head.byteLength + type.byteLength + mid.byteLength + payload.byteLength);
  out.set(head, 0);
  out.set(type, head.byteLength);
  out.set(mid, head.byteLength + type.byteLength);
  out.set(payload, head.byteLength + type.byteLength + mid.byteLength);
  return out;
}

/**
 * Check an in-toto statement is a cosign image signature for this image in this repository, with
 * the required annotations; a reason, or null. The repository rule is the `.sig` rule: the signed
 * content must name the repository the image is verified in (`docker-reference` there, the
 * subject's `name` here, normalised the same way), so a bundle copied with its image to another
 * repository does not verify. cosign v3's `cosign sign` writes a subject with only a digest (and
 * `-a` annotations); such a bundle binds no repository and is rejected, as a `.sig` payload
 * without `docker-reference` is. `-a k=v` must equal the subject's annotation `k`, as it must
 * equal `optional.k` in a `.sig` payload.
 */
export function statementProblem(
  payload: Uint8Array,
  manifestDigest: string,
  repository: string,
  requiredAnnotations: Readonly<Record<string, string>> = {},
): string | null {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return 'in-toto statement is not UTF-8 JSON';
  }
  if (
    !isObject(doc) ||
    typeof doc._type !== 'string' ||
    !doc._type.startsWith('https://in-toto.io/Statement/')
  ) {
    return 'DSSE payload is not an in-toto statement';
  }
  if (doc.predicateType !== COSIGN_SIGN_PREDICATE) {
    return `statement predicate ${JSON.stringify(doc.predicateType)} is not an image signature (${COSIGN_SIGN_PREDICATE})`;
  }
  const hex = manifestDigest.replace(/^sha256:/, '');
  const subjects = (Array.isArray(doc.subject) ? doc.subject : []).filter(isObject);
  const digestOf = (s: Record<string, unknown>) => (isObject(s.digest) ? s.digest.sha256 : undefined);
  const matching = subjects.filter((s) => digestOf(s) === hex);
  if (matching.length === 0) {
    const first = subjects.map(digestOf).find((d) => typeof d === 'string');
    return `statement subject names ${first ? `sha256:${first}` : 'no sha256 digest'}, not the image ${manifestDigest}`;
  }
  const want = normaliseRepository(repository);
  const named = matching.filter((s) => typeof s.name === 'string' && s.name !== '');
  if (named.length === 0) {
    return (
      'statement subject names no repository, only the digest (a bundle copied to another repository ' +
      'would verify there too); sign with `aiboxctl sign` (the .sig format) or name the repository in the subject'
    );
  }
  const subject = named.find((s) => normaliseRepository(String(s.name)) === want);
  if (subject === undefined) {
    const got = normaliseRepository(String(named[0]?.name));
    return `statement names repository ${got}, not ${want} (signature belongs to another repository)`;
  }
  const annotations = isObject(subject.annotations) ? subject.annotations : {};
  for (const [k, v] of Object.entries(requiredAnnotations)) {
    const got = annotations[k];
    if (got !== v) {
      return `annotation ${k}=${JSON.stringify(v)} required, statement subject has ${got === undefined ? 'none' : JSON.stringify(got)}`;
    }
  }
  return null;
}
