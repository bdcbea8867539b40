/**
 * cosign's encrypted private-key envelope: PEM around a JSON document
 * `{"kdf":{scrypt N,r,p,salt},"cipher":{nacl/secretbox,nonce},"ciphertext"}`
 * (go-securesystemslib `encrypted`). Pure: CPU only (scrypt, XSalsa20-Poly1305), no I/O.
 * reference/signing.md (d).
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { AiboxError } from '../core/errors.js';
import { decodeBase64Strict, decodePem, encodeBase64, encodePem } from './encoding.js';

/** The label cosign < 2.0.1 and every containers/image version read. */
export const COSIGN_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
/** The label cosign >= 2.0.1 writes. */
export const SIGSTORE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const KEY_LABELS: readonly string[] = [COSIGN_KEY_LABEL, SIGSTORE_KEY_LABEL];

/** The only scrypt parameter sets go-securesystemslib accepts (Legacy, Standard, OWASP). */
export const SCRYPT_N_ALLOWED: readonly number[] = [32768, 65536, 131072];
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const MAX_ENVELOPE_CHARS = 64 * 1024;
const MAX_CIPHERTEXT = 16 * 1024;

export interface EncryptOptions {
  /** PEM label; default `ENCRYPTED COSIGN PRIVATE KEY` (readable by every cosign and c/image). */
  readonly label?: string;
  /** scrypt N; default 32768 (the only value older consumers read). */
  readonly n?: number;
}

function scrypt(password: string, salt: Uint8Array, n: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scryptCb(
      Buffer.from(password, 'utf8'),
      salt,
      32,
      { N: n, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * n * SCRYPT_R },
      (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
    );
  });
}

function keyError(source: string, rule: string, hint?: string): AiboxError {
  return new AiboxError({
    code: 'KEY_INVALID',
    message: `invalid private key ${source}: ${rule}`,
    hint: hint ?? 'Use a key written by `cosign generate-key-pair` or `aiboxctl keys generate`',
  });
}

/** Encrypt secret bytes into cosign's JSON envelope (the bytes inside the PEM). */
export async function encryptEnvelope(
  plaintext: Uint8Array,
  password: string,
  n = 32768,
): Promise<Uint8Array> {
  if (!SCRYPT_N_ALLOWED.includes(n))
    throw new RangeError(`scrypt N must be one of ${SCRYPT_N_ALLOWED.join(', ')}`);
  const salt = new Uint8Array(randomBytes(32));
  const nonce = new Uint8Array(randomBytes(24));
  const key = await scrypt(password, salt, n);
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(plaintext);
  key.fill(0);
  // Field order as go-securesystemslib's structs marshal.
  const json =
    `{"kdf":{"name":"scrypt","params":{"N":${n},"r":${SCRYPT_R},"p":${SCRYPT_P}},"salt":"${encodeBase64(salt)}"},` +
    `"cipher":{"name":"nacl/secretbox","nonce":"${encodeBase64(nonce)}"},` +
    `"ciphertext":"${encodeBase64(ciphertext)}"}`;
  return new TextEncoder().encode(json);
}

/** PKCS#8 DER → the encrypted PEM text cosign writes to `cosign.key`. */
export async function encryptPrivateKeyPem(
  pkcs8Der: Uint8Array,
  password: string,
  opts: EncryptOptions = {},
): Promise<string> {
  const label = opts.label ?? COSIGN_KEY_LABEL;
  if (!KEY_LABELS.includes(label)) throw new RangeError(`unsupported PEM label ${label}`);
  return encodePem(label, await encryptEnvelope(pkcs8Der, password, opts.n ?? 32768));
}

