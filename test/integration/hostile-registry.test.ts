/**
 * Attack cases against the OCI client, played by small hostile servers on 127.0.0.1 (issue 7 §2,
 * §3): credentials must never leave the registry they belong to, every request has an overall
 * deadline, listings and signature material are capped, and remote text cannot paint the terminal.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AiboxError } from '../../src/core/errors.js';
import { redact } from '../../src/core/redact.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { staticCredentials } from '../../src/oci/credentials.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { publicKeyMaterial } from '../../src/signing/keys.js';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/signing/payload.js';
import { verifyImage } from '../../src/signing/workflows.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Hostile {
  readonly host: string;
  readonly origin: string;
  readonly seen: Seen[];
  handle(h: Handler): void;
  stop(): Promise<void>;
}

const started: { stop(): Promise<void> }[] = [];
const clients: RegistryClient[] = [];
const timers = new Set<ReturnType<typeof setInterval>>();

afterEach(async () => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function hostile(): Promise<Hostile> {
  let handler: Handler = (_req, res) => {
    res.writeHead(404);
    res.end();
  };
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const host = `127.0.0.1:${addr.port}`;
  const h: Hostile = {
    host,
    origin: `http://${host}`,
    seen,
    handle(next) {
      handler = next;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  started.push(h);
  return h;
}

function client(opts: Parameters<typeof createRegistryClient>[0] = {}): RegistryClient {
  const c = createRegistryClient({ env: {}, retries: 0, ...opts });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<AiboxError> {
  try {
    await p;
  } catch (e: unknown) {
    if (e instanceof AiboxError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

const USER = 'alice';
const PASSWORD = 'pa55-w0rd-for-the-registry';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const DIGEST = sha256Digest(new TextEncoder().encode('blob'));

/** A registry that wants Basic auth and answers `route` once the right credentials come. */
function basicRegistry(reg: Hostile, route: Handler): void {
  reg.handle((req, res) => {
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' });
      res.end();
      return;
    }
    route(req, res);
  });
}

describe('when a redirect target challenges for credentials (blob storage naming a third host)', () => {
  it('sends it nothing, never reaches the third host, and names the host that refused', async () => {
    const [registry, storage, third] = [await hostile(), await hostile(), await hostile()];
    third.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'stolen' }));
    });
    storage.handle((_req, res) => {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${third.origin}/token",service="evil"`,
      });
      res.end();
    });
    basicRegistry(registry, (_req, res) => {
      res.writeHead(307, { location: `${storage.origin}/bucket/blob?X-Amz-Signature=abc` });
      res.end();
    });
    const c = client({
      credentials: staticCredentials({ [registry.host]: { username: USER, password: PASSWORD } }),
    });

    const e = await failure(c.getBlob({ registry: registry.host, repository: 'aibox/base' }, DIGEST));

    expect(third.seen).toEqual([]);
    expect(storage.seen.length).toBeGreaterThan(0);
    expect(storage.seen.every((s) => s.authorization === undefined)).toBe(true);
    expect(e.code).toBe('REGISTRY_AUTH');
    expect(e.message).toContain(`refused by ${storage.host}`);
    expect(e.message).toContain(`asked for a token from ${third.host}`);
    expect(e.message).not.toMatch(/were rejected/);
    expect(e.hint).not.toMatch(/podman login/);
    // The password and the pair as sent in Basic are registered: every output path masks them.
    expect(redact(`x ${PASSWORD} ${BASIC.slice(6)} y`)).toBe('x *** *** y');
  });
});

