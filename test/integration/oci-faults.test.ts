/**
 * Fault injection: a small loopback HTTP double plays a misbehaving registry (bad digests, oversized
 * or non-JSON manifests, 429s, cross-host redirects, paging, scope escalation). One double per file;
 * each test installs its own handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isAiboxError, type AiboxError } from '../../src/core/errors.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { staticCredentials } from '../../src/oci/credentials.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { freePort } from '../helpers/free-port.js';
import { maybeUnset } from '../helpers/unset.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

async function listen(onRequest: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => onRequest(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    host: `127.0.0.1:${addr.port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let handler: Handler;
let connections = 0;
let seen: Seen[] = [];
let storageSeen: Seen[] = [];
let double: Awaited<ReturnType<typeof listen>>;
let storage: Awaited<ReturnType<typeof listen>>;
let client: RegistryClient;

const enc = (s: string) => Buffer.from(s);
const goodManifest = enc(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    config: { mediaType: MediaTypes.OCI_EMPTY, digest: sha256Digest(enc('{}')), size: 2 },
    layers: [],
  }),
);
const goodDigest = sha256Digest(goodManifest);

beforeAll(async () => {
  double = await listen((req, res, body) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res, body);
  });
  storage = await listen((req, res) => {
    storageSeen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end('blob from storage');
  });
  client = createRegistryClient({ env: {}, retries: 2 });
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(double)?.stop();
  await maybeUnset(storage)?.stop();
});
beforeEach(() => {
  seen = [];
  storageSeen = [];
});

const ref = (extra: Record<string, string> = {}) => ({
  registry: double.host,
  repository: 'demo/app',
  ...extra,
});
const manifestResponse =
  (bytes: Buffer, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(200, {
      'content-type': MediaTypes.OCI_MANIFEST,
      'content-length': String(bytes.length),
      ...headers,
    });
    res.end(bytes);
  };
const fails = async (p: Promise<unknown>): Promise<AiboxError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isAiboxError(e)) throw new Error(`expected an AiboxError, got ${String(e)}`);
  return e;
};

describe('unreachable registry', () => {
  it('fails with one line naming the URL and the cause after bounded retries', async () => {
    const port = await freePort(); // nothing listens there
    const c = createRegistryClient({ env: {}, retries: 2 });
    try {
      const err = await fails(c.ping(`127.0.0.1:${port}`));
      expect(err.code).toBe('REGISTRY_UNREACHABLE');
      expect(err.message).toBe(
        `cannot reach registry at http://127.0.0.1:${port}/v2/: connect ECONNREFUSED 127.0.0.1:${port} after 3 attempts`,
      );
      expect(err.message).not.toContain('\n');
      expect(err.hint).toBeTruthy();
    } finally {
      await c.close();
    }
  });

  it('uses HTTPS for non-loopback hosts unless listed in insecureHosts', async () => {
    const c = createRegistryClient({ env: {}, retries: 0, insecureHosts: ['plain.invalid'] });
    try {
      expect((await fails(c.ping('secure.invalid'))).message).toContain('https://secure.invalid/v2/');
      expect((await fails(c.ping('plain.invalid:5000'))).message).toContain('http://plain.invalid:5000/v2/');
    } finally {
      await c.close();
    }
  });
});

describe('content verification', () => {
  it('refuses manifest bytes that do not match the requested digest', async () => {
    handler = manifestResponse(enc(goodManifest.toString().replace('"layers":[]', '"layers": []')));
    const err = await fails(client.getManifest(ref({ digest: goodDigest })));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.message).toContain(goodDigest);
  });

  it('refuses a manifest by tag whose bytes contradict Docker-Content-Digest', async () => {
    handler = manifestResponse(goodManifest, { 'docker-content-digest': sha256Digest(enc('other')) });
    expect((await fails(client.getManifest(ref({ tag: 'v1' })))).code).toBe('DIGEST_MISMATCH');
  });

  it('returns the sha256 of the bytes when fetched by tag without Docker-Content-Digest', async () => {
    handler = manifestResponse(goodManifest);
    const { descriptor } = await client.getManifest(ref({ tag: 'v1' }));
    expect(descriptor).toEqual({
      mediaType: MediaTypes.OCI_MANIFEST,
      digest: goodDigest,
      size: goodManifest.length,
    });
  });

  it('refuses manifests over 4 MiB by Content-Length and while reading', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    handler = manifestResponse(big);
    expect((await fails(client.getManifest(ref({ tag: 'big' })))).code).toBe('MANIFEST_TOO_LARGE');
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.OCI_MANIFEST }); // chunked, no length
      res.end(big);
    };
    expect((await fails(client.getManifest(ref({ tag: 'big' })))).code).toBe('MANIFEST_TOO_LARGE');
  });

  it('refuses non-JSON manifests', async () => {
    const html = enc('<html>login page</html>');
    handler = manifestResponse(html, { 'docker-content-digest': sha256Digest(html) });
    expect((await fails(client.getManifest(ref({ tag: 'v1' })))).code).toBe('MANIFEST_INVALID');
  });

  it('refuses blobs that do not hash to their digest, buffered and streamed', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end('tampered');
    };
    const digest = sha256Digest(enc('original'));
    expect((await fails(client.getBlob(ref(), digest))).code).toBe('DIGEST_MISMATCH');
    const stream = await client.getBlobStream(ref(), digest);
    const consumed = (async () => {
      for await (const _ of stream as AsyncIterable<Buffer>) {
        /* drain */
      }
    })();
    expect((await fails(consumed)).code).toBe('DIGEST_MISMATCH');
  });
});

