// Developer CLI benchmark (issue 10 "Performance"), medians and ratios in one run, interleaved:
//   - `aibox check` (channel fetched from the loopback registry) ≤ 1.0 × (`podman pull` of the present image +
//     `cosign verify --key`), and ≤ 1.5 × `node -e 0`
//   - `aibox check --offline` (from the cache) ≤ `node -e 0` + `podman image exists` + 15 ms
//   - `aibox update` when already up to date ≤ 1.0 × (`podman pull` + `cosign verify`) (its ≤ 3 requests are
//     counted in test/e2e/dev-update.e2e.test.ts)
//
//   node --import tsx bench/dev-cli.mjs          (BENCH_RUNS, default 11)
//
// Fairness: every case is a fresh process with the same environment, against the same real docker-registry on
// 127.0.0.1 (directly, no proxy), the same tiny busybox image pulled and
// signed by our signer; the V8 code cache is warm (one untimed warm-up per case), as on a developer's machine from
// the second run on. cosign is real (scripts/fetch-cosign.sh; skipped with a note when unavailable).
// Writes bench/results/dev-cli.json.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createExec } from '../src/adapters/exec.ts';
import { Podman } from '../src/engine/podman.ts';
import { getCosign } from '../test/helpers/cosign.ts';
import { entry, startDevWorld } from '../test/helpers/dev.ts';
import { testEngineSettings } from '../test/helpers/engine.ts';
import { median, writeResults } from './lib.mjs';

const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 11));
const node = process.execPath;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const spawnBuild = spawnSync(node, ['scripts/build.mjs'], { stdio: 'inherit' });
if (spawnBuild.status !== 0) throw new Error('build failed');

const w = await startDevWorld('bench-dev', { direct: true });
try {
  const img = await w.publishImage('base', '24.04-20260221', { content: 'bench' });
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
  const remote = `${w.host}/aibox/base@${img.digest}`;
  const cases = {
    'node -e 0': () => timed(node, ['-e', '0'], env),
    'podman pull (present image)': () =>
      timed(settings.podman, [...g, 'pull', '--quiet', '--tls-verify=false', remote], env),
    'podman image exists': () =>
      timed(settings.podman, [...g, 'image', 'exists', `${w.host}/aibox/base:24.04-20260221`], env),
    'aibox check (online)': () => timed(node, [aibox, 'check'], env),
    'aibox check --offline': () => timed(node, [aibox, 'check', '--offline'], env),
    'aibox update (up to date)': () => timed(node, [aibox, 'update'], env),
  };
  // AIBOX_BASELINE=/path/to/older/checkout (built): the aibox cases with that build too, interleaved.
  if (process.env.AIBOX_BASELINE) {
    const old = join(process.env.AIBOX_BASELINE, 'dist/aibox.cjs');
    cases['baseline: aibox check (online)'] = () => timed(node, [old, 'check'], env);
    cases['baseline: aibox check --offline'] = () => timed(node, [old, 'check', '--offline'], env);
    cases['baseline: aibox update (up to date)'] = () => timed(node, [old, 'update'], env);
  }
  const cosign = await getCosign();
  if (cosign) {
    cases['cosign verify --key'] = () =>
      timed(
        cosign,
        ['verify', '--key', w.pubPath, '--insecure-ignore-tlog=true', '--allow-http-registry', remote],
        { ...env, SIGSTORE_NO_CACHE: 'true', TUF_ROOT: join(w.dir, '.sigstore-tuf') },
      );
  }
  for (const f of Object.values(cases)) f(); // warm-up: page cache, V8 code cache
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) for (const [k, f] of Object.entries(cases)) times[k].push(f());
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v))]));
  const peer = cosign ? m['podman pull (present image)'] + m['cosign verify --key'] : null;
  const targets = {
    'check online / (pull + cosign verify)': peer ? round(m['aibox check (online)'] / peer, 2) : null,
    'check online / node -e 0': round(m['aibox check (online)'] / m['node -e 0'], 2),
    'check offline - (node + image exists + 15 ms)': round(
      m['aibox check --offline'] - (m['node -e 0'] + m['podman image exists'] + 15),
    ),
    'update up to date / (pull + cosign verify)': peer
      ? round(m['aibox update (up to date)'] / peer, 2)
      : null,
  };
  console.log('medians (ms):');
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(32)} ${v}`);
  console.log('targets (ratio ≤ 1.0 / 1.5; offline difference ≤ 0):');
  for (const [k, v] of Object.entries(targets)) console.log(`  ${k.padEnd(48)} ${v ?? 'n/a (no cosign)'}`);
  writeResults('dev-cli', { runs: RUNS, mediansMs: m, targets, cosign: Boolean(cosign) });
} finally {
  await w.dispose();
}
