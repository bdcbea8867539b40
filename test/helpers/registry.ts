/**
 * Test helper: a real CNCF distribution registry (`docker-registry serve`) on a free loopback port,
 * with a temp data dir. Optional htpasswd (bcrypt via `htpasswd -B`), token auth, and delete toggle.
 * Every process started here is stopped by `stop()`; call it in afterAll.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { registryConfigYaml } from '../../src/registry/config.js';

export interface StartRegistryOptions {
  readonly htpasswd?: { readonly user: string; readonly password: string };
  /** storage.delete.enabled; default true. */
  readonly deleteEnabled?: boolean;
  /** Token auth (`auth.token`): pair with test/helpers/token-server.ts. */
  readonly tokenAuth?: {
    readonly realm: string;
    readonly service: string;
    readonly issuer: string;
    readonly certPath: string;
  };
}

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  readonly dataDir: string;
  readonly configPath: string;
  stop(): Promise<void>;
  /** Kill the registry process but keep its storage and port (a registry going down mid-operation). */
  kill(): Promise<void>;
  /** Start it again on the same port and storage after `kill()`. */
  restart(): Promise<void>;
}

const BINARY = process.env.AIBOX_TEST_REGISTRY_BIN ?? 'docker-registry';

function bcryptLine(user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-niB', user], { input: password, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `htpasswd -B failed (${r.error?.message ?? r.stderr.trim()}); install apache2-utils (apt-get install apache2-utils)`,
    );
  }
  return r.stdout.trim();
}

async function waitReady(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${logs()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry at ${url} did not answer /v2/ within 15s: ${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start a real registry on 127.0.0.1:<free port>; resolves once `/v2/` answers. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-registry-'));
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.yml');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const extra: string[] = [];
  if (opts.htpasswd) {
    const htpath = join(dir, 'htpasswd');
    await writeFile(htpath, `${bcryptLine(opts.htpasswd.user, opts.htpasswd.password)}\n`);
    extra.push('auth:', '  htpasswd:', '    realm: aibox-test', `    path: ${htpath}`);
  }
  if (opts.tokenAuth) {
    const t = opts.tokenAuth;
    extra.push(
      'auth:',
      '  token:',
      `    realm: ${t.realm}`,
      `    service: ${t.service}`,
      `    issuer: ${t.issuer}`,
      `    rootcertbundle: ${t.certPath}`,
    );
  }
  await writeFile(
    configPath,
    registryConfigYaml({
      host,
      storage: dataDir,
      deleteEnabled: opts.deleteEnabled ?? true,
      logLevel: 'warn',
      extra,
    }),
  );

  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-4000);
  };
  const launch = () => {
    const c = spawn(BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', keep);
    c.stderr.on('data', keep);
    const failed = new Promise<never>((_, reject) =>
      c.once('error', (e) => reject(new Error(`cannot start ${BINARY}: ${e.message}`))),
    );
    failed.catch(() => {});
    return { c, failed };
  };
  let { c: child, failed: spawnFailed } = launch();

  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  };
  const stop = async (): Promise<void> => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  };
  const restart = async (): Promise<void> => {
    await kill();
    ({ c: child, failed: spawnFailed } = launch());
    await Promise.race([waitReady(url, child, () => out), spawnFailed]);
  };

  try {
    await Promise.race([waitReady(url, child, () => out), spawnFailed]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, url, dataDir, configPath, stop, kill, restart };
}
