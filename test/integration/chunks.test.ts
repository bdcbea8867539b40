/**
 * Start-up: each command loads only the bundle chunks it uses (issue 8 §4), and compiles them once.
 * Runs the built CLIs (dist/, from test/global-setup.ts) with AIBOX_LOAD_TRACE, where the chunk
 * loader (src/cli/loader.ts) records every chunk it loads and whether the V8 code cache served it;
 * maps the chunks to their sources with dist/meta.json (written by scripts/build.mjs), and checks
 * that a command never compiles code it does not run: `--version` is the entry file alone; `verify`
 * without a config file loads no zod and no yaml; no verify or sign loads the podman adapter, the
 * pipeline, scanners or (with --registry) the embedded registry; zod's locales are in no chunk.
 * Then the code cache: used on the second run, ignored when corrupt or not this user's.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/oci/client.js';
import { ROOT } from '../helpers/cli.js';
import { pushTinyImage } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const LOCAL_PROFILE = join(ROOT, 'profiles/local/aibox.yaml');

interface Meta {
  outputs: Record<string, { bytes: number; inputs: string[] }>;
}

let dir: string;
let reg: TestRegistry | undefined;
let host = '';
let meta: Meta;
let traceN = 0;

/**
 * Run a CLI under the load trace; returns the dist files it loaded (the entry first), the sources
 * in them, the code cache's answers, and stdout. `home` defaults to the shared test dir.
 */
