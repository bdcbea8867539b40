// Start-up benchmark (issue 8 §4), medians and ratios in one run, interleaved so machine noise hits
// every case alike:
//   - `aibox --version`                        ≤ 1.15 × `node -e 0`
//   - `aiboxctl verify --key PUB IMAGE` with a config file (the local profile)  ≤ 1.5 × `node -e 0`
//   - config load (import of the loader + read + parse + validate the local profile, cold process) ≤ 10 ms
//   - `aiboxctl sign --key KEY IMAGE`            ≤ `node -e 0` + scrypt + 40 ms
// plus, for context: the verify floor (plain Node doing a verify's requests and ECDSA check by
// hand), `cosign verify` (Go; when cosign is available), `aiboxctl --version`, `aiboxctl --help`,
// verify without a config file, and
// verify without the V8 code cache (AIBOX_STARTUP_CACHE=off: the first run after an install, or CI
// with a fresh HOME). Every other case runs with the cache warm (the untimed warm-up fills it under
// the bench's own HOME), as a developer's machine has it from the second run on.
//
//   node --import tsx bench/startup.mjs [--baseline DIR]
//
// DIR is another checkout with its own `dist/` (e.g. main, built): every case then also runs on it,
// interleaved with ours, and the results show both side by side. BENCH_RUNS (default 21) runs each.
//
// Fairness: every case is a fresh `node` process with the same environment; a real docker-registry
// on 127.0.0.1 (no embedded registry, no TLS), a tiny image, the same cosign key file (scrypt
// N=32768). Each case gets one untimed warm-up run (page cache), then runs alternate across cases.
// `--registry` points every command at the test registry, so the config file is read and validated
// but the embedded registry is never started (its probe is a separate item of the oci slice).
// Writes bench/results/startup.json.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';
import { createRegistryClient } from '../src/oci/client.ts';
import { getCosign, pushTinyImage } from '../test/helpers/cosign.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { median, writeResults } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 21));
const PW = 'bench-password';
const CONFIG = join(ROOT, 'profiles/local/aibox.yaml');
const node = process.execPath;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const bi = process.argv.indexOf('--baseline');
const baselineRoot = bi > 0 ? resolve(process.argv[bi + 1] ?? '') : undefined;
const trees = { ours: ROOT, ...(baselineRoot ? { baseline: baselineRoot } : {}) };
// The entry files: dist/*.cjs since the code-cache round, dist/*.mjs before (a baseline may be older).
const bin = (root, name) =>
  existsSync(join(root, `dist/${name}.cjs`))
    ? join(root, `dist/${name}.cjs`)
    : join(root, `dist/${name}.mjs`);
for (const [name, root] of Object.entries(trees)) {
  if (!existsSync(bin(root, 'aiboxctl'))) {
    if (name === 'baseline') throw new Error(`${root}/dist/aiboxctl.cjs missing: build the baseline first`);
    const b = spawnSync(node, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('node scripts/build.mjs failed');
  }
}

/** Wall time of one `node` process, in ms, plus its stdout; throws when it fails. */
function timed(args, env, cmd = node) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, out: r.stdout };
}

