/**
 * Test helper: a loopback apt repository for the CVE end-to-end tests. It builds a tiny package
 * (`aibox-canary` by default) with `dpkg-deb` in the versions asked for, writes a flat repository
 * (`Packages` + `Release` with SHA256 sums; no signature, so images add it with `[trusted=yes]`) and
 * serves it from a node:http server on 127.0.0.1 on a free port. `publish(version)` adds a version
 * to the index, as an archive does when a fix lands; apt then sees it on its next `apt-get update`.
 *
 * Podman builds reach the server only with a host network namespace: the test config sets
 * `engine.buildNetwork: host` (configuration, not product logic; docs/configuration.md).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface AptRepo {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The apt source line for images: `deb [trusted=yes] URL/ ./` */
  readonly sourceLine: string;
  readonly packageName: string;
  /** Versions in the index now, oldest first. */
  readonly published: readonly string[];
  /** Every request path the server answered, in order (what apt fetched). */
  readonly requests: readonly string[];
  /** Add a built version to the index (Packages and Release are rewritten). */
  publish(version: string): Promise<void>;
  stop(): Promise<void>;
}

export interface AptRepoOptions {
  readonly packageName?: string;
  /** Versions to build (each a .deb in the pool); default ['1.0', '1.1']. */
  readonly versions?: readonly string[];
  /** Versions in the index from the start; default: the first of `versions`. */
  readonly initiallyPublished?: readonly string[];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function buildDeb(dir: string, name: string, version: string): Promise<string> {
  const root = join(dir, `${name}_${version}`);
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await mkdir(join(root, 'usr', 'share', name), { recursive: true });
  await writeFile(join(root, 'usr', 'share', name, 'version'), `${version}\n`);
  await writeFile(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      `Version: ${version}`,
      'Architecture: all',
      'Maintainer: aibox tests <tests@aibox.invalid>',
      'Section: misc',
      'Priority: optional',
      `Description: aibox CVE test canary ${version}`,
      ' A marker package for the emergency-rebuild end-to-end test.',
      '',
    ].join('\n'),
  );
  const deb = join(dir, 'pool', `${name}_${version}_all.deb`);
  await mkdir(join(dir, 'pool'), { recursive: true });
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '1767225600' },
  });
  return deb;
}

/** Build the package versions and serve the repository on loopback. */
export async function startAptRepo(o: AptRepoOptions = {}): Promise<AptRepo> {
  const name = o.packageName ?? 'aibox-canary';
  const versions = o.versions ?? ['1.0', '1.1'];
  const dir = await mkdtemp(join(tmpdir(), 'aibox-apt-repo-'));
  const debs = new Map<string, string>();
  for (const v of versions) debs.set(v, await buildDeb(dir, name, v));
  const published: string[] = [];
  const requests: string[] = [];
  const files = new Map<string, Buffer>();

  const writeIndex = async () => {
    const stanzas: string[] = [];
    for (const v of published) {
      const deb = debs.get(v)!;
      const bytes = await readFile(deb);
      const control = (await run('dpkg-deb', ['--field', deb])).stdout.trimEnd();
      stanzas.push(
        [
          control,
          `Filename: ./pool/${name}_${v}_all.deb`,
          `Size: ${(await stat(deb)).size}`,
          `MD5sum: ${md5(bytes)}`,
          `SHA256: ${sha256(bytes)}`,
        ].join('\n'),
      );
      files.set(`/pool/${name}_${v}_all.deb`, bytes);
    }
    const packages = Buffer.from(`${stanzas.join('\n\n')}\n`);
    const release = Buffer.from(
      [
        'Origin: aibox-test',
        'Label: aibox-test',
        `Date: ${new Date().toUTCString()}`,
        'SHA256:',
        ` ${sha256(packages)} ${packages.length} Packages`,
        '',
      ].join('\n'),
    );
    files.set('/Packages', packages);
    files.set('/Release', release);
  };

  const publish = async (version: string) => {
    if (!debs.has(version)) throw new Error(`apt repo: version ${version} was not built`);
    if (!published.includes(version)) published.push(version);
    await writeIndex();
  };
  for (const v of o.initiallyPublished ?? versions.slice(0, 1)) await publish(v);

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/')
      .split('?')[0]!
      .replace(/^\/\.\//, '/')
      .replace(/\/\.\//g, '/');
    requests.push(path);
    const body = files.get(path);
    if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('apt repo: no port');
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    url,
    sourceLine: `deb [trusted=yes] ${url}/ ./`,
    packageName: name,
    get published() {
      return [...published];
    },
    requests,
    publish,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
