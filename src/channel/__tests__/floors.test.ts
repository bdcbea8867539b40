import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertFloorsKept,
  buildChannel,
  floorsLowered,
  MAX_CHANNEL_SEQUENCE,
  parseChannel,
  serializeChannel,
  type Channel,
  type ChannelEntry,
} from '../channel.js';
import { higherMark, markPublished, markSeen, memoryChannelState } from '../state.js';

const T0 = Date.parse('2026-02-01T00:00:00Z');
const H = 3_600_000;
const VARIANTS = ['base', 'java', 'node', 'dotnet', 'full'] as const;
const hex = fc.constantFrom(...'0123456789abcdef'.split(''));
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One promotion's entries: any subset of variants, images created after their (optional) floor. */
const promotion = fc.uniqueArray(
  fc.record({
    variant: fc.constantFrom(...VARIANTS),
    digest: fc.array(hex, { minLength: 64, maxLength: 64 }).map((a) => `sha256:${a.join('')}`),
    floorH: fc.option(fc.integer({ min: 0, max: 24 * 60 }), { nil: undefined }),
    aboveFloorH: fc.integer({ min: 0, max: 24 * 400 }),
    mandatory: fc.boolean(),
  }),
  { selector: (e) => e.variant, minLength: 1 },
);

describe('floors are never lowered by a promotion (property)', () => {
  it('every channel buildChannel makes from any previous one keeps or raises every floor', () => {
    fc.assert(
      fc.property(fc.array(promotion, { minLength: 1, maxLength: 8 }), (promotions) => {
        let prev: Channel | null = null;
        let t = T0;
        for (const p of promotions) {
          t += 7 * 24 * H;
          const entries: ChannelEntry[] = p.map((e) => {
            const floor = e.floorH === undefined ? undefined : T0 + e.floorH * H;
            // an image is created after any floor it could meet (older ones are refused, tested elsewhere)
            const created =
              Math.max(
                floor ?? T0,
                prev?.variants[e.variant]?.minImageCreated
                  ? Date.parse(prev.variants[e.variant]!.minImageCreated!)
                  : T0,
              ) +
              e.aboveFloorH * H;
            return {
              variant: e.variant,
              tag: `t-${e.variant}`,
              digest: e.digest,
              created: iso(created),
              ...(floor !== undefined ? { mandatoryUpdate: e.mandatory, minImageCreated: iso(floor) } : {}),
            };
          });
          const now = Math.max(t, ...entries.map((e) => Date.parse(e.created)));
          t = now;
          const next = buildChannel(prev, entries, now);
          if (prev) {
            expect(floorsLowered(prev, next)).toEqual([]);
            expect(next.sequence).toBe(prev.sequence + 1);
          }
          prev = next;
        }
      }),
      { numRuns: 150 },
    );
  });

  const floored = (): Channel =>
    buildChannel(
      null,
      [
        {
          variant: 'base',
          tag: 'a',
          digest: `sha256:${'a'.repeat(64)}`,
          created: '2026-02-24T10:00:00Z',
          mandatoryUpdate: true,
          minImageDate: '2026-02-24',
        },
        { variant: 'java', tag: 'b', digest: `sha256:${'b'.repeat(64)}`, created: '2026-02-24T10:00:00Z' },
      ],
      Date.parse('2026-02-25T00:00:00Z'),
    );

  it.each([
    [
      'dropped',
      (c: Channel) => ({ ...c, variants: { java: c.variants.java! } }),
      /base: the variant .* is dropped/,
    ],
    [
      'cleared',
      (c: Channel) => ({
        ...c,
        variants: {
          ...c.variants,
          base: { ...c.variants.base!, mandatoryUpdate: false, minImageDate: null, minImageCreated: null },
        },
      }),
      /base: the floor .* is cleared/,
    ],
    [
      'moved earlier',
      (c: Channel) => ({
        ...c,
        variants: {
          ...c.variants,
          base: { ...c.variants.base!, minImageDate: '2026-02-01', minImageCreated: '2026-02-01T00:00:00Z' },
        },
      }),
      /base: the floor goes down/,
    ],
    [
      'made advisory',
      (c: Channel) => ({
        ...c,
        variants: { ...c.variants, base: { ...c.variants.base!, mandatoryUpdate: false } },
      }),
      /mandatoryUpdate is turned off/,
    ],
  ])('names a floor that is %s, and assertFloorsKept refuses it', (_n, lower, re) => {
    const prev = floored();
    const next = lower(prev) as Channel;
    expect(floorsLowered(prev, next).join('\n')).toMatch(re);
    expect(() => assertFloorsKept(prev, { ...next, sequence: 2 }, 'test')).toThrow(
      expect.objectContaining({ code: 'POLICY_REFUSED', message: expect.stringMatching(re) }),
    );
    expect(floorsLowered(prev, prev)).toEqual([]);
  });
});

describe('sequence bounds', () => {
  const c1 = buildChannel(
    null,
    [{ variant: 'base', tag: 'a', digest: `sha256:${'a'.repeat(64)}`, created: '2026-02-24T10:00:00Z' }],
    Date.parse('2026-02-25T00:00:00Z'),
  );

  it('a document claiming a sequence above the bound (2^53-1) is malformed', () => {
    const bytes = new TextEncoder().encode(
      new TextDecoder()
        .decode(serializeChannel(c1))
        .replace('"sequence": 1', `"sequence": ${Number.MAX_SAFE_INTEGER}`),
    );
    expect(() => parseChannel(bytes)).toThrow(expect.objectContaining({ code: 'CHANNEL_INVALID' }));
    expect(MAX_CHANNEL_SEQUENCE).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('an explicit sequence must be above the previous one and within the bound', () => {
    const at = Date.parse('2026-02-26T00:00:00Z');
    expect(buildChannel(c1, [], at, { sequence: 9 }).sequence).toBe(9);
    expect(() => buildChannel(c1, [], at, { sequence: 1 })).toThrow(
      expect.objectContaining({ code: 'POLICY_REFUSED' }),
    );
    expect(() => buildChannel(c1, [], at, { sequence: MAX_CHANNEL_SEQUENCE + 1 })).toThrow(
      expect.objectContaining({ code: 'POLICY_REFUSED' }),
    );
  });
});

describe('local channel state', () => {
  const m = (sequence: number) => ({
    sequence,
    digest: `sha256:${String(sequence % 10).repeat(64)}`,
    at: 'x',
  });
  it('seen only goes up; published sets both', async () => {
    expect(higherMark(m(3), m(2))).toEqual(m(3));
    expect(markSeen({ seen: m(5) }, m(4)).seen).toEqual(m(5));
    expect(markPublished({ seen: m(5) }, m(6))).toEqual({ published: m(6), seen: m(6) });
    const s = memoryChannelState();
    await s.update('h/p', (x) => markSeen(x, m(2)));
    expect(await s.get('h/p')).toEqual({ seen: m(2) });
    expect(await s.get('other/p')).toEqual({});
  });
});