async function loaded(
  bin: 'aiboxctl' | 'aibox',
  args: readonly string[],
  opts: { home?: string; env?: Record<string, string> } = {},
) {
  const trace = join(dir, `trace-${traceN++}`);
  const r = spawnSync(process.execPath, [join(ROOT, `dist/${bin}.cjs`), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: opts.home ?? dir,
      COSIGN_PASSWORD: 'chunks-test',
      AIBOX_LOAD_TRACE: trace,
      ...opts.env,
    },
  });
  expect(r.stderr).not.toMatch(/error:/i);
  expect(r.status).toBe(0);
  const lines = (await readFile(trace, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const chunks = lines.map((l) => {
    const [file, cache] = l.split(' cache=');
    if (!file || !/^chunks\/\S+\.cjs$/.test(file) || !/^(hit|miss|rejected|off)$/.test(cache ?? ''))
      throw new Error(`unexpected trace line ${JSON.stringify(l)}`);
    return { file, cache };
  });
  const files = [`${bin}.cjs`, ...chunks.map((c) => c.file)];
  const sources = files.flatMap((f) => {
    const out = meta.outputs[f];
    if (!out) throw new Error(`${f} is not in dist/meta.json`);
    return out.inputs;
  });
  const cache = [...new Set(chunks.map((c) => c.cache))];
  return { files, sources, cache, stdout: r.stdout };
}

const matching = (sources: readonly string[], re: RegExp) => sources.filter((s) => re.test(s));

// What verify and sign never use.
const NOT_FOR_SIGNING =
  /^src\/(engine\/podman|pipeline\/|scan\/|channel\/|base\/|notify\/|cli\/commands\/(pipeline|scan|registry))|node_modules\/zod\/v4\/classic/;

beforeAll(async () => {
  meta = JSON.parse(await readFile(join(ROOT, 'dist/meta.json'), 'utf8')) as Meta;
  dir = await mkdtemp(join(tmpdir(), 'aibox-chunks-'));
  reg = await startRegistry();
  host = reg.host;
  const client = createRegistryClient();
  try {
    await pushTinyImage(client, host, 'aibox/chunks', 'v1', 'chunks');
    await pushTinyImage(client, host, 'aibox/chunks', 'v2', 'chunks2');
  } finally {
    await client.close();
  }
  const g = spawnSync(
    process.execPath,
    [join(ROOT, 'dist/aiboxctl.cjs'), 'keys', 'generate', '--output-dir', dir],
    {
      env: { PATH: process.env.PATH, HOME: dir, COSIGN_PASSWORD: 'chunks-test', AIBOX_STARTUP_CACHE: 'off' },
      encoding: 'utf8',
    },
  );
  expect(g.status, g.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('chunks each command loads', () => {
  it.each(['aiboxctl', 'aibox'] as const)(
    '%s --version loads the entry file and nothing else, and touches no cache',
    async (bin) => {
      const home = await mkdtemp(join(dir, 'home-version-'));
      const r = await loaded(bin, ['--version'], { home });
      expect(r.files).toEqual([`${bin}.cjs`]);
      expect(await readdir(home)).toEqual([]);
    },
  );

  describe('sign and verify with --registry', () => {
    const regArgs = () => ['--registry', `${host}/aibox`];

    it('sign without a config file: no zod, no yaml, nothing of the pipeline, scanners or podman', async () => {
      const r = await loaded('aiboxctl', [
        ...regArgs(),
        'sign',
        '--key',
        join(dir, 'cosign.key'),
        'chunks:v1',
      ]);
      expect(matching(r.sources, /node_modules\/(zod|yaml)\//)).toEqual([]);
      expect(matching(r.sources, NOT_FOR_SIGNING)).toEqual([]);
      expect(matching(r.sources, /^src\/registry\/embedded/)).toEqual([]);
    });

    it('verify without a config file: no zod, no yaml, nothing of the pipeline, scanners or podman', async () => {
      const r = await loaded('aiboxctl', [
        ...regArgs(),
        'verify',
        '--key',
        join(dir, 'cosign.pub'),
        'chunks:v1',
      ]);
      expect(matching(r.sources, /node_modules\/(zod|yaml)\//)).toEqual([]);
      expect(matching(r.sources, /^src\/config\/(schema|parse)\.ts$/)).toEqual([]);
      expect(matching(r.sources, NOT_FOR_SIGNING)).toEqual([]);
      expect(matching(r.sources, /^src\/registry\/embedded/)).toEqual([]);
      expect(r.sources).toContain('src/signing/verify.ts'); // the trace does see what runs
    });

    it('verify with a config file: the config parser, still nothing of the pipeline, scanners or podman', async () => {
      const home = await mkdtemp(join(dir, 'home-config-'));
      const args = [
        '--config',
        LOCAL_PROFILE,
        ...regArgs(),
        'verify',
        '--key',
        join(dir, 'cosign.pub'),
        'chunks:v1',
      ];
      const r = await loaded('aiboxctl', args, { home });
      expect(r.sources).toContain('src/config/parse.ts');
      expect(matching(r.sources, NOT_FOR_SIGNING)).toEqual([]);
      expect(matching(r.sources, /^src\/registry\/embedded/)).toEqual([]);
      // The same file again: the parsed-config cache answers, so neither yaml nor zod is loaded.
      const again = await loaded('aiboxctl', args, { home });
      expect(matching(again.sources, /node_modules\/(zod|yaml)\/|^src\/config\/(schema|parse)\.ts$/)).toEqual(
        [],
      );
      expect(again.stdout).toBe(r.stdout);
    });
  });

  it('every dist file the trace can see is in dist/meta.json (the map is complete)', () => {
    const chunkFiles = Object.keys(meta.outputs);
    expect(chunkFiles).toContain('aiboxctl.cjs');
    expect(chunkFiles).toContain('chunks/main.cjs');
    expect(meta.outputs['aiboxctl.cjs']?.inputs).toEqual([
      'src/adapters/private-cache.ts',
      'src/cli/aiboxctl.ts',
      'src/cli/boot.ts',
      'src/cli/loader.ts',
      'src/cli/version.ts',
    ]);
  });

  it("no chunk holds zod's locales or classic API (English messages come from one locale file)", () => {
    const all = Object.values(meta.outputs).flatMap((o) => o.inputs);
    expect(matching(all, /node_modules\/zod\/v4\/locales\/(?!en\.js$)/)).toEqual([]);
    expect(matching(all, /node_modules\/zod\/v4\/classic\//)).toEqual([]);
  });
});

describe('V8 code cache (src/cli/loader.ts)', () => {
  const verifyArgs = () => [
    '--config',
    LOCAL_PROFILE,
    '--registry',
    `${host}/aibox`,
    'verify',
    '--key',
    join(dir, 'cosign.pub'),
    'chunks:v1',
  ];
  const cacheDir = (home: string) => join(home, '.cache', 'aibox', 'code-cache');

  it('is written on the first run and serves every chunk on the second, with the same output', async () => {
    const home = await mkdtemp(join(dir, 'home-cache-'));
    const first = await loaded('aiboxctl', verifyArgs(), { home });
    expect(first.cache).toEqual(['miss']);
    const entries = await readdir(cacheDir(home));
    expect(entries.length).toBe(first.files.length - 1);
    expect((await stat(cacheDir(home))).mode & 0o777).toBe(0o700);
    for (const e of entries) expect((await stat(join(cacheDir(home), e))).mode & 0o777).toBe(0o600);
    const second = await loaded('aiboxctl', verifyArgs(), { home });
    // the same chunks, less the config parser (the parsed-config cache answers now)
    expect(first.files).toEqual(expect.arrayContaining(second.files));
    expect(second.cache).toEqual(['hit']);
    expect(second.stdout).toBe(first.stdout);
  });

  it('ignores corrupt entries (compiles from source, same output) and replaces them', async () => {
    const home = await mkdtemp(join(dir, 'home-corrupt-'));
    const first = await loaded('aiboxctl', verifyArgs(), { home });
    const entries = await readdir(cacheDir(home));
    // Flip one byte in the middle of every payload; truncate one entry to its header.
    for (const [i, e] of entries.entries()) {
      const p = join(cacheDir(home), e);
      const buf = await readFile(p);
      if (i === 0) await writeFile(p, buf.subarray(0, 48));
      else {
        const at = Math.floor((48 + buf.length) / 2);
        buf[at] = (buf[at] ?? 0) ^ 0xff;
        await writeFile(p, buf);
      }
    }
    const corrupt = await loaded('aiboxctl', verifyArgs(), { home });
    expect(corrupt.cache).toEqual(['miss']);
    expect(corrupt.stdout).toBe(first.stdout);
    expect((await loaded('aiboxctl', verifyArgs(), { home })).cache).toEqual(['hit']);
  });

  it("hands V8 no entry made for other code: another chunk's data under this key is rejected", async () => {
    const home = await mkdtemp(join(dir, 'home-foreign-'));
    const first = await loaded('aiboxctl', verifyArgs(), { home });
    const entries = await readdir(cacheDir(home));
    // Every entry gets the (well-formed, checksummed) data of the next one: V8 must refuse it.
    const bufs = await Promise.all(entries.map((e) => readFile(join(cacheDir(home), e))));
    await Promise.all(
      entries.map((e, i) => writeFile(join(cacheDir(home), e), bufs[(i + 1) % bufs.length] ?? '')),
    );
    const foreign = await loaded('aiboxctl', verifyArgs(), { home });
    expect(foreign.cache).toEqual(['rejected']);
    expect(foreign.stdout).toBe(first.stdout);
  });

  it('is neither read nor written when the directory is writable by others, or off', async () => {
    const home = await mkdtemp(join(dir, 'home-shared-'));
    await loaded('aiboxctl', verifyArgs(), { home });
    await chmod(cacheDir(home), 0o777);
    const shared = await loaded('aiboxctl', verifyArgs(), { home });
    expect(shared.cache).toEqual(['off']);
    const off = await mkdtemp(join(dir, 'home-off-'));
    const r = await loaded('aiboxctl', verifyArgs(), { home: off, env: { AIBOX_STARTUP_CACHE: 'off' } });
    expect(r.cache).toEqual(['off']);
    expect(await readdir(off)).toEqual([]);
  });
});
