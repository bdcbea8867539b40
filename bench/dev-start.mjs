// `aibox start -- true` benchmark (issue 10 "Performance"): ≤ `podman run --rm IMAGE true` + 80 ms.
//
//   node --import tsx bench/dev-start.mjs          (BENCH_RUNS, default 11)
//
// Fairness: both are fresh processes with the same environment and the same engine flags (the local
// profile's runtime, cgroup manager and ulimits), on the same tiny busybox image in local storage.
// `aibox start` does what it always does: the full preflight (channel fetched from the loopback
// docker-registry, signature from the cache, floor), the container lookup, then `podman run --rm`
// with its name, labels, the workspace mount and the user mapping. The peer is the bare `podman run
// --rm IMAGE true`. The V8 code cache is warm (one untimed warm-up per case). Interleaved, medians.
// Writes bench/results/dev-start.json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createExec } from '../src/adapters/exec.ts';
import { Podman } from '../src/engine/podman.ts';
import { entry, startDevWorld } from '../test/helpers/dev.ts';
import { testEngineSettings } from '../test/helpers/engine.ts';
import { median, writeResults } from './lib.mjs';

const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 11));
const node = process.execPath;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

// Asynchronous on purpose: the test registry's forwarding proxy runs in this process, so a blocking
// spawnSync would starve it.
function timed(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err}`));
      else resolve(ms);
    });
  });
}

if (spawnSync(node, ['scripts/build.mjs'], { stdio: 'inherit' }).status !== 0)
  throw new Error('build failed');

const w = await startDevWorld('bench-start');
try {
  const tag = '24.04-20250701';
  const img = await w.publishImage('base', tag, { content: 'bench-start' });
  await w.publishChannel([entry(img)]);
  const dev = await w.developer('bench');
  for (const args of [['setup', '--registry', `${w.host}/aibox`, '--key', w.pubPath], ['update']]) {
    const r = await dev.aibox(args);
    if (r.code !== 0) throw new Error(`aibox ${args[0]} failed: ${r.stderr}`);
  }
  const env = { PATH: process.env.PATH, ...dev.env };
  const aibox = join(process.cwd(), 'dist/aibox.cjs');
  const settings = testEngineSettings();
  const g = new Podman(settings, createExec()).globalArgs();
  const ulimits = settings.ulimits.flatMap((u) => ['--ulimit', u]);
  const local = `${w.host}/aibox/base:${tag}`; // the name aibox update installs (src/sandbox/update.ts localRef)
  const ws = mkdtempSync(join(tmpdir(), 'aibox-bench-ws-'));
  const cases = {
    'node -e 0': () => timed(node, ['-e', '0'], env),
    'podman run --rm IMAGE true': () =>
      timed(settings.podman, [...g, 'run', '--rm', ...ulimits, local, 'true'], env),
    'aibox start -- true': () => timed(node, [aibox, 'start', '--workspace', ws, '--', 'true'], env),
  };
  // AIBOX_BASELINE=/path/to/older/checkout (built): the same case with that build, interleaved (before/after).
  const baseline = process.env.AIBOX_BASELINE;
  if (baseline) {
    const old = join(baseline, 'dist/aibox.cjs');
    cases['aibox start -- true (baseline)'] = () =>
      timed(node, [old, 'start', '--workspace', ws, '--', 'true'], env);
  }
  if (process.env.BENCH_DEBUG) {
    const c = spawn(node, [aibox, '--debug', 'start', '--workspace', ws, '--', 'true'], {
      env,
      stdio: 'inherit',
    });
    await new Promise((r) => c.on('close', r));
  }
  for (const f of Object.values(cases)) await f(); // warm-up: page cache, V8 code cache
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) for (const [k, f] of Object.entries(cases)) times[k].push(await f());
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v))]));
  const overhead = round(m['aibox start -- true'] - m['podman run --rm IMAGE true']);
  console.log('medians (ms):');
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(30)} ${v}`);
  console.log(`  start overhead over podman run: ${overhead} ms (target ≤ 80)`);
  if (baseline)
    console.log(
      `  baseline overhead over podman run: ${round(m['aibox start -- true (baseline)'] - m['podman run --rm IMAGE true'])} ms`,
    );
  writeResults('dev-start', { runs: RUNS, mediansMs: m, overheadMs: overhead, target: '≤ +80 ms' });
  await w.podman.rmi([local], { force: true }).catch(() => undefined);
} finally {
  await w.dispose();
}
