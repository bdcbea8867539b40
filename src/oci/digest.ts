/**
 * Content digests (OCI image-spec descriptor.md#digests). Pure: hashing only, no I/O.
 * https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests
 */
import { createHash, type Hash } from 'node:crypto';
import { AiboxError } from '../core/errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

function invalid(input: string, rule: string): AiboxError {
  return new AiboxError({
    code: 'INVALID_DIGEST',
    message: `invalid digest ${JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input)}: ${rule}`,
    hint: 'a digest looks like sha256:<64 lowercase hex characters>',
  });
}

/** Validate "algorithm:hex" so only well-formed, supported digests reach URLs and comparisons. */
export function parseDigest(s: string): { algorithm: DigestAlgorithm; hex: string } {
  const colon = s.indexOf(':');
  if (colon < 0) throw invalid(s, 'missing "algorithm:" prefix');
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw invalid(s, `unsupported algorithm "${algorithm.slice(0, 40)}" (supported: sha256, sha512)`);
  }
  const want = HEX_LENGTH[algorithm];
  if (hex.length !== want) throw invalid(s, `${algorithm} needs ${want} hex characters, got ${hex.length}`);
  if (!/^[0-9a-f]+$/.test(hex)) throw invalid(s, 'encoded part must be lowercase hex [0-9a-f]');
  return { algorithm, hex };
}

/** The sha256 digest string of some bytes, as registries and descriptors spell it. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Refuse bytes that do not hash to the digest we asked for (content addressability). */
export function verifyDigest(bytes: Uint8Array, digest: string): void {
  const { algorithm } = parseDigest(digest);
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== digest) throw mismatch(digest, actual);
}

/** The DIGEST_MISMATCH error, shared by buffered and streaming verification. */
export function mismatch(expected: string, actual: string, what = 'content'): AiboxError {
  return new AiboxError({
    code: 'DIGEST_MISMATCH',
    message: `${what} digest mismatch: expected ${expected}, got ${actual}`,
    hint: 'the registry (or something between us and it) returned corrupted or substituted content; retry, and report it if it persists',
    details: { expected, actual },
  });
}

/** Incremental hasher for streamed blobs: feed chunks, then compare once at the end. */
export interface Digester {
  update(chunk: Uint8Array): void;
  readonly bytes: number;
  /** "algorithm:hex" of everything fed so far (call once). */
  digest(): string;
}

/** Start an incremental hash matching the algorithm of `expected` (sha256 when omitted). */
export function createDigester(expected?: string): Digester {
  const algorithm: DigestAlgorithm = expected === undefined ? 'sha256' : parseDigest(expected).algorithm;
  const hash: Hash = createHash(algorithm);
  let bytes = 0;
  return {
    update(chunk) {
      bytes += chunk.byteLength;
      hash.update(chunk);
    },
    get bytes() {
      return bytes;
    },
    digest: () => `${algorithm}:${hash.digest('hex')}`,
  };
}
