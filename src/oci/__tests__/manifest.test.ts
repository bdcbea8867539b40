import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { MAX_MANIFEST_BYTES, MediaTypes, parseManifest } from '../manifest.js';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const desc = { mediaType: MediaTypes.OCI_CONFIG, digest: `sha256:${'1'.repeat(64)}`, size: 3 };

describe('parseManifest', () => {
  it('parses OCI manifests, Docker v2, and indexes', () => {
    const m = parseManifest(
      enc({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        config: desc,
        layers: [desc],
        annotations: { a: 'b' },
      }),
    );
    expect(m).toMatchObject({ kind: 'manifest', mediaType: MediaTypes.OCI_MANIFEST });
    const d = parseManifest(
      enc({ schemaVersion: 2, config: desc, layers: [] }),
      `${MediaTypes.DOCKER_MANIFEST}; charset=utf-8`,
    );
    expect(d.mediaType).toBe(MediaTypes.DOCKER_MANIFEST);
    const i = parseManifest(
      enc({
        schemaVersion: 2,
        manifests: [{ ...desc, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }],
      }),
    );
    expect(i).toMatchObject({ kind: 'index', mediaType: MediaTypes.OCI_INDEX });
  });

  it('explains what is wrong', () => {
    const bad = (v: unknown, rule: RegExp, ct?: string) => {
      expect(() => parseManifest(enc(v), ct)).toThrow(
        expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(rule) }),
      );
    };
    bad('<html>', /not JSON/);
    bad([], /JSON object/);
    bad({ schemaVersion: 1 }, /schema 1/);
    bad(
      { schemaVersion: 2, config: { ...desc, size: -1 }, layers: [] },
      /config.size must be a non-negative integer/,
    );
    bad({ schemaVersion: 2, config: { ...desc, digest: 'sha256:zz' }, layers: [] }, /config.digest/);
    bad(
      { schemaVersion: 2, mediaType: MediaTypes.OCI_INDEX, manifests: [] },
      /does not match Content-Type/,
      MediaTypes.OCI_MANIFEST,
    );
    bad(
      { schemaVersion: 2, mediaType: 'application/x-foo', config: desc, layers: [] },
      /unsupported mediaType/,
    );
  });

  it('refuses more than 4 MiB', () => {
    expect(() => parseManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1))).toThrow(
      expect.objectContaining({ code: 'MANIFEST_TOO_LARGE' }),
    );
  });

  it('never crashes on random bytes or random JSON: parses or throws AiboxError', () => {
    const check = (bytes: Uint8Array, ct?: string) => {
      try {
        parseManifest(bytes, ct);
      } catch (e) {
        expect(e).toBeInstanceOf(AiboxError);
        expect(['MANIFEST_INVALID', 'MANIFEST_TOO_LARGE']).toContain((e as AiboxError).code);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.option(fc.string(), { nil: undefined }), (b, ct) =>
        check(b, ct),
      ),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => check(enc(v))),
      { numRuns: 500 },
    );
    const descArb = fc.record(
      {
        mediaType: fc.oneof(fc.constant(MediaTypes.OCI_CONFIG), fc.jsonValue()),
        digest: fc.oneof(fc.constant(desc.digest), fc.string()),
        size: fc.oneof(fc.nat(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            schemaVersion: fc.constantFrom(2, 1, '2'),
            mediaType: fc.constantFrom(...Object.values(MediaTypes), undefined),
            config: descArb,
            layers: fc.array(descArb),
            manifests: fc.option(fc.array(descArb)),
          },
          { requiredKeys: [] },
        ),
        (v) => check(enc(v)),
      ),
      { numRuns: 500 },
    );
  });
});