describe('retries and errors', () => {
  it('honours 429 Retry-After and then succeeds', async () => {
    let n = 0;
    handler = (req, res, body) => {
      if (n++ === 0) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
        return;
      }
      manifestResponse(goodManifest, { 'docker-content-digest': goodDigest })(req, res, body);
    };
    const { descriptor } = await client.getManifest(ref({ tag: 'v1' }));
    expect(descriptor.digest).toBe(goodDigest);
    expect(seen.map((s) => s.method)).toEqual(['GET', 'GET']);
  });

  it('never retries POST, and puts the OCI error body into the message', async () => {
    handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          errors: [{ code: 'UNAVAILABLE', message: 'maintenance', detail: { until: 'soon' } }],
        }),
      );
    };
    const err = await fails(client.mountBlob(ref(), 'other/repo', goodDigest));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toContain('HTTP 503');
    expect(err.message).toContain('UNAVAILABLE: maintenance {"until":"soon"}');
    expect(seen).toHaveLength(1);
  });

  it('gives up on persistent 5xx for idempotent requests after the retry budget', async () => {
    handler = (_req, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    };
    const err = await fails(client.headBlob(ref(), goodDigest));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(seen).toHaveLength(3);
  });
});

describe('connection reuse', () => {
  it('reuses keep-alive connections for sequential manifest HEADs', async () => {
    handler = (_req, res) => {
      res.writeHead(200, {
        'content-type': MediaTypes.OCI_MANIFEST,
        'content-length': String(goodManifest.length),
        'docker-content-digest': goodDigest,
      });
      res.end();
    };
    const c = createRegistryClient({ env: {} });
    try {
      const before = connections;
      for (let i = 0; i < 20; i++)
        expect((await c.headManifest(ref({ tag: `t${i}` })))?.digest).toBe(goodDigest);
      expect(seen.filter((s) => s.method === 'HEAD')).toHaveLength(20);
      // Allow one spare socket opened while the first is being returned to the pool; without
      // keep-alive on HEAD this would be 20.
      expect(connections - before).toBeLessThanOrEqual(2);
    } finally {
      await c.close();
    }
  });

  it('keeps thousands of concurrent HEADs on at most `concurrency` connections', async () => {
    handler = (_req, res) => {
      res.writeHead(200, {
        'content-type': MediaTypes.OCI_MANIFEST,
        'content-length': String(goodManifest.length),
        'docker-content-digest': goodDigest,
      });
      res.end();
    };
    const c = createRegistryClient({ env: {}, concurrency: 8 });
    try {
      const before = connections;
      const results = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => c.headManifest(ref({ tag: `t${i}` }))),
      );
      expect(results.every((d) => d?.digest === goodDigest)).toBe(true);
      expect(seen.filter((s) => s.method === 'HEAD')).toHaveLength(2000);
      expect(connections - before).toBeLessThanOrEqual(8);
    } finally {
      await c.close();
    }
  });

  it('drains small unwanted bodies to reuse the connection, and drops large ones', async () => {
    const big = Buffer.alloc(1024 * 1024, 1);
    handler = (req, res) => {
      const body = req.url?.includes('big') ? big : enc('{"errors":[]}');
      res.writeHead(202, { 'content-length': String(body.length) });
      res.end(body);
    };
    const c = createRegistryClient({ env: {}, concurrency: 1 });
    const digest = `sha256:${'a'.repeat(64)}`;
    try {
      const before = connections;
      for (let i = 0; i < 5; i++) await c.deleteManifest(ref({ digest }));
      expect(connections - before).toBe(1);
      await c.deleteManifest({ registry: double.host, repository: 'demo/big', digest });
      await c.deleteManifest(ref({ digest }));
      expect(connections - before).toBe(2);
    } finally {
      await c.close();
    }
  });
});