describe('when the registry names another origin', () => {
  it('does not follow a next-page Link to another host, and says so', async () => {
    const [registry, third] = [await hostile(), await hostile()];
    basicRegistry(registry, (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        link: `<${third.origin}/v2/aibox/base/tags/list?last=a>; rel="next"`,
      });
      res.end(JSON.stringify({ name: 'aibox/base', tags: ['a'] }));
    });
    const c = client({
      credentials: staticCredentials({ [registry.host]: { username: USER, password: PASSWORD } }),
    });

    const e = await failure(c.listTags({ registry: registry.host, repository: 'aibox/base' }));

    expect(third.seen).toEqual([]);
    expect(e.code).toBe('REGISTRY_ERROR');
    expect(e.message).toContain(`next-page Link points to another host (${third.host})`);
  });

  it('sends an upload to a Location on another host without the credentials', async () => {
    const [registry, third] = [await hostile(), await hostile()];
    third.handle((_req, res) => {
      res.writeHead(201, { 'docker-content-digest': DIGEST });
      res.end();
    });
    basicRegistry(registry, (req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(202, { location: `${third.origin}/upload/1` });
      res.end();
    });
    const c = client({
      credentials: staticCredentials({ [registry.host]: { username: USER, password: PASSWORD } }),
    });

    await c.pushBlob({ registry: registry.host, repository: 'aibox/base' }, new TextEncoder().encode('blob'));

    expect(third.seen.map((s) => s.method)).toEqual(['PUT']);
    expect(third.seen[0]?.authorization).toBeUndefined();
  });
});

describe('when a server drips its answer (overall deadline)', () => {
  it('stops a body dripping one byte every 200 ms with one TIMEOUT line', async () => {
    const registry = await hostile();
    registry.handle((_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.OCI_MANIFEST, 'content-length': '100000' });
      const t = setInterval(() => res.write('{'), 200);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    });
    const c = client({ deadlineMs: 1000 });

    const e = await failure(c.getManifest({ registry: registry.host, repository: 'aibox/base', tag: 'v1' }));

    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toMatch(
      new RegExp(`^GET http://${registry.host}/v2/aibox/base/manifests/v1: no complete answer within 1 s$`),
    );
  });

  it('stops a response head dripped one byte every 200 ms', async () => {
    const sockets = new Set<Socket>();
    const server: NetServer = createNetServer((socket) => {
      sockets.add(socket);
      const head = Buffer.from(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-pad: ' + 'a'.repeat(1000),
      );
      let i = 0;
      const t = setInterval(() => {
        if (i < head.length) socket.write(head.subarray(i, ++i));
      }, 200);
      timers.add(t);
      socket.on('close', () => clearInterval(t));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    started.push({
      stop: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      },
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    const c = client({ deadlineMs: 1000 });

    const e = await failure(
      c.headManifest({ registry: `127.0.0.1:${addr.port}`, repository: 'a/b', tag: 'v1' }),
    );

    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toMatch(/: no complete answer within 1 s$/);
  });
});

describe('when listings are endless or huge (caps)', () => {
  it('stops an endless run of tag pages at the tag cap', async () => {
    const registry = await hostile();
    let page = 0;
    registry.handle((_req, res) => {
      page++;
      const tags = Array.from({ length: 1000 }, (_, i) => `p${page}-t${i}`);
      res.writeHead(200, {
        'content-type': 'application/json',
        link: `</v2/aibox/base/tags/list?n=1000&last=p${page}>; rel="next"`,
      });
      res.end(JSON.stringify({ name: 'aibox/base', tags }));
    });
    const c = client({ maxTags: 2500 });

    const e = await failure(c.listTags({ registry: registry.host, repository: 'aibox/base' }));

    expect(e.code).toBe('REGISTRY_ERROR');
    expect(e.message).toBe(
      `list tags of ${registry.host}/aibox/base: more than 2500 tags; refusing to hold more`,
    );
    expect(page).toBe(3);
  });

  it('refuses a single tag page over 8 MiB', async () => {
    const registry = await hostile();
    const tags = Array.from({ length: 80_000 }, (_, i) => `${'t'.repeat(100)}${i}`);
    registry.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'aibox/base', tags }));
    });
    const c = client();

    const e = await failure(c.listTags({ registry: registry.host, repository: 'aibox/base' }));

    expect(e.code).toBe('REGISTRY_ERROR');
    expect(e.message).toMatch(/one page from .* is over 8 MiB/);
  });
});

