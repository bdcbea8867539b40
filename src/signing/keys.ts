/**
 * Key material for cosign-compatible signing: generate an ECDSA P-256 pair in cosign's file
 * formats, load encrypted private keys (both labels, all three scrypt strengths, PKCS#8 only) and
 * PKIX public keys, sign (DER) and verify. Pure: node:crypto only, no I/O.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { AiboxError } from '../core/errors.js';
import { decodePem } from './encoding.js';
import { decryptPrivateKeyPem, encryptPrivateKeyPem, type EncryptOptions } from './envelope.js';

export interface PublicKeyMaterial {
  readonly key: KeyObject;
  /** PKIX PEM exactly as cosign writes `cosign.pub`. */
  readonly pem: string;
  /** `sha256:<hex>` of the SubjectPublicKeyInfo DER. */
  readonly fingerprint: string;
  /** e.g. `ecdsa-p256`, `rsa-2048`, `ed25519`. */
  readonly algorithm: string;
}

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: PublicKeyMaterial;
}

export interface GeneratedKeyPair {
  /** Encrypted PEM for `cosign.key`. */
  readonly privateKeyPem: string;
  /** PKIX PEM for `cosign.pub`. */
  readonly publicKeyPem: string;
  readonly fingerprint: string;
}

const MAX_KEY_CHARS = 64 * 1024;

