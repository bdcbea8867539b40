/**
 * Health probe for the embedded registry, over the OCI transport (node:http): global `fetch()`
 * would load undici, +75 ms and +34 MiB on every CLI start that touches the embedded registry.
 */
import { Transport, discard } from '../oci/transport.js';

/** True when `GET <url>/v2/` answers 200 or 401 (a distribution registry is listening). */
export async function probeV2(url: string, timeoutMs = 1_000): Promise<boolean> {
  const transport = new Transport({ concurrency: 1, timeoutMs, deadlineMs: timeoutMs, retries: 0 });
  try {
    const res = await transport.send({
      method: 'GET',
      url: new URL('/v2/', url),
      headers: { 'user-agent': 'aibox/0.1 (+probe)' },
      idempotent: true,
      // A probe follows no redirect: anything but 200/401 is "not our registry".
      noRedirects: true,
    });
    await discard(res);
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  } finally {
    await transport.close();
  }
}
