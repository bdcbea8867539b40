import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';

// Count the ECDSA verifications the pure core does (the real function runs).
const verifyCalls = vi.hoisted(() => ({ fn: undefined as unknown as ReturnType<typeof vi.fn> }));
vi.mock('../keys.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../keys.js')>();
  verifyCalls.fn = vi.fn(actual.verifyBytes);
  return { ...actual, verifyBytes: verifyCalls.fn };
});
import { dssePae } from '../bundle.js';
import { encodeBase64 } from '../encoding.js';
import { normaliseRepository } from '../identity.js';
import { publicKeyMaterial, signBytes, type SigningKey } from '../keys.js';
import { signatureFailedMessage, signatureValidLine } from '../messages.js';
import { buildPayload } from '../payload.js';
import { appendSignatureLayer, parseSignatureManifest, sha256, signatureTag } from '../sigmanifest.js';
import type { TrustedKey } from '../trust.js';
import { verificationError, verifyImageSignatures, type VerifyInput } from '../verify.js';

function newKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: publicKeyMaterial(publicKey) };
}
const trusted = (k: SigningKey, name: string, extra: Partial<TrustedKey> = {}): TrustedKey => ({
  name,
  publicKey: k.publicKey,
  notBefore: null,
  notAfter: null,
  createdAt: null,
  ...extra,
});

const REPO = '127.0.0.1:5000/aibox/base';
const DIGEST = `sha256:${'1'.repeat(64)}`;
const OTHER = `sha256:${'2'.repeat(64)}`;
const NOW = new Date('2026-02-22T00:00:00Z');

interface Signed {
  manifest: Uint8Array;
  payloads: Map<string, Uint8Array>;
}

function sign(
  k: SigningKey,
  opts: {
    repo?: string;
    digest?: string;
    prior?: Signed;
    mutatePayload?: (p: Uint8Array) => Uint8Array;
    sigB64?: (s: Uint8Array) => string;
  } = {},
): Signed {
  let payload = buildPayload({
    repository: opts.repo ?? REPO,
    manifestDigest: opts.digest ?? DIGEST,
    signer: 'platform-ci@aibox.internal',
    timestamp: new Date('2026-02-21T09:00:00Z'),
  });
  const sig = signBytes(k, payload);
  if (opts.mutatePayload) payload = opts.mutatePayload(payload);
  const r = appendSignatureLayer(opts.prior?.manifest ?? null, {
    payload,
    signatureB64: (opts.sigB64 ?? encodeBase64)(sig),
  });
  const payloads = new Map(opts.prior?.payloads ?? []);
  payloads.set(r.payloadDigest, payload);
  return { manifest: r.manifest, payloads };
}

const input = (s: Signed | null, keys: TrustedKey[], extra: Partial<VerifyInput> = {}): VerifyInput => ({
  repository: REPO,
  manifestDigest: DIGEST,
  sigManifestBytes: s?.manifest ?? null,
  payloads: s?.payloads ?? new Map(),
  trustedKeys: keys,
  now: NOW,
  ...extra,
});

let a: SigningKey;
let b: SigningKey;
beforeAll(() => {
  a = newKey();
  b = newKey();
});

/** A cosign v3 style DSSE bundle by key `a` for `digest`; `subject` adds name/annotations. */
function bundle(digest: string, subject: Record<string, unknown> = { name: REPO }) {
  const stmt = new TextEncoder().encode(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ ...subject, digest: { sha256: digest.slice(7) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  );
  const sig = signBytes(a, dssePae('application/vnd.in-toto+json', stmt));
  return new TextEncoder().encode(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: 'x' } },
      dsseEnvelope: {
        payload: encodeBase64(stmt),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: encodeBase64(sig), keyid: '' }],
      },
    }),
  );
}

