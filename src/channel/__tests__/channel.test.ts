import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import {
  assertChannelOk,
  buildChannel,
  checkChannel,
  parseChannel,
  serializeChannel,
  type Channel,
  type ChannelEntry,
} from '../channel.js';
import { renderChannel } from '../render.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const NOW = Date.parse('2026-02-22T02:30:00Z');
const DAY = 86_400_000;

const weekly = (date: string, created: string): ChannelEntry[] =>
  ['base', 'java', 'node', 'dotnet', 'full'].map((variant, i) => ({
    variant,
    tag: `24.04-${date}`,
    digest: D('abcde'[i] as string),
    created,
  }));

const first = () => buildChannel(null, weekly('20260222', '2026-02-22T02:10:00Z'), NOW);

describe('buildChannel', () => {
  it('starts at sequence 1 with a 14-day validity and no floors', () => {
    const c = first();
    expect(c.schemaVersion).toBe(1);
    expect(c.sequence).toBe(1);
    expect(c.issuedAt).toBe('2026-02-22T02:30:00Z');
    expect(c.expiresAt).toBe('2026-03-08T02:30:00Z');
    expect(Object.keys(c.variants).sort()).toEqual(['base', 'dotnet', 'full', 'java', 'node']);
    expect(c.variants.base).toEqual({
      tag: '24.04-20260222',
      digest: D('a'),
      created: '2026-02-22T02:10:00Z',
      mandatoryUpdate: false,
      minImageDate: null,
      minImageCreated: null,
    });
  });

  it('increments the sequence and honours ttlDays', () => {
    const c2 = buildChannel(first(), weekly('20260301', '2026-03-01T02:10:00Z'), NOW + 7 * DAY, {
      ttlDays: 3,
    });
    expect(c2.sequence).toBe(2);
    expect(c2.expiresAt).toBe('2026-03-04T02:30:00Z');
  });

  describe('when an emergency release sets a floor', () => {
    const emergency = () =>
      buildChannel(
        first(),
        [
          {
            variant: 'base',
            tag: '24.04-20260224-cve-2026-12345',
            digest: D('f'),
            created: '2026-02-24T10:00:00Z',
            mandatoryUpdate: true,
            minImageDate: '2026-02-24',
            cve: { id: 'CVE-2026-12345', cvss: 9.8 },
          },
        ],
        NOW + 2 * DAY,
      );

    it('records the floor precisely and carries other variants unchanged', () => {
      const c = emergency();
      expect(c.variants.base).toMatchObject({
        mandatoryUpdate: true,
        minImageDate: '2026-02-24',
        minImageCreated: '2026-02-24T00:00:00Z',
        cve: { id: 'CVE-2026-12345', cvss: 9.8 },
      });
      expect(c.variants.java).toEqual(first().variants.java);
    });

    it('carries the floor forward on the next weekly build', () => {
      const next = buildChannel(emergency(), weekly('20260301', '2026-03-01T02:10:00Z'), NOW + 7 * DAY);
      expect(next.variants.base).toMatchObject({
        tag: '24.04-20260301',
        mandatoryUpdate: true,
        minImageDate: '2026-02-24',
        cve: { id: 'CVE-2026-12345' },
      });
    });

    it('never lowers a floor implicitly, but raises it', () => {
      const lowerAttempt = buildChannel(
        emergency(),
        [{ ...weekly('20260301', '2026-03-01T02:10:00Z')[0]!, minImageDate: '2026-01-01' }],
        NOW + 7 * DAY,
      );
      expect(lowerAttempt.variants.base?.minImageDate).toBe('2026-02-24');
      const raised = buildChannel(
        emergency(),
        [{ ...weekly('20260301', '2026-03-01T02:10:00Z')[0]!, minImageCreated: '2026-03-01T01:00:00+00:00' }],
        NOW + 7 * DAY,
      );
      expect(raised.variants.base).toMatchObject({
        mandatoryUpdate: true,
        minImageDate: '2026-03-01',
        minImageCreated: '2026-03-01T01:00:00Z',
      });
      expect(raised.variants.base?.cve).toBeUndefined();
    });

    it('lowers or clears a floor only when asked explicitly', () => {
      const cleared = buildChannel(emergency(), weekly('20260301', '2026-03-01T02:10:00Z'), NOW + 7 * DAY, {
        lowerFloors: ['base'],
      });
      expect(cleared.variants.base).toMatchObject({
        mandatoryUpdate: false,
        minImageDate: null,
        minImageCreated: null,
      });
    });

    it('refuses to promote an image older than the floor (rollback below a security fix)', () => {
      expect(() =>
        buildChannel(emergency(), weekly('20260222', '2026-02-22T02:10:00Z'), NOW + 3 * DAY),
      ).toThrow(
        /created 2026-02-22T02:10:00Z, before the security floor 2026-02-24T00:00:00Z \(CVE-2026-12345\)/,
      );
    });
  });

  it('refuses bad entries with CHANNEL_INVALID', () => {
    const e = weekly('20260222', '2026-02-22T02:10:00Z')[0]!;
    for (const bad of [
      { ...e, variant: 'Base' },
      { ...e, tag: '-bad' },
      { ...e, digest: 'sha256:abc' },
      { ...e, created: '2026-02-30T00:00:00Z' },
      { ...e, mandatoryUpdate: true },
      { ...e, minImageDate: '2026-2-1' },
      { ...e, cve: { id: 'CVE-1', cvss: 11 } },
    ]) {
      expect(() => buildChannel(null, [bad], NOW)).toThrow(
        expect.objectContaining({ code: 'CHANNEL_INVALID' }),
      );
    }
    expect(() => buildChannel(null, [e, e], NOW)).toThrow(/listed twice/);
  });

  it('refuses to issue before the previous channel (clock went backwards)', () => {
    expect(() => buildChannel(first(), weekly('20260222', '2026-02-22T02:10:00Z'), NOW - 1000)).toThrow(
      expect.objectContaining({ code: 'POLICY_REFUSED' }),
    );
  });

  it('drops variants only when asked', () => {
    const c = buildChannel(first(), [], NOW + DAY, { removeVariants: ['full'] });
    expect(Object.keys(c.variants)).not.toContain('full');
    expect(c.sequence).toBe(2);
  });
});

