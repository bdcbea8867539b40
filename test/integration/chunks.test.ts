/**
 * Start-up: each command loads only the bundle chunks it uses (issue 8 §4). Runs the built CLIs
 * (dist/, from test/global-setup.ts) with a loader hook that records every module loaded, maps the
 * chunks to their sources with dist/meta.json (written by scripts/build.mjs), and checks that a
 * command never compiles code it does not run: `--version` is the entry file alone; `verify`
 * without a config file loads no zod and no yaml; no verify or sign loads the podman adapter, the
 * pipeline, scanners or (with --registry) the embedded registry.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/oci/client.js';
import { ROOT } from '../helpers/cli.js';
import { pushTinyImage } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const HOOK = join(ROOT, 'test/helpers/load-trace.mjs');
const LOCAL_PROFILE = join(ROOT, 'profiles/local/aibox.yaml');

interface Meta {
  outputs: Record<string, { bytes: number; inputs: string[] }>;
}

let dir: string;
let reg: TestRegistry | undefined;
let host = '';
let meta: Meta;
let traceN = 0;

/** Run a CLI under the load trace; returns the dist files it loaded and the sources in them. */
async function loaded(bin: 'aiboxctl' | 'aibox', args: readonly string[]) {
  const trace = join(dir, `trace-${traceN++}`);
  const r = spawnSync(process.execPath, ['--import', HOOK, join(ROOT, `dist/${bin}.mjs`), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, COSIGN_PASSWORD: 'chunks-test', AIBOX_LOAD_TRACE: trace },
  });
  expect(r.stderr).not.toMatch(/error:/);
  expect(r.status).toBe(0);
  const urls = (await readFile(trace, 'utf8')).trim().split('\n');
  const files = urls
    .filter((u) => u.startsWith('file:') && !u.endsWith('load-trace.mjs'))
    .map((u) => relative(join(ROOT, 'dist'), fileURLToPath(u)));
  const sources = files.flatMap((f) => {
    const out = meta.outputs[f];
    if (!out) throw new Error(`${f} is not in dist/meta.json`);
    return out.inputs;
  });
  return { files, sources, bytes: files.reduce((n, f) => n + (meta.outputs[f]?.bytes ?? 0), 0) };
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
    [join(ROOT, 'dist/aiboxctl.mjs'), 'keys', 'generate', '--output-dir', dir],
    {
      env: { PATH: process.env.PATH, HOME: dir, COSIGN_PASSWORD: 'chunks-test' },
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
    '%s --version loads the entry file and nothing else',
    async (bin) => {
      const r = await loaded(bin, ['--version']);
      expect(r.files).toEqual([`${bin}.mjs`]);
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
      const r = await loaded('aiboxctl', [
        '--config',
        LOCAL_PROFILE,
        ...regArgs(),
        'verify',
        '--key',
        join(dir, 'cosign.pub'),
        'chunks:v1',
      ]);
      expect(r.sources).toContain('src/config/parse.ts');
      expect(matching(r.sources, NOT_FOR_SIGNING)).toEqual([]);
      expect(matching(r.sources, /^src\/registry\/embedded/)).toEqual([]);
    });
  });

  it('every dist file the trace can see is in dist/meta.json (the map is complete)', () => {
    const chunkFiles = Object.keys(meta.outputs);
    expect(chunkFiles).toContain('aiboxctl.mjs');
    expect(chunkFiles).toContain('chunks/main.mjs');
    expect(meta.outputs['aiboxctl.mjs']?.inputs).toEqual(['src/cli/aiboxctl.ts', 'src/cli/version.ts']);
  });
});
