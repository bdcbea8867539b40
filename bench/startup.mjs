// Start-up benchmark (issue 8 §4), medians and ratios in one run, interleaved so machine noise hits
// every case alike:
//   - `aibox --version`                        ≤ 1.15 × `node -e 0`
//   - `aiboxctl verify --key PUB IMAGE` with a config file (the local profile)  ≤ 1.5 × `node -e 0`
//   - config load (import of the loader + read + parse + validate the local profile, cold process) ≤ 10 ms
//   - `aiboxctl sign --key KEY IMAGE`            ≤ `node -e 0` + scrypt + 40 ms
// plus, for context: `aiboxctl --version`, `aiboxctl --help`, verify without a config file.
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
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createRegistryClient } from '../src/oci/client.ts';
import { pushTinyImage } from '../test/helpers/cosign.ts';
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
for (const [name, root] of Object.entries(trees)) {
  if (!existsSync(join(root, 'dist/aiboxctl.mjs'))) {
    if (name === 'baseline') throw new Error(`${root}/dist/aiboxctl.mjs missing: build the baseline first`);
    const b = spawnSync(node, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('node scripts/build.mjs failed');
  }
}

/** Wall time of one process, in ms, plus its stdout; throws when it fails. */
function timed(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(node, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, out: r.stdout };
}

// The config-load probe: the loader imported as its own chunk (as the CLI does), then one load of
// the local profile; prints the in-process time. Bundled from each tree's src with the CLI settings.
async function buildConfigProbe(root, outdir) {
  const entry = `const t0 = performance.now();
const { loadPlatformConfig } = await import(${JSON.stringify(join(root, 'src/config/load.ts'))});
const loaded = await loadPlatformConfig({ path: process.argv[2], env: {}, cwd: process.cwd() });
if (!loaded.config.variants.base) throw new Error('config not loaded');
process.stdout.write(String(performance.now() - t0));`;
  await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts', sourcefile: 'config-probe.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    entryNames: 'config-probe',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
    define: { __AIBOX_VERSION__: '"bench"' },
    logLevel: 'warning',
  });
  return join(outdir, 'config-probe.mjs');
}

// scrypt as the key file needs it (N=32768, r=8, p=1), in a fresh process: the sign target's budget.
const scryptProbe = `const { scrypt } = await import('node:crypto');
const t0 = performance.now();
await new Promise((ok, no) => scrypt('pw', Buffer.alloc(32), 32, { N: 32768, r: 8, p: 1, maxmem: 256 * 32768 * 8 }, (e) => (e ? no(e) : ok())));
process.stdout.write(String(performance.now() - t0));`;

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
  const ctl = (root) => join(root, 'dist/aiboxctl.mjs');
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
  for (const [name, root] of Object.entries(trees)) {
    const s = (k) => (name === 'ours' ? k : `${k} [${name}]`);
    cases[s('aibox --version')] = { run: () => timed([join(root, 'dist/aibox.mjs'), '--version'], env).ms };
    cases[s('aiboxctl --version')] = { run: () => timed([ctl(root), '--version'], env).ms };
    cases[s('aiboxctl --help')] = { run: () => timed([ctl(root), '--help'], env).ms };
    cases[s('verify, no config file')] = {
      run: () => timed([ctl(root), ...regFlag, 'verify', '--key', pub, 'bench:v1'], env).ms,
    };
    cases[s('verify, local profile config')] = {
      run: () =>
        timed([ctl(root), '--config', CONFIG, ...regFlag, 'verify', '--key', pub, 'bench:v1'], env).ms,
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
