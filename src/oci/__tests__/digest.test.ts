import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { createDigester, parseDigest, sha256Digest, verifyDigest } from '../digest.js';

describe('digests', () => {
  it('hashes like sha256sum', () => {
    expect(sha256Digest(new TextEncoder().encode('{}'))).toBe(
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
  });

  it('verifies matching bytes and refuses any other bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), (a, b) => {
        const d = sha256Digest(a);
        verifyDigest(a, d);
        const streamed = createDigester(d);
        streamed.update(a.subarray(0, a.length >> 1));
        streamed.update(a.subarray(a.length >> 1));
        expect(streamed.digest()).toBe(d);
        if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) {
          expect(() => verifyDigest(b, d)).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH' }));
        }
      }),
    );
  });

  it('rejects malformed digests with INVALID_DIGEST only', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 150 }), (s) => {
        try {
          const { algorithm, hex } = parseDigest(s);
          expect(s).toBe(`${algorithm}:${hex}`);
        } catch (e) {
          expect(e).toBeInstanceOf(AiboxError);
          expect((e as AiboxError).code).toBe('INVALID_DIGEST');
        }
      }),
    );
    expect(() => parseDigest('sha256:xyz')).toThrow(/sha256 needs 64 hex characters, got 3/);
  });
});
