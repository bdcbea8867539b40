import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapConcurrent } from '../pool.js';

describe('mapConcurrent', () => {
  it('keeps order and never exceeds the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        async (xs, limit) => {
          let inFlight = 0;
          let peak = 0;
          const out = await mapConcurrent(xs, limit, async (x) => {
            inFlight++;
            peak = Math.max(peak, inFlight);
            await new Promise((r) => setImmediate(r));
            inFlight--;
            return x * 2;
          });
          expect(out).toEqual(xs.map((x) => x * 2));
          expect(peak).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });

  it('rejects with the first error and starts no new work after it', async () => {
    const started: number[] = [];
    const err = await mapConcurrent([1, 2, 3, 4, 5, 6], 2, async (x) => {
      started.push(x);
      if (x === 2) throw new Error('boom');
      await new Promise((r) => setImmediate(r));
      return x;
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('boom');
    expect(started.length).toBeLessThan(6);
  });
});
