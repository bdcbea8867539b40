import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import {
  buildPayload,
  cosignVerifyJson,
  parseAnnotationFlags,
  parsePayload,
  payloadSigner,
  payloadTimestamp,
} from '../payload.js';

const D = `sha256:${'ab'.repeat(32)}`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('buildPayload', () => {
  it('writes exactly cosign bytes with no annotations ("optional":null)', () => {
    expect(text(buildPayload({ repository: '127.0.0.1:5123/test/busybox', manifestDigest: D }))).toBe(
      `{"critical":{"identity":{"docker-reference":"127.0.0.1:5123/test/busybox"},"image":{"docker-manifest-digest":"${D}"},"type":"cosign container image signature"},"optional":null}`,
    );
  });

  it('sorts optional keys as Go does and writes an integer timestamp', () => {
    const bytes = buildPayload({
      repository: 'harbor.internal/aibox/base',
      manifestDigest: D,
      annotations: { team: 'peers', GIT_HASH: 'abc', run: '42' },
      signer: 'platform-ci@aibox.internal',
      timestamp: new Date('2026-02-21T10:00:00.900Z'),
    });
    expect(text(bytes)).toBe(
      `{"critical":{"identity":{"docker-reference":"harbor.internal/aibox/base"},"image":{"docker-manifest-digest":"${D}"},"type":"cosign container image signature"},"optional":{"GIT_HASH":"abc","run":"42","signer":"platform-ci@aibox.internal","team":"peers","timestamp":1771668000}}`,
    );
  });

  it('HTML-escapes like Go', () => {
    expect(text(buildPayload({ repository: 'r/x', manifestDigest: D, annotations: { a: '<&>' } }))).toContain(
      '"a":"\\u003c\\u0026\\u003e"',
    );
  });

  it('refuses reserved annotation keys', () => {
    for (const k of ['signer', 'timestamp', 'creator']) {
      expect(() => buildPayload({ repository: 'r/x', manifestDigest: D, annotations: { [k]: 'x' } })).toThrow(
        /reserved/,
      );
    }
  });

  it('round-trips through parsePayload and cosignVerifyJson', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => !['signer', 'timestamp', 'creator'].includes(k)),
          fc.string(),
          { maxKeys: 5 },
        ),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        fc.option(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), {
          nil: undefined,
        }),
        (annotations, signer, timestamp) => {
          const bytes = buildPayload({
            repository: 'h.io/a/b',
            manifestDigest: D,
            annotations,
            signer,
            timestamp,
          });
          const p = parsePayload(bytes);
          expect(p.manifestDigest).toBe(D);
          expect(cosignVerifyJson(p)).toBe(text(bytes));
          expect(payloadSigner(p)).toBe(signer ?? null);
          expect(payloadTimestamp(p)?.getTime()).toBe(
            timestamp ? Math.floor(timestamp.getTime() / 1000) * 1000 : undefined,
          );
        },
      ),
    );
  });
});

describe('parsePayload', () => {
  const good = JSON.parse(text(buildPayload({ repository: 'r/x', manifestDigest: D }))) as Record<
    string,
    any
  >;
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

  it('reads skopeo payloads (repo:tag identity, creator + integer timestamp)', () => {
    const p = parsePayload(
      enc({
        ...good,
        critical: { ...good.critical, identity: { 'docker-reference': 'r/x:v1' } },
        optional: { creator: 'containers/image 5.34.2', timestamp: 1795923357 },
      }),
    );
    expect(p.dockerReference).toBe('r/x:v1');
    expect(payloadTimestamp(p)?.toISOString()).toBe('2026-11-29T03:35:57.000Z');
  });

  describe('when the payload is malformed', () => {
    const cases: [string, unknown][] = [
      ['array', []],
      ['no critical', { optional: null }],
      [
        'identity not string',
        { ...good, critical: { ...good.critical, identity: { 'docker-reference': 1 } } },
      ],
      ['digest missing', { ...good, critical: { ...good.critical, image: {} } }],
      ['wrong type', { ...good, critical: { ...good.critical, type: 'x' } }],
      ['optional array', { ...good, optional: [] }],
      ['string timestamp', { ...good, optional: { timestamp: '123' } }],
      ['float timestamp', { ...good, optional: { timestamp: 1.5 } }],
      ['numeric creator', { ...good, optional: { creator: 5 } }],
    ];
    it.each(cases)('rejects %s with MANIFEST_INVALID naming the rule', (_, v) => {
      expect(() => parsePayload(enc(v))).toThrow(/invalid signature payload: /);
    });
    it('rejects non-UTF-8', () => {
      expect(() => parsePayload(new Uint8Array([0xff, 0xfe]))).toThrow(/not UTF-8 JSON/);
    });
  });

  it('never throws anything but AiboxError on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.json().map((j) => new TextEncoder().encode(j)),
        ),
        (bytes) => {
          try {
            parsePayload(bytes);
          } catch (e) {
            expect(isAiboxError(e, 'MANIFEST_INVALID')).toBe(true);
          }
        },
      ),
    );
  });
});

describe('parseAnnotationFlags', () => {
  it('splits like cosign (first "=", commas separate entries)', () => {
    expect(parseAnnotationFlags(['a=1,b=2', 'c=x=y'])).toEqual({ a: '1', b: '2', c: 'x=y' });
    expect(() => parseAnnotationFlags(['novalue'])).toThrow(/expected key=value/);
  });
});