describe('parseChannel / serializeChannel', () => {
  it('round-trips canonical bytes', () => {
    const c = first();
    const bytes = serializeChannel(c);
    expect(parseChannel(bytes)).toEqual(c);
    expect(serializeChannel(parseChannel(bytes))).toEqual(bytes);
  });

  const mutate = (f: (doc: Record<string, any>) => void): Uint8Array => {
    const doc = JSON.parse(new TextDecoder().decode(serializeChannel(first())));
    f(doc);
    return new TextEncoder().encode(JSON.stringify(doc));
  };

  it.each([
    ['unknown top-level field', (d: any) => (d.extra = 1), /Unrecognized key|unrecognized/i],
    ['schemaVersion 2', (d: any) => (d.schemaVersion = 2), /schemaVersion/],
    ['sequence 0', (d: any) => (d.sequence = 0), /sequence/],
    ['fractional sequence', (d: any) => (d.sequence = 1.5), /sequence/],
    [
      'expiresAt before issuedAt',
      (d: any) => (d.expiresAt = '2020-01-01T00:00:00Z'),
      /expiresAt must be after issuedAt/,
    ],
    ['no variants', (d: any) => (d.variants = {}), /at least one variant/],
    ['bad variant name', (d: any) => (d.variants.Base = d.variants.base), /variants/],
    ['unknown variant field', (d: any) => (d.variants.base.latest = true), /variants\.base/],
    ['mandatory without floor', (d: any) => (d.variants.base.mandatoryUpdate = true), /needs a floor/],
    [
      'half a floor',
      (d: any) => (d.variants.base.minImageDate = '2026-01-01'),
      /both be set or both be null/,
    ],
    [
      'floor dates disagree',
      (d: any) => {
        d.variants.base.minImageDate = '2026-01-01';
        d.variants.base.minImageCreated = '2026-01-02T00:00:00Z';
      },
      /UTC date of minImageCreated/,
    ],
    ['uppercase digest', (d: any) => (d.variants.base.digest = D('A')), /digest/],
  ])('rejects %s', (_name, f, rule) => {
    expect(() => parseChannel(mutate(f), 'test')).toThrow(rule);
  });

  it('rejects non-JSON, non-UTF-8 and oversized input with CHANNEL_INVALID', () => {
    for (const b of [
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{'),
      new Uint8Array(300 * 1024),
    ]) {
      expect(() => parseChannel(b)).toThrow(expect.objectContaining({ code: 'CHANNEL_INVALID' }));
    }
  });

  it('never throws anything but CHANNEL_INVALID on arbitrary JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseChannel(new TextEncoder().encode(JSON.stringify(v)));
        } catch (e: unknown) {
          expect(e).toBeInstanceOf(AiboxError);
          expect((e as AiboxError).code).toBe('CHANNEL_INVALID');
        }
      }),
    );
  });

  it('accepts every channel buildChannel produces, and the bytes are canonical (property)', () => {
    const hex = fc.constantFrom(...'0123456789abcdef'.split(''));
    const entry = fc.record({
      variant: fc.constantFrom('base', 'java', 'node', 'dotnet', 'full'),
      tag: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/),
      digest: hex.map((c) => D(c)),
      createdOffsetH: fc.integer({ min: 0, max: 24 * 30 }),
      floorOffsetH: fc.option(fc.integer({ min: 0, max: 24 * 30 }), { nil: undefined }),
      mandatory: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => e.variant, minLength: 1 }),
        fc.integer({ min: 1, max: 60 }),
        (es, ttl) => {
          const base = Date.parse('2026-01-01T00:00:00Z');
          const entries: ChannelEntry[] = es.map((e) => {
            const created = base + e.createdOffsetH * 3_600_000;
            const floor =
              e.floorOffsetH === undefined ? undefined : Math.min(created, base + e.floorOffsetH * 3_600_000);
            return {
              variant: e.variant,
              tag: e.tag,
              digest: e.digest,
              created: new Date(created).toISOString(),
              ...(floor === undefined
                ? {}
                : { minImageCreated: new Date(floor).toISOString(), mandatoryUpdate: e.mandatory }),
            };
          });
          const c = buildChannel(null, entries, base + 31 * DAY, { ttlDays: ttl });
          const bytes = serializeChannel(c);
          expect(parseChannel(bytes)).toEqual(c);
          expect(checkChannel(c, { now: base + 31 * DAY, lastSeenSequence: 0 })).toEqual({ ok: true });
        },
      ),
    );
  });
});

