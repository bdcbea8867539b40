import { describe, expect, it } from 'vitest';
import { mapLimited, semaphore } from '../limit.js';

const tick = () => new Promise((go) => setImmediate(go));

describe('mapLimited', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let now = 0;
    let max = 0;
    const out = await mapLimited([5, 1, 4, 2, 3], 2, async (n) => {
      now++;
      max = Math.max(max, now);
      for (let i = 0; i < n; i++) await tick();
      now--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(max).toBe(2);
  });

  it('rejects with the first failure in input order after the started calls settle; starts no more', async () => {
    const started: number[] = [];
    let settled = 0;
    const p = mapLimited([0, 1, 2, 3], 2, async (n) => {
      started.push(n);
      await tick();
      settled++;
      if (n <= 1) throw new Error(`fail ${n}`);
      return n;
    });
    await expect(p).rejects.toThrow('fail 0');
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });

  it('an empty list is an empty result', async () => {
    expect(await mapLimited([], 3, async () => 1)).toEqual([]);
  });
});

describe('semaphore', () => {
  it('bounds concurrent callers and frees the slot on failure', async () => {
    const slot = semaphore(1);
    let now = 0;
    let max = 0;
    const job = (fail: boolean) =>
      slot(async () => {
        now++;
        max = Math.max(max, now);
        await tick();
        now--;
        if (fail) throw new Error('boom');
        return 'ok';
      });
    const results = await Promise.allSettled([job(true), job(false), job(false)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(max).toBe(1);
  });
});
