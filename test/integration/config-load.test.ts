import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { serialize } from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  dataDir,
  embeddedDataDir,
  loadDeveloperConfig,
  loadPlatformConfig,
} from '../../src/config/load.js';
import { cacheKey, PrivateCache } from '../../src/adapters/private-cache.js';
import { isAiboxError } from '../../src/core/errors.js';
import { LOCAL_PROFILE, testEngineSettings } from '../helpers/engine.js';

describe('config loading (real files)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('platform config search order', () => {
    it('uses built-in defaults when nothing is found', async () => {
      const cwd = join(dir, 'empty');
      await mkdir(cwd, { recursive: true });
      const l = await loadPlatformConfig({ env: {}, cwd });
      expect(l.path).toBeUndefined();
      expect(l.dir).toBe(cwd);
      expect(Object.keys(l.config.variants)).toHaveLength(5);
    });

    it('prefers --config over AIBOX_CONFIG over ./aibox.yaml', async () => {
      const cwd = join(dir, 'order');
      await mkdir(join(cwd, 'sub'), { recursive: true });
      await writeFile(join(cwd, 'aibox.yaml'), 'registry:\n  project: fromcwd\n');
      await writeFile(join(cwd, 'env.yaml'), 'registry:\n  project: fromenv\n');
      await writeFile(join(cwd, 'sub', 'flag.yaml'), 'registry:\n  project: fromflag\n');
      const env = { AIBOX_CONFIG: 'env.yaml' };
      expect((await loadPlatformConfig({ env: {}, cwd })).config.registry.project).toBe('fromcwd');
      expect((await loadPlatformConfig({ env, cwd })).config.registry.project).toBe('fromenv');
      const flag = await loadPlatformConfig({ path: 'sub/flag.yaml', env, cwd });
      expect(flag.config.registry.project).toBe('fromflag');
      expect(flag.path).toBe(join(cwd, 'sub', 'flag.yaml'));
      expect(flag.dir).toBe(join(cwd, 'sub'));
    });

    it('fails with CONFIG_NOT_FOUND naming a given-but-missing file', async () => {
      for (const opts of [{ path: 'nope.yaml', env: {} }, { env: { AIBOX_CONFIG: 'nope.yaml' } }]) {
        const err = await loadPlatformConfig({ ...opts, cwd: dir }).catch((e: unknown) => e);
        expect(isAiboxError(err, 'CONFIG_NOT_FOUND')).toBe(true);
        expect((err as Error).message).toContain(join(dir, 'nope.yaml'));
      }
    });

    it('names the file relative to cwd with line and column in errors', async () => {
      const cwd = join(dir, 'bad');
      await mkdir(cwd, { recursive: true });
      await writeFile(join(cwd, 'aibox.yaml'), 'scan:\n  scanner: trivvy\n');
      await expect(loadPlatformConfig({ env: {}, cwd })).rejects.toThrow(
        'aibox.yaml:2:12: scan.scanner: invalid value "trivvy" (allowed: trivy, harbor, none)',
      );
    });

    it('resolves embedded.dataDir against the config file, else XDG', async () => {
      const cwd = join(dir, 'data');
      await mkdir(cwd, { recursive: true });
      await writeFile(join(cwd, 'aibox.yaml'), 'embedded:\n  dataDir: reg\n');
      const l = await loadPlatformConfig({ env: {}, cwd });
      expect(embeddedDataDir(l, {})).toBe(join(cwd, 'reg'));
      const d = await loadPlatformConfig({ env: {}, cwd: dir });
      expect(embeddedDataDir(d, { XDG_DATA_HOME: '/x' })).toBe('/x/aibox/registry');
    });
  });

  describe('the local profile', () => {
    it('is valid, uses the embedded registry and carries the host quirks', async () => {
      const l = await loadPlatformConfig({ path: LOCAL_PROFILE, env: {}, cwd: dir });
      expect(l.config.registry.host).toBeNull();
      expect(l.config.scan.scanner).toBe('none');
      expect(Object.keys(l.config.variants)).toEqual(['base', 'java', 'node', 'dotnet', 'full']);
      expect(l.config.variants.java?.containerfile).toBe('images/java/Containerfile');
      expect(testEngineSettings()).toMatchObject({
        runtime: 'runc',
        cgroupManager: 'cgroupfs',
        ulimits: ['nofile=1024:1024', 'nproc=1024:1024'],
      });
    });
  });

  describe('developer config and XDG dirs', () => {
    it('reads $XDG_CONFIG_HOME/aibox/config.yaml, else defaults', async () => {
      const xdg = join(dir, 'xdg');
      expect((await loadDeveloperConfig({ env: { XDG_CONFIG_HOME: xdg } })).path).toBeUndefined();
      await mkdir(join(xdg, 'aibox'), { recursive: true });
      await writeFile(
        join(xdg, 'aibox', 'config.yaml'),
        'variant: java\nregistry:\n  host: harbor.internal\n',
      );
      const d = await loadDeveloperConfig({ env: { XDG_CONFIG_HOME: xdg } });
      expect(d.path).toBe(join(xdg, 'aibox', 'config.yaml'));
      expect(d.config.variant).toBe('java');
      expect(d.config.registry.host).toBe('harbor.internal');
    });

    it('falls back to ~/.config and ~/.local/share, ignoring relative XDG values', () => {
      expect(configDir({}, '/home/dev')).toBe('/home/dev/.config/aibox');
      expect(dataDir({ XDG_DATA_HOME: 'rel' }, '/home/dev')).toBe('/home/dev/.local/share/aibox');
      expect(dataDir({ XDG_DATA_HOME: '/data' })).toBe('/data/aibox');
      expect(configDir({ HOME: '/h' })).toBe('/h/.config/aibox');
    });

    it('uses the home option when given', async () => {
      const home = join(dir, 'home');
      await mkdir(join(home, '.config', 'aibox'), { recursive: true });
      await writeFile(join(home, '.config', 'aibox', 'config.yaml'), 'variant: node\n');
      expect((await loadDeveloperConfig({ env: {}, home })).config.variant).toBe('node');
    });
  });
  // src/config/load.ts: a bundled build stores what validated, keyed by build id + exact text.
  describe('parsed-config cache', () => {
    let n = 0;
    const setup = () => {
      const env = { XDG_CACHE_HOME: join(dir, `cache-${n++}`) };
      const cacheDir = join(env.XDG_CACHE_HOME, 'aibox', 'config-cache');
      return { env, cacheDir };
    };
    const text = async () => readFile(LOCAL_PROFILE, 'utf8');

    it('returns exactly what the parser returns, on the storing load and on the cached one', async () => {
      const { env, cacheDir } = setup();
      const fresh = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir });
      const first = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b1' });
      expect(await readdir(cacheDir)).toHaveLength(1);
      const second = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b1' });
      expect(first).toStrictEqual(fresh);
      expect(second).toStrictEqual(fresh);
      const devFile = join(dir, 'dev-cache.yaml');
      await writeFile(devFile, 'variant: java\nregistry:\n  host: harbor.internal\n');
      const devFresh = await loadDeveloperConfig({ path: devFile, env });
      await loadDeveloperConfig({ path: devFile, env, cacheId: 'b1' });
      expect(await loadDeveloperConfig({ path: devFile, env, cacheId: 'b1' })).toStrictEqual(devFresh);
    });

    it('serves a stored entry without parsing, only to the same build, and ignores a corrupt one', async () => {
      const { env, cacheDir } = setup();
      const real = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b1' });
      // Replace the stored entry by a well-formed one holding a different config: a load that
      // returns it did not parse.
      const key = cacheKey('aibox-config', 'b1', 'platform', await text());
      const planted = { ...real.config, registry: { ...real.config.registry, project: 'from-the-cache' } };
      new PrivateCache(env, 'config-cache').write([[key, serialize(planted)]]);
      const hit = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b1' });
      expect(hit.config.registry.project).toBe('from-the-cache');
      // Another build never reads it.
      const other = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b2' });
      expect(other.config).toStrictEqual(real.config);
      // A flipped byte: the entry reads as absent and the file is parsed again.
      const file = join(cacheDir, `${key}.bin`);
      const buf = await readFile(file);
      buf[buf.length - 3] = (buf[buf.length - 3] ?? 0) ^ 0xff;
      await writeFile(file, buf);
      const again = await loadPlatformConfig({ path: LOCAL_PROFILE, env, cwd: dir, cacheId: 'b1' });
      expect(again.config).toStrictEqual(real.config);
    });

    it("never stores a config that fails validation: the error is the parser's, every time", async () => {
      const { env, cacheDir } = setup();
      const bad = join(dir, 'bad-cache.yaml');
      await writeFile(bad, 'registry:\n  project: Not_Valid\n');
      const messages: string[] = [];
      for (const cacheId of [undefined, 'b1', 'b1']) {
        const e: unknown = await loadPlatformConfig({ path: bad, env, cwd: dir, cacheId }).catch(
          (x: unknown) => x,
        );
        expect(isAiboxError(e) && e.code).toBe('CONFIG_INVALID');
        messages.push((e as Error).message);
      }
      expect(new Set(messages).size).toBe(1);
      expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
    });

    it('never copies a credential to disk: a config with a Slack webhook is not stored', async () => {
      const { env, cacheDir } = setup();
      const withHook = join(dir, 'hook-cache.yaml');
      const hook = 'https://hooks.slack.example/services/T000/B000/cache-secret';
      await writeFile(withHook, `notify:\n  slackWebhook: ${hook}\n`);
      for (let i = 0; i < 2; i++) {
        const l = await loadPlatformConfig({ path: withHook, env, cwd: dir, cacheId: 'b1' });
        expect(l.config.notify.slackWebhook).toBe(hook);
      }
      expect(await readdir(cacheDir)).toEqual([]);
    });

    it('is off with AIBOX_STARTUP_CACHE=off', async () => {
      const { env, cacheDir } = setup();
      await loadPlatformConfig({
        path: LOCAL_PROFILE,
        env: { ...env, AIBOX_STARTUP_CACHE: 'off' },
        cwd: dir,
        cacheId: 'b1',
      });
      expect(await readdir(cacheDir).catch(() => 'absent')).toBe('absent');
    });
  });
});