interface ParsedEnvelope {
  readonly n: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validate an envelope's structure and KDF parameters — before any scrypt runs, so a hostile file
 * cannot make us burn memory or CPU.
 */
export function parseEnvelope(bytes: Uint8Array, source: string): ParsedEnvelope {
  if (bytes.byteLength > MAX_ENVELOPE_CHARS) throw keyError(source, 'encrypted envelope is too large');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw keyError(source, 'the PEM body is not a JSON key envelope');
  }
  if (!isObject(doc) || !isObject(doc.kdf) || !isObject(doc.cipher)) {
    throw keyError(source, 'key envelope must have "kdf" and "cipher" objects');
  }
  const { kdf, cipher } = doc;
  if (kdf.name !== 'scrypt')
    throw keyError(source, `unsupported KDF ${JSON.stringify(kdf.name)} (only scrypt)`);
  const params = kdf.params;
  if (!isObject(params)) throw keyError(source, 'scrypt parameters missing');
  const { N: n, r, p } = params;
  if (typeof n !== 'number' || !SCRYPT_N_ALLOWED.includes(n) || r !== SCRYPT_R || p !== SCRYPT_P) {
    throw keyError(
      source,
      `unsupported scrypt parameters N=${String(n)}, r=${String(r)}, p=${String(p)} (allowed: N in {${SCRYPT_N_ALLOWED.join(', ')}}, r=8, p=1)`,
    );
  }
  if (cipher.name !== 'nacl/secretbox')
    throw keyError(source, `unsupported cipher ${JSON.stringify(cipher.name)} (only nacl/secretbox)`);
  const salt = typeof kdf.salt === 'string' ? decodeBase64Strict(kdf.salt) : null;
  if (!salt || salt.byteLength < 8 || salt.byteLength > 1024)
    throw keyError(source, 'scrypt salt must be base64 of 8..1024 bytes');
  const nonce = typeof cipher.nonce === 'string' ? decodeBase64Strict(cipher.nonce) : null;
  if (!nonce || nonce.byteLength !== 24) throw keyError(source, 'secretbox nonce must be base64 of 24 bytes');
  const ciphertext = typeof doc.ciphertext === 'string' ? decodeBase64Strict(doc.ciphertext) : null;
  if (!ciphertext || ciphertext.byteLength <= 16 || ciphertext.byteLength > MAX_CIPHERTEXT) {
    throw keyError(source, 'ciphertext must be base64 of 17..16384 bytes');
  }
  return { n, salt, nonce, ciphertext };
}

/** Decrypt a bare JSON envelope; a wrong password is KEY_PASSWORD (secretbox authentication fails). */
export async function decryptEnvelope(
  bytes: Uint8Array,
  password: string,
  source: string,
): Promise<Uint8Array> {
  const env = parseEnvelope(bytes, source);
  const key = await scrypt(password, env.salt, env.n);
  try {
    return xsalsa20poly1305(key, env.nonce).decrypt(env.ciphertext);
  } catch {
    throw new AiboxError({
      code: 'KEY_PASSWORD',
      message: `cannot decrypt private key ${source}: wrong password (authentication of the encrypted key failed)`,
      hint: 'Set COSIGN_PASSWORD to the password the key was generated with (an empty value is a valid password)',
    });
  } finally {
    key.fill(0);
  }
}

/** Decrypt an encrypted cosign/sigstore PEM to its plaintext (PKCS#8 DER for a valid key). */
export async function decryptPrivateKeyPem(
  text: string,
  password: string,
  source: string,
): Promise<{ label: string; plaintext: Uint8Array; n: number }> {
  if (text.length > MAX_ENVELOPE_CHARS) throw keyError(source, 'file is too large to be a key');
  const block = decodePem(text);
  if (!block) throw keyError(source, 'no PEM block found');
  if (!KEY_LABELS.includes(block.label)) {
    const hint =
      block.label === 'EC PRIVATE KEY' || block.label === 'PRIVATE KEY'
        ? 'This is an unencrypted key; import it with `cosign import-key-pair --key FILE` to get an encrypted cosign.key'
        : undefined;
    throw keyError(
      source,
      `PEM label "${block.label}" is not ${KEY_LABELS.map((l) => `"${l}"`).join(' or ')}`,
      hint,
    );
  }
  const env = parseEnvelope(block.der, source);
  const plaintext = await decryptEnvelope(block.der, password, source);
  return { label: block.label, plaintext, n: env.n };
}