describe('verifyImageSignatures', () => {
  it('verifies a signature and reports signer, date and cosign JSON', () => {
    const r = verifyImageSignatures(input(sign(a), [trusted(a, 'ci-2026')]));
    expect(r.ok).toBe(true);
    expect(r.verified[0]?.signer).toBe('platform-ci@aibox.internal');
    expect(r.verified[0]?.keyName).toBe('ci-2026');
    expect(signatureValidLine(r.verified[0]!)).toBe(
      'Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)',
    );
    expect(JSON.parse(r.verified[0]!.cosignJson).critical.image['docker-manifest-digest']).toBe(DIGEST);
  });

  it('accepts either key during rotation and skips layers of unknown keys', () => {
    const s = sign(b, { prior: sign(a) });
    expect(parseSignatureManifest(s.manifest).layers).toHaveLength(2);
    const r = verifyImageSignatures(input(s, [trusted(b, 'new')]));
    expect(r.ok).toBe(true);
    expect(r.verified.map((v) => v.keyName)).toEqual(['new']);
    expect(r.rejected[0]?.reason).toMatch(/does not verify with any trusted key \(new\)/);
    expect(verifyImageSignatures(input(s, [trusted(a, 'old'), trusted(b, 'new')])).verified).toHaveLength(2);
  });

  it('honours validity windows at verification time', () => {
    const r = verifyImageSignatures(
      input(sign(a), [trusted(a, 'old', { notAfter: new Date('2026-01-01T00:00:00Z') })]),
    );
    expect(r.status).toBe('no-matching-signature');
    expect(r.rejected[0]?.reason).toMatch(/key "old" was retired at 2026-01-01/);
  });

  describe('when there is nothing to verify', () => {
    it('reports no-signatures for a missing tag (exit 10)', () => {
      const r = verifyImageSignatures(input(null, [trusted(a, 'k')]));
      expect(r.status).toBe('no-signatures');
      expect(r.signatureTagFound).toBe(false);
      expect(verificationError(r, 'img').code).toBe('NO_SIGNATURES');
    });
    it('reports no-signatures for an empty .sig manifest', () => {
      const empty = new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {},
          layers: [],
        }),
      );
      const r = verifyImageSignatures(input({ manifest: empty, payloads: new Map() }, [trusted(a, 'k')]));
      expect(r.status).toBe('no-signatures');
      expect(verificationError(r, 'img').message).toMatch(/\.sig tag is empty/);
    });
  });

  describe('attack cases', () => {
    const cases: [string, () => VerifyInput, RegExp][] = [
      ['wrong key', () => input(sign(a), [trusted(b, 'b')]), /does not verify with any trusted key/],
      [
        'payload byte changed',
        () =>
          input(
            sign(a, {
              mutatePayload: (p) => {
                const c = p.slice();
                c[20] = (c[20] ?? 0) ^ 1;
                return c;
              },
            }),
            [trusted(a, 'a')],
          ),
        /does not verify/,
      ],
      [
        'signature byte changed',
        () =>
          input(
            sign(a, {
              sigB64: (s) => {
                const c = s.slice();
                c[c.length - 3] = (c[c.length - 3] ?? 0) ^ 1;
                return encodeBase64(c);
              },
            }),
            [trusted(a, 'a')],
          ),
        /does not verify/,
      ],
      [
        'payload names another digest',
        () => input(sign(a, { digest: OTHER }), [trusted(a, 'a')]),
        /payload names image sha256:2+, not sha256:1+/,
      ],
      [
        'payload names another repository',
        () => input(sign(a, { repo: '127.0.0.1:5000/aibox/evil' }), [trusted(a, 'a')]),
        /payload names repository 127.0.0.1:5000\/aibox\/evil/,
      ],
      [
        'truncated base64',
        () => input(sign(a, { sigB64: (s) => encodeBase64(s).slice(0, -5) }), [trusted(a, 'a')]),
        /not valid base64/,
      ],
      [
        'garbled base64',
        () =>
          input(sign(a, { sigB64: (s) => `${encodeBase64(s).slice(0, 10)}!!${encodeBase64(s).slice(12)}` }), [
            trusted(a, 'a'),
          ]),
        /not valid base64/,
      ],
      [
        'raw r||s instead of DER',
        () => input(sign(a, { sigB64: () => '' }), [trusted(a, 'a')]),
        /no dev.cosignproject.cosign\/signature annotation/,
      ],
      [
        'payload blob missing',
        () => {
          const s = sign(a);
          return input({ manifest: s.manifest, payloads: new Map() }, [trusted(a, 'a')]);
        },
        /not available/,
      ],
      [
        'blob swapped for other bytes',
        () => {
          const s = sign(a);
          const d = [...s.payloads.keys()][0]!;
          return input({ manifest: s.manifest, payloads: new Map([[d, new TextEncoder().encode('{}')]]) }, [
            trusted(a, 'a'),
          ]);
        },
        /does not match the layer digest/,
      ],
      [
        'garbage manifest',
        () => input({ manifest: new TextEncoder().encode('nope'), payloads: new Map() }, [trusted(a, 'a')]),
        /invalid signature manifest/,
      ],
    ];
    it.each(cases)('rejects: %s', (_, make, reason) => {
      const r = verifyImageSignatures(make());
      expect(r.ok).toBe(false);
      expect(r.status).toBe('no-matching-signature');
      expect(r.rejected.map((x) => x.reason).join('\n')).toMatch(reason);
      expect(verificationError(r, 'img').code).toBe('NO_MATCHING_SIGNATURE');
    });

    it('names DER/P1363 confusion', () => {
      const payload = buildPayload({ repository: REPO, manifestDigest: DIGEST });
      const raw = cryptoSign('sha256', payload, { key: a.privateKey, dsaEncoding: 'ieee-p1363' });
      const m = appendSignatureLayer(null, { payload, signatureB64: encodeBase64(raw) });
      const r = verifyImageSignatures(
        input({ manifest: m.manifest, payloads: new Map([[m.payloadDigest, payload]]) }, [trusted(a, 'a')]),
      );
      expect(r.rejected[0]?.reason).toMatch(/64 raw bytes \(IEEE P1363 r\|\|s\), not ASN.1 DER/);
    });

    it('requires -a annotations when asked', () => {
      const r = verifyImageSignatures(
        input(sign(a), [trusted(a, 'a')], { requiredAnnotations: { env: 'prod' } }),
      );
      expect(r.rejected[0]?.reason).toMatch(/annotation env="prod" required/);
    });
  });

  it('accepts skopeo-style repo:tag identities and Docker Hub spellings', () => {
    expect(normaliseRepository('127.0.0.1:5000/aibox/base:v1')).toBe(REPO);
    expect(normaliseRepository('index.docker.io/busybox@sha256:abc')).toBe('docker.io/library/busybox');
    expect(normaliseRepository('busybox:1')).toBe('docker.io/library/busybox');
    expect(
      verifyImageSignatures(input(sign(a, { repo: `${REPO}:24.04-20260221` }), [trusted(a, 'a')])).ok,
    ).toBe(true);
  });

  it('verifies cosign v3 DSSE bundles and rejects ones for other digests', () => {
    const ok = verifyImageSignatures(
      input(null, [trusted(a, 'a')], { bundles: [{ digest: 'sha256:x', bytes: bundle(DIGEST) }] }),
    );
    expect(ok.ok).toBe(true);
    expect(JSON.parse(ok.verified[0]!.cosignJson).critical.type).toBe('https://sigstore.dev/cosign/sign/v1');
    const bad = verifyImageSignatures(
      input(null, [trusted(a, 'a')], { bundles: [{ digest: 'sha256:x', bytes: bundle(OTHER) }] }),
    );
    expect(bad.rejected[0]?.reason).toMatch(/subject names sha256:2+/);
    const wrongKey = verifyImageSignatures(
      input(null, [trusted(b, 'b')], { bundles: [{ digest: 'sha256:x', bytes: bundle(DIGEST) }] }),
    );
    expect(wrongKey.ok).toBe(false);
  });

  describe('when a bundle is checked against the repository it is verified in (the .sig rule)', () => {
    const one = (bytes: Uint8Array, extra: Partial<VerifyInput> = {}) =>
      verifyImageSignatures(
        input(null, [trusted(a, 'a')], { bundles: [{ digest: 'sha256:x', bytes }], ...extra }),
      );

    it('rejects a bundle copied with its image to another repository', () => {
      const r = one(bundle(DIGEST, { name: '127.0.0.1:5000/aibox/dev-experimental' }));
      expect(r.ok).toBe(false);
      expect(r.rejected[0]?.reason).toMatch(
        /names repository 127\.0\.0\.1:5000\/aibox\/dev-experimental, not .*belongs to another repository/,
      );
    });

    it('rejects a bundle whose subject names no repository (binds only the digest)', () => {
      const r = one(bundle(DIGEST, {}));
      expect(r.ok).toBe(false);
      expect(r.rejected[0]?.reason).toMatch(/names no repository/);
    });

    it('accepts a tagged or Docker-Hub-spelled name of the same repository', () => {
      expect(one(bundle(DIGEST, { name: `${REPO}:24.04-20260221` })).ok).toBe(true);
    });

    it('requires -a annotations in the subject annotations, as in a .sig payload', () => {
      const need = { requiredAnnotations: { env: 'prod' } };
      expect(one(bundle(DIGEST, { name: REPO }), need).rejected[0]?.reason).toMatch(
        /annotation env="prod" required, statement subject has none/,
      );
      expect(one(bundle(DIGEST, { name: REPO, annotations: { env: 'prod' } }), need).ok).toBe(true);
    });
  });

  it('verifies from cached bytes synchronously, with at most one ECDSA check per key and signature', () => {
    const s = sign(a);
    const inp = input(s, [trusted(b, 'b'), trusted(a, 'a')]);
    verifyCalls.fn.mockClear();
    const r = verifyImageSignatures(inp);
    // No timing claim (the bench measures time): the work is bounded and there is no I/O (not a Promise).
    expect(r).not.toBeInstanceOf(Promise);
    expect(r.ok).toBe(true);
    expect(verifyCalls.fn.mock.calls.length).toBeGreaterThan(0);
    expect(verifyCalls.fn.mock.calls.length).toBeLessThanOrEqual(2); // 1 signature × 2 trusted keys
  });
});

