/**
 * Requests `aiboxctl verify` makes against a real registry, counted by a forwarding proxy on
 * loopback (issue 8 §4): a signed image costs HEAD tag, GET `.sig` manifest, GET payload — the
 * referrers (bundle) lookup happens only when no `.sig` signature verifies.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { publicKeyMaterial, type SigningKey } from '../../src/signing/keys.js';
import type { TrustedKey } from '../../src/signing/trust.js';
import { signImage, verifyImage } from '../../src/signing/workflows.js';
import { pushTinyImage } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

let reg: TestRegistry;
let proxy: Server;
let proxyHost: string;
let client: RegistryClient;
let requests: string[] = [];

const newKey = (): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: publicKeyMaterial(publicKey) };
};
const trusted = (k: SigningKey): TrustedKey => ({
  name: 'k',
  publicKey: k.publicKey,
  notBefore: null,
  notAfter: null,
  createdAt: null,
});

beforeAll(async () => {
  reg = await startRegistry();
  const target = new URL(reg.url);
  proxy = createServer((req, res) => {
    requests.push(`${req.method} ${(req.url ?? '').replace(/sha256[:-][0-9a-f]{64}/g, '<d>')}`);
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const addr = proxy.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  proxyHost = `127.0.0.1:${addr.port}`;
  client = createRegistryClient({ env: {} });
});

afterAll(async () => {
  await maybeUnset(client)?.close();
  maybeUnset(proxy)?.closeAllConnections();
  await new Promise<void>((r) => (maybeUnset(proxy) ? proxy.close(() => r()) : r()));
  await maybeUnset(reg)?.stop();
});

beforeEach(() => {
  requests = [];
});

describe('aiboxctl verify request count', () => {
  it('verifies a signed image in 3 requests (no referrers lookup)', async () => {
    const key = newKey();
    await pushTinyImage(client, proxyHost, 'aibox/counted', 'v1', 'counted');
    const ref = { registry: proxyHost, repository: 'aibox/counted', tag: 'v1' };
    await signImage({ client, ref, key, signer: 'test', now: new Date() });
    requests = [];

    const r = await verifyImage({ client, ref, trustedKeys: [trusted(key)], now: new Date() });

    expect(r.ok).toBe(true);
    expect(requests).toEqual([
      'HEAD /v2/aibox/counted/manifests/v1',
      'GET /v2/aibox/counted/manifests/<d>.sig',
      'GET /v2/aibox/counted/blobs/<d>',
    ]);
  });

  it('looks for bundles only when no .sig signature verifies', async () => {
    const signer = newKey();
    await pushTinyImage(client, proxyHost, 'aibox/counted2', 'v1', 'counted2');
    const ref = { registry: proxyHost, repository: 'aibox/counted2', tag: 'v1' };
    await signImage({ client, ref, key: signer, signer: 'test', now: new Date() });
    requests = [];

    const r = await verifyImage({ client, ref, trustedKeys: [trusted(newKey())], now: new Date() });

    expect(r.ok).toBe(false);
    expect(requests.slice(0, 3)).toEqual([
      'HEAD /v2/aibox/counted2/manifests/v1',
      'GET /v2/aibox/counted2/manifests/<d>.sig',
      'GET /v2/aibox/counted2/blobs/<d>',
    ]);
    expect(requests.slice(3)).toContain(
      'GET /v2/aibox/counted2/referrers/<d>?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson',
    );
  });
});