describe('checkChannel', () => {
  const c: Channel = first();

  it('accepts a fresh channel at or above the last seen sequence', () => {
    expect(checkChannel(c, { now: NOW + DAY, lastSeenSequence: null })).toEqual({ ok: true });
    expect(checkChannel(c, { now: NOW + DAY, lastSeenSequence: 1 })).toEqual({ ok: true });
  });

  it('reports expiry (freeze attack)', () => {
    const r = checkChannel(c, { now: NOW + 14 * DAY });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems.map((p) => p.code)).toEqual(['expired']);
  });

  it('reports a sequence that went backwards (replay / rollback)', () => {
    const r = checkChannel(c, { now: NOW, lastSeenSequence: 5 });
    expect(!r.ok && r.problems.map((p) => p.code)).toEqual(['rollback']);
    expect(!r.ok && r.problems[0]?.message).toMatch(/got 1, already saw 5/);
  });

  it('reports two different documents with the same sequence', () => {
    const r = checkChannel(c, { now: NOW, lastSeenSequence: 1, lastSeenDigest: D('1'), digest: D('2') });
    expect(!r.ok && r.problems.map((p) => p.code)).toEqual(['equivocation']);
  });

  it('reports a channel issued in the future beyond clock skew, and malformed values', () => {
    expect(checkChannel(c, { now: NOW - 10 * 60_000 })).toMatchObject({
      ok: false,
      problems: [{ code: 'not-yet-valid' }],
    });
    expect(checkChannel(c, { now: NOW - 60_000 })).toEqual({ ok: true });
    const bad = { ...c, sequence: -1 } as Channel;
    expect(checkChannel(bad, { now: NOW })).toMatchObject({ ok: false, problems: [{ code: 'malformed' }] });
  });

  it('assertChannelOk throws CHANNEL_REJECTED with an actionable hint', () => {
    expect(() =>
      assertChannelOk(checkChannel(c, { now: NOW + 20 * DAY }), 'reg/aibox/channel:current'),
    ).toThrow(
      expect.objectContaining({ code: 'CHANNEL_REJECTED', hint: expect.stringMatching(/aiboxctl promote/) }),
    );
  });
});

describe('renderChannel', () => {
  it('shows validity and one row per variant with its floor', () => {
    const c = buildChannel(
      first(),
      [
        {
          variant: 'base',
          tag: '24.04-20260224-cve-2026-12345',
          digest: D('f'),
          created: '2026-02-24T10:00:00Z',
          mandatoryUpdate: true,
          minImageDate: '2026-02-24',
          cve: { id: 'CVE-2026-12345', cvss: 9.8 },
        },
      ],
      NOW + 2 * DAY,
    );
    const text = renderChannel(c, {
      now: NOW + 3 * DAY,
      digest: D('9'),
      location: 'reg.example/aibox/channel:current',
      signatureValid: true,
    });
    expect(text).toMatchInlineSnapshot(`
      "Channel:   reg.example/aibox/channel:current
      Digest:    sha256:9999999999999999999999999999999999999999999999999999999999999999
      Sequence:  2
      Issued:    2026-02-24T02:30:00Z
      Expires:   2026-03-10T02:30:00Z (in 13 d)
      Status:    valid

      VARIANT  TAG                            DIGEST               CREATED               SECURITY FLOOR
      base     24.04-20260224-cve-2026-12345  sha256:ffffffffffff  2026-02-24T10:00:00Z  mandatory >= 2026-02-24 (CVE-2026-12345, CVSS 9.8)
      dotnet   24.04-20260222                 sha256:dddddddddddd  2026-02-22T02:10:00Z  -
      full     24.04-20260222                 sha256:eeeeeeeeeeee  2026-02-22T02:10:00Z  -
      java     24.04-20260222                 sha256:bbbbbbbbbbbb  2026-02-22T02:10:00Z  -
      node     24.04-20260222                 sha256:cccccccccccc  2026-02-22T02:10:00Z  -
      "
    `);
  });

  it('flags an expired channel', () => {
    expect(renderChannel(first(), { now: NOW + 15 * DAY, signatureValid: true })).toMatch(
      /EXPIRED 1 d ago[\s\S]*Status:\s+expired/,
    );
  });

  it('never says valid when the signature does not verify', () => {
    const text = renderChannel(first(), { now: NOW + DAY, signatureValid: false });
    expect(text).toMatch(/Status:\s+SIGNATURE_INVALID\n/);
    expect(text).not.toMatch(/Status:\s+valid/);
  });
});