describe('timeouts', () => {
  it('turns a registry that never answers into one TIMEOUT line, retried like a lost connection', async () => {
    handler = () => {
      /* never answer */
    };
    const c = createRegistryClient({ env: {}, timeoutMs: 150, retries: 1 });
    try {
      const err = await fails(c.ping(double.host));
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toBe(
        `registry at http://${double.host}/v2/ did not answer within 150ms after 2 attempts`,
      );
      expect(seen).toHaveLength(2);
    } finally {
      await c.close();
    }
  });

  it('fails a body that stops mid-transfer instead of hanging', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100' });
      res.write('only part of it');
    };
    const c = createRegistryClient({ env: {}, timeoutMs: 150, retries: 0 });
    try {
      const err = await fails(c.getBlob(ref(), goodDigest));
      expect(err.code).toBe('REGISTRY_UNREACHABLE');
      expect(err.message).toContain(`reading response from http://${double.host}/v2/demo/app/blobs/`);
      expect(err.message).not.toContain('\n');
    } finally {
      await c.close();
    }
  });
});

describe('redirects', () => {
  it('follows a blob redirect to another host without sending Authorization there', async () => {
    const blob = enc('blob from storage');
    const c = createRegistryClient({
      credentials: staticCredentials({ [double.host]: { username: 'u', password: 'secret-pw' } }),
    });
    try {
      handler = (req, res) => {
        if (!req.headers.authorization) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="double"' });
          res.end();
          return;
        }
        res.writeHead(307, { location: `http://${storage.host}/blobs/abc?X-Amz-Signature=zzz` });
        res.end();
      };
      expect(Buffer.from(await c.getBlob(ref(), sha256Digest(blob))).toString()).toBe('blob from storage');
      expect(seen.at(-1)?.authorization).toMatch(/^Basic /);
      expect(storageSeen).toHaveLength(1);
      expect(storageSeen[0]?.authorization).toBeUndefined();
    } finally {
      await c.close();
    }
  });
});