describe('when remote text carries escape codes', () => {
  it('strips control characters from the registry error body before it reaches a message', async () => {
    const registry = await hostile();
    registry.handle((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          errors: [
            {
              code: 'DENIED\u001b[2K',
              message: '\u001b[1A\r\u001b[32mVerifying image signature... valid\u001b[0m\nfake line\u0007',
            },
          ],
        }),
      );
    });
    const c = client();

    const e = await failure(c.getManifest({ registry: registry.host, repository: 'aibox/base', tag: 'v1' }));

    expect(e.message).toContain('DENIED: Verifying image signature... valid fake line');
    // eslint-disable-next-line no-control-regex
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});

describe('when a .sig manifest is hostile (signature caps, one payload at a time)', () => {
  const image = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: {
        mediaType: MediaTypes.OCI_EMPTY,
        digest: sha256Digest(new TextEncoder().encode('{}')),
        size: 2,
      },
      layers: [],
    }),
  );
  const imageDigest = sha256Digest(image);
  const sigTag = `${imageDigest.replace(':', '-')}.sig`;
  const payload = new TextEncoder().encode('x'.repeat(1000));
  const sigManifest = (layers: number) =>
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        config: {
          mediaType: MediaTypes.OCI_EMPTY,
          digest: sha256Digest(new TextEncoder().encode('{}')),
          size: 2,
        },
        layers: Array.from({ length: layers }, () => ({
          mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
          digest: sha256Digest(payload),
          size: payload.byteLength,
          annotations: { [SIGNATURE_ANNOTATION]: 'MEUCIQ==' },
        })),
      }),
    );
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = {
    name: 'k',
    publicKey: publicKeyMaterial(publicKey),
    notBefore: null,
    notAfter: null,
    createdAt: null,
  };

  function sigRegistry(
    reg: Hostile,
    layers: number,
  ): { maxInFlight: () => number; payloadGets: () => number } {
    let inFlight = 0;
    let max = 0;
    let gets = 0;
    reg.handle((req, res) => {
      const url = req.url ?? '';
      if (url.endsWith(`/manifests/${sigTag}`)) {
        const body = sigManifest(layers);
        res.writeHead(200, {
          'content-type': MediaTypes.OCI_MANIFEST,
          'docker-content-digest': sha256Digest(body),
        });
        res.end(body);
      } else if (url.includes('/manifests/')) {
        res.writeHead(200, {
          'content-type': MediaTypes.OCI_MANIFEST,
          'docker-content-digest': imageDigest,
          'content-length': String(image.byteLength),
        });
        res.end(req.method === 'HEAD' ? undefined : image);
      } else if (url.includes('/blobs/')) {
        gets++;
        inFlight++;
        max = Math.max(max, inFlight);
        setTimeout(() => {
          inFlight--;
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(payload);
        }, 5);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    return { maxInFlight: () => max, payloadGets: () => gets };
  }

  it('fetches and checks the payloads one at a time', async () => {
    const registry = await hostile();
    const stats = sigRegistry(registry, 20);
    const r = await verifyImage({
      client: client(),
      ref: { registry: registry.host, repository: 'aibox/base', tag: 'v1' },
      trustedKeys: [key],
      now: new Date(),
      bundles: false,
    });
    expect(r.ok).toBe(false);
    expect(r.rejected).toHaveLength(20);
    expect(stats.payloadGets()).toBe(20);
    expect(stats.maxInFlight()).toBe(1);
  });

  it('refuses a .sig manifest with more layers than the cap, fetching no payload', async () => {
    const registry = await hostile();
    const stats = sigRegistry(registry, 200);
    const r = await verifyImage({
      client: client(),
      ref: { registry: registry.host, repository: 'aibox/base', tag: 'v1' },
      trustedKeys: [key],
      now: new Date(),
      bundles: false,
    });
    expect(r.ok).toBe(false);
    expect(r.rejected.map((x) => x.reason)).toEqual([
      'invalid signature manifest: 200 layers, more than the 128 allowed',
    ]);
    expect(stats.payloadGets()).toBe(0);
  });
});
