/**
 * `verify-blob`: a base64 DER signature over a file, as `cosign verify-blob --key` checks it.
 * `verifyBlobSignature` is the pure rule (bytes, signature text, key → result or a coded error);
 * `verifyBlobFile` is the edge that reads the signature (a file, else the flag's text) and the file.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { decodeBase64Strict } from './encoding.js';
import { ecdsaDerProblem, verifyBytes, type PublicKeyMaterial } from './keys.js';

export interface BlobVerified {
  readonly verified: true;
  readonly file: string;
  /** Fingerprint of the key that verified it. */
  readonly key: string;
}

const MAX_SIGNATURE_FILE = 64 * 1024;

/** Check a base64 signature over `data` with `key`; throws NO_MATCHING_SIGNATURE saying why not. */
export function verifyBlobSignature(i: {
  readonly data: Uint8Array;
  readonly signatureText: string;
  readonly key: PublicKeyMaterial;
  /** How to name the file, the signature and the key in messages. */
  readonly file: string;
  readonly signatureName: string;
  readonly keyName: string;
}): BlobVerified {
  const sig = decodeBase64Strict(i.signatureText.trim());
  if (!sig)
    throw new AiboxError({
      code: 'NO_MATCHING_SIGNATURE',
      message: `signature ${i.signatureName} is not valid base64 (truncated or garbled)`,
    });
  if (!verifyBytes(i.key, i.data, sig)) {
    const der = i.key.algorithm.startsWith('ecdsa') ? ecdsaDerProblem(sig) : null;
    throw new AiboxError({
      code: 'NO_MATCHING_SIGNATURE',
      message: `invalid signature for ${i.file}: ${der ?? `does not verify with key ${i.keyName}`}`,
    });
  }
  return { verified: true, file: i.file, key: i.key.fingerprint };
}

async function readOrNull(path: string, max: number): Promise<string | null> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return null;
    if (st.size > max)
      throw new AiboxError({
        code: 'NO_MATCHING_SIGNATURE',
        message: `signature file ${path} is too large (${st.size} bytes) to be a signature`,
      });
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    if (e instanceof AiboxError) throw e;
    return null;
  }
}

/** Read the signature (file, else the text itself) and the file, then verify (relative to `cwd`). */
export async function verifyBlobFile(i: {
  readonly file: string;
  readonly signature: string;
  readonly key: PublicKeyMaterial;
  readonly keyName: string;
  readonly cwd: string;
}): Promise<BlobVerified> {
  const signatureText = (await readOrNull(resolve(i.cwd, i.signature), MAX_SIGNATURE_FILE)) ?? i.signature;
  let data: Uint8Array;
  try {
    data = await readFile(resolve(i.cwd, i.file));
  } catch (e: unknown) {
    throw new AiboxError({
      code: 'IO_FAILED',
      message: `cannot read ${i.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      hint: 'Pass the path of the signed file',
      cause: e,
    });
  }
  return verifyBlobSignature({
    data,
    signatureText,
    key: i.key,
    file: i.file,
    signatureName: i.signature,
    keyName: i.keyName,
  });
}
