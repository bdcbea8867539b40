import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import { encodePem } from '../encoding.js';
import {
  SIGSTORE_KEY_LABEL,
  decryptEnvelope,
  decryptPrivateKeyPem,
  encryptEnvelope,
  encryptPrivateKeyPem,
  parseEnvelope,
} from '../envelope.js';
import { generateKeyPair, loadPrivateKey, loadPublicKey, signBytes, verifyBytes } from '../keys.js';
import { generateKeyPairSync } from 'node:crypto';

const enc = (s: string) => new TextEncoder().encode(s);

describe('key envelope', () => {
  it.each([32768, 65536, 131072])('round-trips with scrypt N=%i', async (n) => {
    const env = await encryptEnvelope(enc('reallyimportant'), 'supersecret', n);
    expect(JSON.parse(new TextDecoder().decode(env)).kdf.params).toEqual({ N: n, r: 8, p: 1 });
    expect(new TextDecoder().decode(await decryptEnvelope(env, 'supersecret', 'test'))).toBe(
      'reallyimportant',
    );
  });

  it('writes go-securesystemslib field order', async () => {
    const env = new TextDecoder().decode(await encryptEnvelope(enc('x'), '', 32768));
    expect(env).toMatch(
      /^\{"kdf":\{"name":"scrypt","params":\{"N":32768,"r":8,"p":1\},"salt":"[^"]{44}"\},"cipher":\{"name":"nacl\/secretbox","nonce":"[^"]{32}"\},"ciphertext":"[^"]+"\}$/,
    );
  });

  it('reports a wrong password as KEY_PASSWORD without echoing it', async () => {
    const pem = await encryptPrivateKeyPem(enc('secret-key-bytes'), 'right-horse-battery');
    const err = await decryptPrivateKeyPem(pem, 'wrong-horse-battery', 'cosign.key').catch((e: unknown) => e);
    expect(isAiboxError(err, 'KEY_PASSWORD')).toBe(true);
    const all = `${(err as Error).message} ${(err as { hint?: string }).hint}`;
    expect(all).toMatch(/wrong password/);
    expect(all).not.toContain('wrong-horse-battery');
    expect(all).not.toContain('right-horse-battery');
  });

  describe('when KDF parameters are absurd', () => {
    it.each([
      [{ N: 99, r: 99, p: 99 }],
      [{ N: 1 << 30, r: 8, p: 1 }],
      [{ N: 32768, r: 16, p: 1 }],
      [{ N: 32768, r: 8, p: 2 }],
      [{ N: '32768', r: 8, p: 1 }],
    ])('refuses %j before running scrypt', (params) => {
      const doc = {
        kdf: { name: 'scrypt', params, salt: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
        cipher: { name: 'nacl/secretbox', nonce: 'A'.repeat(32) },
        ciphertext: 'A'.repeat(64),
      };
      expect(() => parseEnvelope(enc(JSON.stringify(doc)), 'k')).toThrow(/unsupported scrypt parameters/);
    });
  });

  it('parseEnvelope throws only KEY_INVALID on arbitrary input (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.json().map(enc),
          fc.anything().map((v) => enc(JSON.stringify({ kdf: v, cipher: v, ciphertext: v }))),
        ),
        (b) => {
          try {
            parseEnvelope(b, 'k');
          } catch (e) {
            expect(isAiboxError(e, 'KEY_INVALID')).toBe(true);
          }
        },
      ),
    );
  });
});

describe('keys', () => {
  it('generates a cosign-format pair that loads, signs DER and verifies', async () => {
    const g = await generateKeyPair('pw');
    expect(g.privateKeyPem.startsWith('-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n')).toBe(true);
    expect(g.publicKeyPem.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
    const k = await loadPrivateKey(g.privateKeyPem, 'pw', 'cosign.key');
    expect(k.publicKey.pem).toBe(g.publicKeyPem);
    const msg = enc('hello');
    const sig = signBytes(k, msg);
    expect(sig[0]).toBe(0x30);
    const pub = loadPublicKey(g.publicKeyPem, 'cosign.pub');
    expect(pub.algorithm).toBe('ecdsa-p256');
    expect(verifyBytes(pub, msg, sig)).toBe(true);
    expect(verifyBytes(pub, enc('hellO'), sig)).toBe(false);
  });

  it('reads the SIGSTORE label at N=65536', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = await encryptPrivateKeyPem(
      new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
      '',
      { label: SIGSTORE_KEY_LABEL, n: 65536 },
    );
    const k = await loadPrivateKey(pem, '', 'sigstore.key');
    expect(k.publicKey.algorithm).toBe('ecdsa-p256');
  });

  it('rejects a SEC1 plaintext like cosign does', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sec1 = new Uint8Array(privateKey.export({ type: 'sec1', format: 'der' }));
    const pem = await encryptPrivateKeyPem(sec1, 'hello');
    await expect(loadPrivateKey(pem, 'hello', 'sec1.key')).rejects.toThrow(/not PKCS#8/);
  });

  it('rejects plaintext PEM private keys with a hint', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const err = await loadPrivateKey(pem, '', 'plain.key').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/PEM label "PRIVATE KEY"/);
    expect((err as { hint: string }).hint).toMatch(/import-key-pair/);
  });

  it('rejects a private key passed as public key', () => {
    expect(() => loadPublicKey(encodePem('ENCRYPTED COSIGN PRIVATE KEY', enc('x')), 'k')).toThrow(
      /not "PUBLIC KEY"/,
    );
  });
});