describe('sigmanifest', () => {
  it('names the tag as cosign does', () => {
    expect(signatureTag(DIGEST)).toBe(`sha256-${'1'.repeat(64)}.sig`);
    expect(() => signatureTag('sha256:xyz')).toThrow(/invalid digest/);
  });

  it('appends without dropping unknown layers and lists all layers in the config', () => {
    const foreign = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {},
      layers: [
        {
          mediaType: 'application/vnd.dsse.envelope.v1+json',
          size: 3,
          digest: sha256(new Uint8Array([1, 2, 3])),
          annotations: { predicateType: 'x' },
          extra: true,
        },
      ],
    };
    const r = appendSignatureLayer(new TextEncoder().encode(JSON.stringify(foreign)), {
      payload: new Uint8Array([9]),
      signatureB64: 'AA==',
    });
    const m = JSON.parse(new TextDecoder().decode(r.manifest));
    expect(m.layers).toHaveLength(2);
    expect(m.layers[0]).toEqual(foreign.layers[0]);
    expect(Object.keys(m.layers[1])).toEqual(['mediaType', 'size', 'digest', 'annotations']);
    const c = JSON.parse(new TextDecoder().decode(r.config));
    expect(c.rootfs.diff_ids).toEqual([foreign.layers[0]!.digest, r.payloadDigest]);
    expect(sha256(r.config)).toBe(r.configDigest);
  });
});

describe('runbook messages (golden)', () => {
  it('renders the valid line', () => {
    expect(
      signatureValidLine({
        signer: 'platform-ci@aibox.internal',
        signedAt: new Date('2026-02-21T23:59:59Z'),
      }),
    ).toBe('Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)');
    expect(signatureValidLine({ signer: 'ci-2026', signedAt: null })).toBe(
      'Verifying image signature... valid (signed by ci-2026)',
    );
  });
  it('renders the ERROR block', () => {
    expect(signatureFailedMessage('aibox-base:24.04-20260221')).toBe(
      "ERROR: Image signature verification failed for aibox-base:24.04-20260221.\nThis image may have been tampered with. Contact the platform team.\nRun 'aibox update' to pull a fresh image from Harbor.",
    );
  });
});
