/**
 * Bounded concurrency (pure, no I/O): `mapLimited` runs `f` over items with at most `limit` at once and returns
 * the results in input order; `semaphore` bounds one kind of work (scans) shared by callers that run at once.
 * Every started call is awaited before a failure is reported, so nothing keeps running after the caller returns.
 */

/** `f` over `items`, at most `limit` at once; results in input order. Rejects with the first failure (in input
 * order) once every started call has settled. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  f: (t: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  const errors: { index: number; error: unknown }[] = [];
  const queue = items.entries();
  const worker = async () => {
    for (const [i, item] of queue) {
      // After a failure the remaining items are not started.
      if (errors.length > 0) return;
      try {
        out[i] = await f(item, i);
      } catch (error: unknown) {
        errors.push({ index: i, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length > 0) throw errors.sort((a, b) => a.index - b.index)[0]?.error;
  return out;
}

/** A counting semaphore: `run(f)` waits for one of `limit` slots, runs `f`, frees the slot. */
export function semaphore(limit: number): <R>(f: () => Promise<R>) => Promise<R> {
  let free = Math.max(1, limit);
  const waiting: (() => void)[] = [];
  return async <R>(f: () => Promise<R>): Promise<R> => {
    if (free > 0) free--;
    else await new Promise<void>((go) => waiting.push(go));
    try {
      return await f();
    } finally {
      // Hand the slot straight to the next waiter, or give it back.
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