// The config-load probe: the config loader imported as its own chunk (as the CLI does), then one
// load of the local profile; prints the in-process time. Bundled from each tree's src with the CLI's
// settings: where the tree has the chunk loader (src/cli/loader.ts), the chunks are CommonJS and
// load through it with the code cache, exactly as the CLI loads them (the timer includes the
// loader's start); otherwise (an older baseline) as ESM chunks, as that CLI did.
async function buildConfigProbe(root, outdir) {
  const withLoader = existsSync(join(root, 'src/cli/loader.ts'));
  const load = JSON.stringify(join(root, 'src/config/load.ts'));
  const probe = withLoader
    ? `export async function run(path) {
  const { loadPlatformConfig } = await import(${load});
  const loaded = await loadPlatformConfig({ path, env: {}, cwd: process.cwd() });
  if (!loaded.config.variants.base) throw new Error('config not loaded');
}`
    : `const t0 = performance.now();
const { loadPlatformConfig } = await import(${load});
const loaded = await loadPlatformConfig({ path: process.argv[2], env: {}, cwd: process.cwd() });
if (!loaded.config.variants.base) throw new Error('config not loaded');
process.stdout.write(String(performance.now() - t0));`;
  const out = await build({
    stdin: { contents: probe, resolveDir: root, loader: 'ts', sourcefile: 'config-probe.ts' },
    outdir,
    outExtension: { '.js': withLoader ? '.cjs' : '.mjs' },
    entryNames: 'config-probe',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    write: !withLoader,
    ...(withLoader
      ? {}
      : {
          banner: {
            js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
          },
        }),
    define: { __AIBOX_VERSION__: '"bench"', __AIBOX_BUILD_ID__: JSON.stringify(`bench-${process.pid}`) },
    logLevel: 'warning',
  });
  if (!withLoader) return join(outdir, 'config-probe.mjs');
  // As scripts/build.mjs does: every ESM chunk rewritten to CommonJS, then a runner that loads
  // them with the tree's ChunkLoader.
  await mkdir(outdir, { recursive: true });
  for (const f of out.outputFiles) {
    const cjs = await transform(f.text, {
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      minify: true,
      supported: { 'dynamic-import': false },
    });
    await writeFile(f.path, cjs.code);
  }
  const runner = `import { ChunkLoader } from ${JSON.stringify(join(root, 'src/cli/loader.ts'))};
const t0 = performance.now();
const loader = new ChunkLoader(${JSON.stringify(outdir)}, process.env);
void loader.require('config-probe.cjs').run(process.argv[2]).then(() => {
  process.stdout.write(String(performance.now() - t0));
  loader.save();
});`;
  await build({
    stdin: { contents: runner, resolveDir: root, loader: 'ts', sourcefile: 'config-runner.ts' },
    outfile: join(outdir, 'config-runner.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    logLevel: 'warning',
  });
  return join(outdir, 'config-runner.cjs');
}

// scrypt as the key file needs it (N=32768, r=8, p=1), in a fresh process: the sign target's budget.
const scryptProbe = `const { scrypt } = await import('node:crypto');
const t0 = performance.now();
await new Promise((ok, no) => scrypt('pw', Buffer.alloc(32), 32, { N: 32768, r: 8, p: 1, maxmem: 256 * 32768 * 8 }, (e) => (e ? no(e) : ok())));
process.stdout.write(String(performance.now() - t0));`;

// The floor under `verify`: plain Node with node:http and node:crypto, hand-written for this one
// image, doing the requests `aiboxctl verify` does (HEAD the tag, GET the .sig manifest, GET the
// payload) and the ECDSA check: no CLI, no config, no error handling.
const floorProbe = (host, pub) => `const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const agent = new http.Agent({ keepAlive: true });
const [hostname, port] = ${JSON.stringify(host)}.split(':');
const get = (path, method = 'GET') =>
  new Promise((ok, no) => {
    const r = http.request({ hostname, port, path, method, agent, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }, (res) => {
      const c = [];
      res.on('data', (d) => c.push(d));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
    });
    r.on('error', no);
    r.end();
  });
(async () => {
  const key = crypto.createPublicKey(fs.readFileSync(${JSON.stringify(pub)}));
  const digest = (await get('/v2/aibox/bench/manifests/v1', 'HEAD')).headers['docker-content-digest'];
  const sig = JSON.parse((await get('/v2/aibox/bench/manifests/' + digest.replace(':', '-') + '.sig')).body);
  const layer = sig.layers[0];
  const payload = (await get('/v2/aibox/bench/blobs/' + layer.digest)).body;
  const ok = crypto.verify('sha256', payload, key, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64'));
  if (!ok) throw new Error('floor probe: signature does not verify');
  agent.destroy();
})();`;

const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-startup-'));
const reg = await startRegistry();
const client = createRegistryClient();
try {
  const env = {
    HOME: dir,
    COSIGN_PASSWORD: PW,
    XDG_DATA_HOME: join(dir, 'xdg'),
    XDG_CONFIG_HOME: join(dir, 'xdgc'),
  };
  const ctl = (root) => bin(root, 'aiboxctl');
  const g = timed([ctl(ROOT), 'keys', 'generate', '--output-dir', dir], env);
  void g;
  const key = join(dir, 'cosign.key');
  const pub = join(dir, 'cosign.pub');
  await pushTinyImage(client, reg.host, 'aibox/bench', 'v1', 'bench');
  timed([ctl(ROOT), '--registry', `${reg.host}/aibox`, 'sign', '--key', key, 'bench:v1'], env);

  const probes = {};
  for (const [name, root] of Object.entries(trees))
    probes[name] = await buildConfigProbe(root, join(dir, `probe-${name}`));
  const scryptFile = join(dir, 'scrypt-probe.mjs');
  await writeFile(scryptFile, scryptProbe);
  const floorFile = join(dir, 'verify-floor.cjs');
  await writeFile(floorFile, floorProbe(reg.host, pub));

  // Each sign run signs a fresh tag, so no run is a no-op (the .sig manifest grows by one layer).
  let signN = 0;
  const nextSignTag = async () => {
    const tag = `s${signN++}`;
    await pushTinyImage(client, reg.host, 'aibox/bench-sign', tag, tag);
    return tag;
  };

  const regFlag = ['--registry', `${reg.host}/aibox`];
  const cases = { 'node -e 0': { run: () => timed(['-e', '0'], env).ms } };
  cases['scrypt N=32768 (in-process)'] = { run: () => Number(timed([scryptFile], env).out), inProcess: true };
  cases['verify floor: node:http, 3 requests, ECDSA'] = { run: () => timed([floorFile], env).ms };
  // The Go peer, offline (no transparency log), when cosign is available (test/helpers/cosign.ts).
  const cosign = await getCosign();
  if (cosign)
    cases['cosign verify --key (Go)'] = {
      run: () =>
        timed(
          [
            'verify',
            '--key',
            pub,
            '--insecure-ignore-tlog=true',
            '--allow-http-registry',
            `${reg.host}/aibox/bench:v1`,
          ],
          { ...env, SIGSTORE_NO_CACHE: 'true', TUF_ROOT: join(dir, '.sigstore-tuf') },
          cosign,
        ).ms,
    };
  for (const [name, root] of Object.entries(trees)) {
    const s = (k) => (name === 'ours' ? k : `${k} [${name}]`);
    cases[s('aibox --version')] = { run: () => timed([bin(root, 'aibox'), '--version'], env).ms };
    cases[s('aiboxctl --version')] = { run: () => timed([ctl(root), '--version'], env).ms };
    cases[s('aiboxctl --help')] = { run: () => timed([ctl(root), '--help'], env).ms };
    cases[s('verify, no config file')] = {
      run: () => timed([ctl(root), ...regFlag, 'verify', '--key', pub, 'bench:v1'], env).ms,
    };
    cases[s('verify, local profile config')] = {
      run: () =>
        timed([ctl(root), '--config', CONFIG, ...regFlag, 'verify', '--key', pub, 'bench:v1'], env).ms,
    };
    // First run after an install or upgrade, or a CI job with a fresh HOME: no code cache.
    if (existsSync(join(root, 'src/cli/loader.ts')))
      cases[s('verify, local profile config, no code cache')] = {
        run: () =>
          timed([ctl(root), '--config', CONFIG, ...regFlag, 'verify', '--key', pub, 'bench:v1'], {
            ...env,
            AIBOX_STARTUP_CACHE: 'off',
          }).ms,
      };
    cases[s('config load (in-process)')] = {
      run: () => Number(timed([probes[name], CONFIG], env).out),
      inProcess: true,
    };
    cases[s('sign, local profile config')] = {
      pre: nextSignTag,
      run: (tag) =>
        timed([ctl(root), '--config', CONFIG, ...regFlag, 'sign', '--key', key, `bench-sign:${tag}`], env).ms,
    };
  }

  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = -1; i < RUNS; i++) {
    for (const [k, c] of Object.entries(cases)) {
      const arg = c.pre ? await c.pre() : undefined;
      const ms = c.run(arg);
      if (i >= 0) times[k].push(ms); // i = -1: untimed warm-up
    }
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const nodeMs = med['node -e 0'];
  const scryptMs = med['scrypt N=32768 (in-process)'];

  const targets = {};
  for (const name of Object.keys(trees)) {
    const s = (k) => (name === 'ours' ? k : `${k} [${name}]`);
    const signBudget = nodeMs + scryptMs + 40;
    targets[name] = {
      aiboxVersionRatio: { value: round(med[s('aibox --version')] / nodeMs, 3), target: '≤ 1.15' },
      verifyWithConfigRatio: {
        value: round(med[s('verify, local profile config')] / nodeMs, 3),
        target: '≤ 1.5',
      },
      configLoadMs: { value: round(med[s('config load (in-process)')], 2), target: '≤ 10' },
      signMs: {
        value: round(med[s('sign, local profile config')]),
        target: `≤ node + scrypt + 40 = ${round(signBudget)}`,
        overBudgetMs: round(med[s('sign, local profile config')] - signBudget),
      },
    };
    const t = targets[name];
    t.aiboxVersionRatio.met = t.aiboxVersionRatio.value <= 1.15;
    t.verifyWithConfigRatio.met = t.verifyWithConfigRatio.value <= 1.5;
    t.configLoadMs.met = t.configLoadMs.value <= 10;
    t.signMs.met = t.signMs.overBudgetMs <= 0;
  }

  const out = {
    date: new Date().toISOString(),
    runs: RUNS,
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    baseline: baselineRoot ?? null,
    mediansMs: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, round(v, 2)])),
    ratiosToNode: Object.fromEntries(
      Object.entries(med)
        .filter(([k]) => !cases[k].inProcess)
        .map(([k, v]) => [k, round(v / nodeMs, 3)]),
    ),
    targets,
  };
  writeResults('startup', out);
  console.log(`start-up, ${RUNS} runs each, interleaved (median ms; ratio to node -e 0):`);
  for (const [k, v] of Object.entries(med))
    console.log(
      `  ${k.padEnd(44)} ${v.toFixed(1).padStart(7)}${cases[k].inProcess ? '' : `  ${(v / nodeMs).toFixed(2)}×`}`,
    );
  for (const [name, t] of Object.entries(targets)) {
    console.log(`targets (${name}):`);
    for (const [k, v] of Object.entries(t))
      console.log(
        `  ${k.padEnd(24)} ${String(v.value).padStart(8)}  ${v.target}  ${v.met ? 'met' : 'NOT met'}`,
      );
  }
  console.log('results: bench/results/startup.json');
} finally {
  await client.close();
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
