/** Health probe for the embedded registry: the only `fetch()` caller in src/registry. */

/** True when `GET <url>/v2/` answers 200 or 401 (a distribution registry is listening). */
export async function probeV2(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}
