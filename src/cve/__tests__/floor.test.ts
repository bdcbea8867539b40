/** The floor arithmetic (pure): one created per image, monotonic merges, per-variant raises. Property-tested. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LABELS } from '../../core/labels.js';
import {
  belowFloor,
  floorFromLabels,
  floorLabels,
  floorTime,
  higherFloor,
  highestFloors,
  imageCreated,
  newFloor,
  raiseFloors,
  withDescendants,
  type Floor,
} from '../floor.js';

const PARENTS = { base: null, java: 'base', node: 'base', dotnet: 'base', full: 'base' } as const;

const time = fc
  .integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-12-31T23:59:59Z') })
  .map((t) => new Date(t).toISOString());
const fix = fc.record({
  id: fc.integer({ min: 1000, max: 99999 }).map((n) => `CVE-2026-${n}`),
  cvss: fc.integer({ min: 0, max: 100 }).map((n) => n / 10),
});
const floor: fc.Arbitrary<Floor> = fc
  .record({ t: time, fixes: fc.array(fix, { maxLength: 3 }), mandatory: fc.boolean() })
  .map(({ t, fixes, mandatory }) => {
    const c = floorTime(t) as string;
    return { mandatoryUpdate: mandatory, minImageCreated: c, minImageDate: c.slice(0, 10), fixes };
  });
const ms = (f: Floor | undefined) => (f ? Date.parse(f.minImageCreated) : -Infinity);
const variant = fc.constantFrom(...Object.keys(PARENTS));

describe('imageCreated: one created per image', () => {
  it('prefers the config created, normalised to whole UTC seconds, else the label', () => {
    expect(imageCreated({ created: '2026-02-21T09:14:03.987654321Z', labels: {} })).toBe(
      '2026-02-21T09:14:03Z',
    );
    expect(imageCreated({ created: '2026-02-21T10:14:03+01:00' })).toBe('2026-02-21T09:14:03Z');
    expect(imageCreated({ labels: { [LABELS.created]: '2026-02-21T09:14:03Z' } })).toBe(
      '2026-02-21T09:14:03Z',
    );
    expect(imageCreated({ created: 'yesterday', labels: {} })).toBeUndefined();
  });

  it('an image built the same day but before the first fixed image is below the floor', () => {
    const f = newFloor('2026-02-21T09:14:03Z', [{ id: 'CVE-2026-12345', cvss: 9.8 }], 7)!;
    expect(f).toMatchObject({ minImageDate: '2026-02-21', minImageCreated: '2026-02-21T09:14:03Z' });
    expect(belowFloor('2026-02-21T02:00:00Z', f)).toBe(true);
    expect(belowFloor('2026-02-21T09:14:03Z', f)).toBe(false);
    expect(belowFloor('2026-02-21T09:14:03.5Z', f)).toBe(false);
  });

  it('no floor below the mandatory threshold', () => {
    expect(newFloor('2026-02-21T09:14:03Z', [{ id: 'CVE-2026-12345', cvss: 6.9 }], 7)).toBeUndefined();
    expect(newFloor('2026-02-21T09:14:03Z', [{ id: 'CVE-2026-12345', cvss: 7.0 }], 7)).toBeDefined();
  });
});

describe('labels round-trip', () => {
  it('floorLabels → floorFromLabels is the identity', () => {
    fc.assert(
      fc.property(floor, (f) => {
        const back = floorFromLabels(floorLabels(f));
        expect(back?.minImageCreated).toBe(f.minImageCreated);
        expect(back?.mandatoryUpdate).toBe(f.mandatoryUpdate);
      }),
    );
  });

  it('untrusted label text never throws and never yields an invalid floor', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...Object.values(LABELS)), fc.string()), (labels) => {
        const f = floorFromLabels(labels);
        expect(f === undefined || Number.isFinite(Date.parse(f.minImageCreated))).toBe(true);
      }),
    );
  });

  it('a bare min-image-date (older images) counts as midnight UTC', () => {
    expect(
      floorFromLabels({ [LABELS.minImageDate]: '2026-02-21', [LABELS.mandatoryUpdate]: 'true' }),
    ).toMatchObject({ minImageCreated: '2026-02-21T00:00:00Z', mandatoryUpdate: true });
  });
});

describe('monotonic: a floor never goes down', () => {
  it('higherFloor is at least both inputs, commutative in its time, and mandatory sticks', () => {
    fc.assert(
      fc.property(fc.option(floor, { nil: undefined }), fc.option(floor, { nil: undefined }), (a, b) => {
        const h = higherFloor(a, b);
        expect(ms(h)).toBeGreaterThanOrEqual(Math.max(ms(a), ms(b)));
        expect(ms(h)).toBe(ms(higherFloor(b, a)));
        if (a?.mandatoryUpdate || b?.mandatoryUpdate) expect(h?.mandatoryUpdate).toBe(true);
      }),
    );
  });

  it('raiseFloors never lowers any variant, and raises the fixed variant and all built FROM it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(variant, floor), { maxLength: 8 }),
        fc.array(variant, { minLength: 1, maxLength: 3 }),
        floor,
        (prev, raised, f) => {
          const carried = highestFloors(prev);
          const next = raiseFloors(PARENTS, carried, raised, f);
          for (const v of Object.keys(PARENTS))
            expect(ms(next.get(v))).toBeGreaterThanOrEqual(ms(carried.get(v)));
          for (const v of withDescendants(PARENTS, raised))
            expect(ms(next.get(v))).toBeGreaterThanOrEqual(ms(f));
          for (const v of Object.keys(PARENTS))
            if (!withDescendants(PARENTS, raised).has(v)) expect(next.get(v)).toEqual(carried.get(v));
        },
      ),
    );
  });

  it('a CVE fixed in base raises all five; one only in dotnet raises dotnet', () => {
    const f = newFloor('2026-02-21T09:14:03Z', [{ id: 'CVE-2026-12345', cvss: 9.8 }], 7);
    expect([...raiseFloors(PARENTS, new Map(), ['base'], f).keys()].sort()).toEqual([
      'base',
      'dotnet',
      'full',
      'java',
      'node',
    ]);
    expect([...raiseFloors(PARENTS, new Map(), ['dotnet'], f).keys()]).toEqual(['dotnet']);
  });

  it('any sequence of raises over any starting state ends at the maximum ever set', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(variant, floor), { minLength: 1, maxLength: 10 }), (steps) => {
        let state = new Map<string, Floor>();
        for (const [v, f] of steps) state = raiseFloors(PARENTS, state, [v], f);
        for (const v of Object.keys(PARENTS)) {
          const max = Math.max(
            ...steps.filter(([r]) => withDescendants(PARENTS, [r]).has(v)).map(([, f]) => ms(f)),
          );
          expect(ms(state.get(v))).toBe(max);
        }
      }),
    );
  });
});
