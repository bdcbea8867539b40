/**
 * Test helper: a loopback Docker-token-spec server (https://distribution.github.io/distribution/spec/auth/token/)
 * issuing RS256 JWTs with an `x5c` header, so a REAL docker-registry with `auth.token` accepts them.
 * Key and self-signed certificate come from `openssl` into a temp dir. Records every request.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenRequestRecord {
  readonly service: string | null;
  readonly scopes: readonly string[];
  /** "user" of the Basic credentials presented, or undefined for anonymous. */
  readonly user: string | undefined;
  readonly status: number;
}

export interface TokenServerOptions {
  /** Accepted users; anonymous requests get tokens only if `anonymousActions` allows. */
  readonly users?: Readonly<Record<string, string>>;
  /** Actions granted per repository to an authenticated user (default: everything asked for). */
  readonly grant?: (
    user: string | undefined,
    repository: string,
    asked: readonly string[],
  ) => readonly string[];
  /** Which response field carries the token (default both, as distribution's docs show). */
  readonly field?: 'token' | 'access_token' | 'both';
  /** Omit expires_in (clients must default to 60 s). */
  readonly omitExpiresIn?: boolean;
  readonly service?: string;
  readonly issuer?: string;
}

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate for the registry's `auth.token.rootcertbundle`. */
  readonly certPath: string;
  readonly requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Start the token server on 127.0.0.1:<random port>. */
export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-token-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-subj',
      '/CN=aibox-test-token',
      '-days',
      '2',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`openssl failed: ${r.error?.message ?? r.stderr}`);
  }
  const key = createPrivateKey(await readFile(keyPath));
  const certDer = new X509Certificate(await readFile(certPath)).raw;
  const service = opts.service ?? 'registry.aibox.test';
  const issuer = opts.issuer ?? 'aibox-test-issuer';
  const requests: TokenRequestRecord[] = [];

  const sign = (sub: string, access: { type: string; name: string; actions: string[] }[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const s = createSign('RSA-SHA256').update(`${head}.${claims}`).sign(key);
    return `${head}.${claims}.${b64url(s)}`;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authz = req.headers.authorization;
    const reply = (status: number, body: unknown) => {
      requests.push({ service: url.searchParams.get('service'), scopes, user, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token') {
      reply(404, { error: 'not found' });
      return;
    }
    if (authz?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
      if (!u || opts.users?.[u] === undefined || opts.users[u] !== rest.join(':')) {
        user = u;
        reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] });
        return;
      }
      user = u;
    } else if (opts.users !== undefined) {
      reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      return;
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const s of scopes) {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      const type = s.slice(0, first);
      const name = s.slice(first + 1, last);
      const asked = s
        .slice(last + 1)
        .split(',')
        .filter(Boolean);
      const granted = type === 'repository' && opts.grant ? opts.grant(user, name, asked) : asked;
      access.push({ type, name, actions: asked.filter((a) => granted.includes(a)) });
    }
    const token = sign(user ?? '', access);
    const body: Record<string, unknown> = { issued_at: new Date().toISOString() };
    if (opts.field !== 'access_token') body.token = token;
    if (opts.field !== 'token') body.access_token = token;
    if (!opts.omitExpiresIn) body.expires_in = 300;
    reply(200, body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    realm: `http://127.0.0.1:${addr.port}/token`,
    service,
    issuer,
    certPath,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
