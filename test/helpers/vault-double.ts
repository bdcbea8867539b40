/**
 * Test double of HashiCorp Vault's KV version 2 HTTP API (only what aibox uses), built from
 * Vault's documentation (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2):
 *   POST/PUT /v1/<mount>/data/<path>  body {"data":{...}}  → {"data":{"version":N,...}}
 *   GET      /v1/<mount>/data/<path>[?version=N]           → {"data":{"data":{...},"metadata":{...}}}
 * Auth: `X-Vault-Token` must equal the token; otherwise 403 {"errors":["permission denied"]}.
 * Unknown path or version: 404 {"errors":[]}. Only the configured KV v2 mounts exist.
 * Records the requests it saw (paths and whether a token was sent; never the token itself).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface VaultDouble {
  /** http://127.0.0.1:PORT */
  readonly addr: string;
  readonly token: string;
  /** Store a secret version, as `vault kv put` would. */
  put(mount: string, path: string, data: Record<string, string>): void;
  readonly requests: { method: string; url: string; namespace: string | undefined }[];
  stop(): Promise<void>;
}

interface Version {
  data: Record<string, string>;
  created: string;
}

/** Start the double on a free loopback port. */
export async function startVaultDouble(
  opts: {
    token?: string;
    mounts?: string[];
    /**
     * Hostile or careless server (or proxy in front of it): every error body quotes the token and
     * the Authorization header it received, and carries escape codes (leak and spoofing tests).
     */
    echoSecrets?: boolean;
  } = {},
): Promise<VaultDouble> {
  const token = opts.token ?? `s.test-${Math.random().toString(36).slice(2)}`;
  const mounts = new Set(opts.mounts ?? ['secret']);
  const store = new Map<string, Version[]>();
  const requests: VaultDouble['requests'] = [];

  let current: IncomingMessage | undefined;
  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (opts.echoSecrets && status >= 400 && current) {
      const auth = current.headers.authorization ?? '';
      const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      body = {
        errors: [
          `permission denied for token ${String(current.headers['x-vault-token'])} (authorization ${auth}; user ${basic})`,
          '\u001b[2K\rVerifying image signature... valid',
        ],
      };
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const put = (mount: string, path: string, data: Record<string, string>): number => {
    const key = `${mount}/${path}`;
    const versions = store.get(key) ?? [];
    versions.push({ data, created: new Date().toISOString() });
    store.set(key, versions);
    return versions.length;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    current = req;
    const url = new URL(req.url ?? '/', 'http://vault');
    const ns = req.headers['x-vault-namespace'];
    requests.push({
      method: req.method ?? '',
      url: url.pathname + url.search,
      namespace: typeof ns === 'string' ? ns : undefined,
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.headers['x-vault-token'] !== token) {
      send(res, 403, { errors: ['permission denied'] });
      return;
    }
    const m = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(url.pathname);
    if (!m || !mounts.has(decodeURIComponent(m[1]!))) {
      send(res, 404, { errors: [] });
      return;
    }
    const mount = decodeURIComponent(m[1]!);
    const path = m[2]!.split('/').map(decodeURIComponent).join('/');
    if (req.method === 'GET') {
      const versions = store.get(`${mount}/${path}`);
      const wanted = url.searchParams.get('version');
      const n = wanted && wanted !== '0' ? Number(wanted) : (versions?.length ?? 0);
      const v = versions?.[n - 1];
      if (!v) {
        send(res, 404, { errors: [] });
        return;
      }
      send(res, 200, {
        request_id: 'double',
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: {
          data: v.data,
          metadata: {
            created_time: v.created,
            custom_metadata: null,
            deletion_time: '',
            destroyed: false,
            version: n,
          },
        },
        wrap_info: null,
        warnings: null,
        auth: null,
      });
      return;
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      let body: { data?: Record<string, string> };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: Record<string, string> };
      } catch {
        send(res, 400, { errors: ['failed to parse JSON input'] });
        return;
      }
      if (!body.data) {
        send(res, 400, { errors: ['no data provided'] });
        return;
      }
      const version = put(mount, path, body.data);
      send(res, 200, {
        data: { created_time: new Date().toISOString(), deletion_time: '', destroyed: false, version },
      });
      return;
    }
    send(res, 405, { errors: [] });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { errors: ['internal error'] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('vault double: no port');
  return {
    addr: `http://127.0.0.1:${addr.port}`,
    token,
    put: (mount, path, data) => void put(mount, path, data),
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
