/**
 * The quickstart's demo material (scripts/quickstart/, issue 10 §7): the loopback demo apt repository that the
 * emergency-fix part installs aibox-canary from, and the rule that the demo scanner stays out of product code.
 * The quickstart itself (`npm run quickstart`, run on CI after `npm test`) checks every step's exit code and
 * output and exits non-zero when one does not do what it should.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface DemoRepo {
  readonly url: string;
  readonly port: number;
  readonly sourceLine: string;
  publish(versions: readonly string[]): void;
  stop(): void;
}
interface DemoRepoModule {
  createDemoRepo(dir: string, o?: { port?: number }): Promise<DemoRepo>;
  PACKAGE: string;
}

const ROOT = new URL('../../', import.meta.url).pathname;
const moduleUrl = new URL('../../scripts/quickstart/demo-apt-repo.mjs', import.meta.url).href;

let dir: string;
let repo: DemoRepo;
let mod: DemoRepoModule;

beforeAll(async () => {
  mod = (await import(moduleUrl)) as DemoRepoModule;
  dir = await mkdtemp(join(tmpdir(), 'aibox-quickstart-demo-'));
  repo = await mod.createDemoRepo(dir);
});
afterAll(async () => {
  (repo as DemoRepo | undefined)?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const r = await fetch(`${repo.url}${path}`);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
};

describe('the demo apt repository (scripts/quickstart/demo-apt-repo.mjs)', () => {
  it('serves on loopback an index of exactly the published versions; each .deb matches its SHA256', async () => {
    expect(mod.PACKAGE).toBe('aibox-canary');
    expect(repo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(repo.sourceLine).toBe(`deb [trusted=yes] ${repo.url}/ ./`);

    repo.publish(['1.0']);
    let index = (await get('/Packages')).body.toString();
    expect(index.match(/^Version: .*$/gm)).toEqual(['Version: 1.0']);

    repo.publish(['1.0', '1.1']); // the fix lands: apt sees it on its next update
    index = (await get('/Packages')).body.toString();
    expect(index.match(/^Version: .*$/gm)).toEqual(['Version: 1.0', 'Version: 1.1']);
    const release = (await get('/Release')).body.toString();
    const sum = createHash('sha256').update(Buffer.from(index)).digest('hex');
    expect(release).toContain(` ${sum} ${Buffer.byteLength(index)} Packages`);

    for (const stanza of index.trim().split('\n\n')) {
      const file = /^Filename: \.\/(.+)$/m.exec(stanza)![1]!;
      const deb = await get(`/./${file}`); // apt asks for ./pool/… under the flat repository
      expect(deb.status, file).toBe(200);
      expect(createHash('sha256').update(deb.body).digest('hex'), file).toBe(
        /^SHA256: (\w+)$/m.exec(stanza)![1],
      );
    }
  });

  it('serves nothing but the index and the pool: other paths and traversal are 404', async () => {
    for (const path of [
      '/',
      '/src/',
      '/../../../etc/passwd',
      '/pool/../Packages.tmp',
      '/%2e%2e/etc/passwd',
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it('stop() ends the server (the quickstart also ends it when it exits: the child watches its stdin)', async () => {
    const other = await mod.createDemoRepo(join(dir, 'second'));
    expect((await fetch(`${other.url}/Packages`)).status).toBe(200);
    other.stop();
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      refused = await fetch(`${other.url}/Packages`).then(
        () => false,
        () => true,
      );
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toBe(true);
  });
});

describe('the demo scanner stays demo material', () => {
  it('no product code (src/) references the demo scanner or the quickstart demo', async () => {
    const offenders: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.(ts|mjs|js)$/.test(e.name) && !p.includes('__tests__')) {
          const text = await readFile(p, 'utf8');
          if (/demo-scanner|scripts\/quickstart|trivy-dpkg|TRIVY_DPKG/.test(text)) offenders.push(p);
        }
      }
    };
    await walk(join(ROOT, 'src'));
    expect(offenders).toEqual([]);
  });

  it('the quickstart and its demo files import nothing from test/', async () => {
    const files = [
      'scripts/quickstart.mjs',
      ...(await readdir(join(ROOT, 'scripts/quickstart'))).map((f) => `scripts/quickstart/${f}`),
    ];
    for (const f of files) {
      const text = await readFile(join(ROOT, f), 'utf8');
      expect(text, f).not.toMatch(/from ['"][^'"]*\btest\//);
    }
  });
});