describe('pagination', () => {
  it('follows Link rel="next" relative to the registry and sorts the union', async () => {
    const pages: Record<string, { tags: string[]; next?: string }> = {
      first: { tags: ['b', 'z'], next: '/v2/demo/app/tags/list?last=z&n=2' },
      z: { tags: ['a', 'm'], next: '/v2/demo/app/tags/list?last=m&n=2' },
      m: { tags: ['c'] },
    };
    handler = (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const page = pages[u.searchParams.get('last') ?? 'first'];
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(page?.next ? { link: `<${page.next}>; rel="next"` } : {}),
      });
      res.end(JSON.stringify({ name: 'demo/app', tags: page?.tags }));
    };
    expect(await client.listTags(ref())).toEqual(['a', 'b', 'c', 'm', 'z']);
    expect(seen[0]?.url).toBe('/v2/demo/app/tags/list?n=1000');
    expect(seen).toHaveLength(3);
  });

  it('pages the catalog', async () => {
    handler = (req, res) => {
      const last = new URL(req.url ?? '/', 'http://x').searchParams.get('last');
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(last ? {} : { link: '</v2/_catalog?last=b&n=1000>; rel="next"' }),
      });
      res.end(JSON.stringify({ repositories: last ? ['a/c'] : ['b', 'a/a'] }));
    };
    expect(await client.catalog(double.host)).toEqual(['a/a', 'a/c', 'b']);
  });
});

describe('referrers API', () => {
  it('uses the API when the registry has it, filtering by artifactType', async () => {
    const d = (artifactType: string, hex: string) => ({
      mediaType: MediaTypes.OCI_MANIFEST,
      digest: `sha256:${hex.repeat(64)}`,
      size: 10,
      artifactType,
    });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.OCI_INDEX });
      res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_INDEX,
          manifests: [d('a/x', '1'), d('b/y', '2')],
        }),
      );
    };
    const r = await client.referrers({ ...ref(), digest: goodDigest }, { artifactType: 'b/y' });
    expect(r).toEqual({ source: 'api', descriptors: [d('b/y', '2')] });
    expect(seen[0]?.url).toBe(`/v2/demo/app/referrers/${goodDigest}?artifactType=b%2Fy`);
  });
});

describe('bearer scope escalation', () => {
  it('re-requests a token for the union of scopes on insufficient_scope, and caches per scope set', async () => {
    const tokenRequests: string[][] = [];
    const tokenServer = await listen((req, res) => {
      const scopes = new URL(req.url ?? '/', 'http://x').searchParams.getAll('scope');
      tokenRequests.push(scopes);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: Buffer.from(JSON.stringify(scopes)).toString('base64url') }));
    });
    const c = createRegistryClient({ env: {} });
    try {
      const challenge = (scope: string, error?: string) =>
        `Bearer realm="http://${tokenServer.host}/token",service="double",scope="${scope}"${error ? `,error="${error}"` : ''}`;
      handler = (req, res) => {
        const granted: string[] = req.headers.authorization?.startsWith('Bearer ')
          ? (JSON.parse(Buffer.from(req.headers.authorization.slice(7), 'base64url').toString()) as string[])
          : [];
        if (granted.length === 0) {
          res.writeHead(401, { 'www-authenticate': challenge('repository:demo/app:pull') });
          return res.end();
        }
        // this double also wants pull on a second repository (as a mount-like operation would)
        if (!granted.includes('repository:shared/base:pull')) {
          res.writeHead(401, {
            'www-authenticate': challenge('repository:shared/base:pull', 'insufficient_scope'),
          });
          return res.end();
        }
        manifestResponse(goodManifest, { 'docker-content-digest': goodDigest })(req, res, Buffer.alloc(0));
      };
      await c.getManifest(ref({ tag: 'v1' }));
      expect(tokenRequests).toEqual([
        ['repository:demo/app:pull'],
        ['repository:demo/app:pull', 'repository:shared/base:pull'],
      ]);
      // Second call: both tokens come from the cache (keyed by realm, service and scope set).
      await c.getManifest(ref({ tag: 'v1' }));
      expect(tokenRequests).toHaveLength(2);
    } finally {
      await c.close();
      await tokenServer.stop();
    }
  });
});