/** Describe a public KeyObject; only key types cosign can verify with are accepted. */
export function publicKeyMaterial(key: KeyObject, source = 'public key'): PublicKeyMaterial {
  const der = key.export({ type: 'spki', format: 'der' });
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  const fingerprint = `sha256:${createHash('sha256').update(der).digest('hex')}`;
  let algorithm: string;
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const names: Record<string, string> = {
        prime256v1: 'ecdsa-p256',
        secp384r1: 'ecdsa-p384',
        secp521r1: 'ecdsa-p521',
      };
      const name = curve ? names[curve] : undefined;
      if (!name)
        throw keyInvalid(
          source,
          `unsupported elliptic curve ${curve ?? 'unknown'} (P-256, P-384, P-521 only)`,
        );
      algorithm = name;
      break;
    }
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw keyInvalid(source, `RSA key of ${bits} bits is too small (2048 minimum)`);
      algorithm = `rsa-${bits}`;
      break;
    }
    case 'ed25519':
      algorithm = 'ed25519';
      break;
    default:
      throw keyInvalid(source, `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return { key, pem, fingerprint, algorithm };
}

function keyInvalid(source: string, rule: string, hint?: string): AiboxError {
  return new AiboxError({
    code: 'KEY_INVALID',
    message: `invalid key ${source}: ${rule}`,
    hint: hint ?? 'Use keys written by `cosign generate-key-pair` or `aiboxctl keys generate`',
  });
}

/** Load a PKIX (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM, as cosign's `--key` reads it. */
export function loadPublicKey(text: string, source: string): PublicKeyMaterial {
  if (text.length > MAX_KEY_CHARS) throw keyInvalid(source, 'file is too large to be a public key');
  const block = decodePem(text);
  if (!block) throw keyInvalid(source, 'no PEM block found', 'Pass the cosign.pub file (PEM "PUBLIC KEY")');
  let key: KeyObject;
  try {
    if (block.label === 'PUBLIC KEY')
      key = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'spki' });
    else if (block.label === 'RSA PUBLIC KEY')
      key = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs1' });
    else {
      throw keyInvalid(
        source,
        `PEM label "${block.label}" is not "PUBLIC KEY"`,
        block.label.includes('PRIVATE')
          ? 'This is a private key; pass the public key (cosign.pub), or derive it with `aiboxctl keys public --key cosign.key`'
          : undefined,
      );
    }
  } catch (e: unknown) {
    if (e instanceof AiboxError) throw e;
    throw keyInvalid(source, 'the PEM body is not a valid public key');
  }
  return publicKeyMaterial(key, source);
}

/**
 * Decrypt and load a cosign private key. The plaintext must be PKCS#8 (cosign and containers/image
 * reject SEC1 `EC PRIVATE KEY` inside the envelope, and so do we).
 */
export async function loadPrivateKey(text: string, password: string, source: string): Promise<SigningKey> {
  const { plaintext } = await decryptPrivateKeyPem(text, password, source);
  try {
    if (!looksLikePkcs8(plaintext)) {
      throw keyInvalid(
        source,
        'decrypted key is not PKCS#8 (SEC1 "EC PRIVATE KEY" and other encodings are refused, as cosign refuses them)',
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(plaintext), format: 'der', type: 'pkcs8' });
    } catch {
      throw keyInvalid(source, 'decrypted key is not a valid PKCS#8 private key');
    }
    return { privateKey, publicKey: publicKeyMaterial(createPublicKey(privateKey), source) };
  } finally {
    plaintext.fill(0);
  }
}

/** PKCS#8 is SEQUENCE { INTEGER 0|1, SEQUENCE { OID ... }, ... }; SEC1 has OCTET STRING second. */
function looksLikePkcs8(der: Uint8Array): boolean {
  let i = 0;
  if (der[i++] !== 0x30) return false;
  const len0 = der[i++] ?? 0;
  if (len0 & 0x80) i += len0 & 0x7f;
  if (der[i] !== 0x02 || der[i + 1] !== 0x01) return false;
  const version = der[i + 2];
  if (version !== 0 && version !== 1) return false;
  return der[i + 3] === 0x30;
}

/** A fresh ECDSA P-256 pair in cosign's formats (encrypted `cosign.key`, PKIX `cosign.pub`). */
export async function generateKeyPair(
  password: string,
  opts: EncryptOptions = {},
): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
  try {
    const privateKeyPem = await encryptPrivateKeyPem(pkcs8, password, opts);
    const pub = publicKeyMaterial(publicKey);
    return { privateKeyPem, publicKeyPem: pub.pem, fingerprint: pub.fingerprint };
  } finally {
    pkcs8.fill(0);
  }
}

/** Sign payload bytes as cosign does: SHA-256, DER-encoded ECDSA (PKCS#1 v1.5 for RSA). */
export function signBytes(key: SigningKey, payload: Uint8Array): Uint8Array {
  const alg = key.publicKey.algorithm === 'ed25519' ? null : 'sha256';
  return new Uint8Array(cryptoSign(alg, payload, { key: key.privateKey, dsaEncoding: 'der' }));
}

/**
 * Why a signature cannot be DER ECDSA, or null when it is well-formed DER
 * (SEQUENCE of two minimal positive INTEGERs). Lets us tell "raw r||s given" from "wrong key".
 */
export function ecdsaDerProblem(sig: Uint8Array): string | null {
  if (sig.byteLength < 8 || sig[0] !== 0x30) {
    return sig.byteLength === 64 || sig.byteLength === 96 || sig.byteLength === 132
      ? `signature is ${sig.byteLength} raw bytes (IEEE P1363 r||s), not ASN.1 DER as cosign writes`
      : 'signature is not an ASN.1 DER ECDSA signature';
  }
  let i = 1;
  let len = sig[i++] ?? 0;
  if (len === 0x81) len = sig[i++] ?? 0;
  else if (len & 0x80) return 'signature DER has an invalid length';
  if (i + len !== sig.byteLength) return 'signature DER length does not match its size (truncated or padded)';
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return 'signature DER does not hold two INTEGERs';
    const l = sig[i++] ?? 0;
    if (l === 0 || l > 67 || i + l > sig.byteLength) return 'signature DER INTEGER has an invalid length';
    const first = sig[i] ?? 0;
    if (first & 0x80) return 'signature DER INTEGER is negative';
    if (first === 0 && l > 1 && !((sig[i + 1] ?? 0) & 0x80))
      return 'signature DER INTEGER is not minimally encoded';
    i += l;
  }
  return i === sig.byteLength ? null : 'signature DER has trailing bytes';
}

/** Check a signature over payload bytes with one public key (DER only for ECDSA). */
export function verifyBytes(pub: PublicKeyMaterial, payload: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (pub.algorithm === 'ed25519') return cryptoVerify(null, payload, pub.key, sig);
    if (pub.algorithm.startsWith('ecdsa')) {
      if (ecdsaDerProblem(sig) !== null) return false;
      return cryptoVerify('sha256', payload, { key: pub.key, dsaEncoding: 'der' }, sig);
    }
    return cryptoVerify('sha256', payload, pub.key, sig);
  } catch {
    return false;
  }
}
