// Emergency-rebuild benchmark (issue 9 "Performance", one run): the targeted emergency rebuild of all five
// local-profile variants (`aiboxctl cve rebuild --cve … --cvss 9.8`) vs the weekly rebuild of the same five
// (`aiboxctl rebuild`), side by side in one run. Target: emergency ≤ 0.5 × weekly (medians).
//
//   node --import tsx bench/emergency.mjs      (BENCH_RUNS=1 by default: it is slow; needs podman,
//                                                docker-registry, dpkg-deb, dist/)
//
// What runs, per round (each round gets its own registry, loopback apt repository and key state, so nothing is
// resumed and both upload every blob):
//   1. weekly: `aiboxctl rebuild --date TODAY` of the five variants; the base installs `aibox-canary` 1.0 from the
//      loopback apt repository (test/helpers/apt-repo.ts, test/helpers/canary.ts); children FROM base by digest.
//   2. disclosure: CVE-2026-12345 (CVSS 9.8) for aibox-canary < 1.1, and 1.1 is published.
//   3. emergency: `aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8` — scan of every latest, a targeted
//      patch FROM each variant's latest digest (apt-get update + install --only-upgrade aibox-canary), re-scan,
//      sign, `-cve-` tags, promotion, channel, floor.
// Same for both: the scanner (the dpkg-reading Trivy double, test/doubles/trivy-dpkg.mjs, which pulls and mounts
// each image), the signing key, podman flags (engine section of profiles/local/aibox.yaml, plus
// engine.buildNetwork: host so builds reach the loopback repository), `buildConcurrency` (4, as the profile).
// The weekly run necessarily comes first in a round (the emergency patches its `latest`). Clean-up is untimed.
// Writes bench/results/emergency.json.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { trivyDpkg, TRIVY_DPKG } from '../test/doubles/trivy-dpkg.ts';
import { startAptRepo } from '../test/helpers/apt-repo.ts';
import { canaryBaseContainerfile } from '../test/helpers/canary.ts';
import { LOCAL_PROFILE } from '../test/helpers/engine.ts';
import { removeImagesFrom } from '../test/helpers/pipeline.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { median, writeResults } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CTL = join(ROOT, 'dist/aiboxctl.cjs');
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 1));
const TARGET_RATIO = 0.5;
const PW = 'bench-emergency-password';
const CVE = 'CVE-2026-12345';
const TODAY = new Date().toISOString().slice(0, 10);
// BENCH_DEBUG=1: both commands run with --debug and their stderr (every `Run: podman …` with its time) is kept
// in bench/results/emergency-<round>-<weekly|emergency>.log.
const DEBUG = process.env.BENCH_DEBUG === '1';
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

function run(args, env) {
  return new Promise((done, fail) => {
    const t = performance.now();
    const child = spawn(process.execPath, [CTL, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, ms: performance.now() - t, out, err }));
  });
}

const dataOf = (r, what) => {
  let doc;
  try {
    doc = JSON.parse(r.out);
  } catch {
    throw new Error(`${what}: stdout is not JSON (exit ${r.code}): ${r.err.slice(-2000)}`);
  }
  if (r.code !== 0)
    throw new Error(`${what} failed (exit ${r.code}): ${JSON.stringify(doc.error ?? doc.data?.failure)}`);
  return doc.data;
};

async function round(i) {
  const work = await mkdtemp(join(tmpdir(), `aibox-bench-emergency-${i}-`));
  const repo = await startAptRepo({ versions: ['1.0', '1.1'] });
  const reg = await startRegistry();
  try {
    const keys = join(work, 'keys');
    const gen = await run(['keys', 'generate', '--output-dir', keys], { COSIGN_PASSWORD: PW });
    if (gen.code !== 0) throw new Error(`keys generate failed: ${gen.err}`);
    const trivy = await trivyDpkg(work, { watch: ['aibox-canary'] });
    const doc = parse(await readFile(LOCAL_PROFILE, 'utf8'));
    for (const v of Object.values(doc.variants))
      v.containerfile = resolve(dirname(LOCAL_PROFILE), v.containerfile);
    doc.variants.base.containerfile = await canaryBaseContainerfile(join(work, 'base'), repo);
    doc.engine = { ...doc.engine, buildNetwork: 'host' };
    doc.scan = { scanner: 'trivy', trivyPath: TRIVY_DPKG };
    doc.signing = {
      key: join(keys, 'cosign.key'),
      trustedKeys: [{ name: 'bench', path: join(keys, 'cosign.pub') }],
    };
    const config = join(work, 'aibox.yaml');
    await writeFile(config, stringify(doc));
    const xdg = join(work, 'xdg');
    await mkdir(xdg, { recursive: true });
    const env = { COSIGN_PASSWORD: PW, XDG_DATA_HOME: xdg, ...trivy.env };
    const ctl = async (args, name) => {
      const r = await run(
        [
          '--config',
          config,
          '--registry',
          `${reg.host}/aibox`,
          ...(DEBUG ? ['--debug'] : []),
          ...args,
          '--json',
        ],
        env,
      );
      if (DEBUG) {
        await mkdir(RESULTS, { recursive: true });
        await writeFile(join(RESULTS, `emergency-${i + 1}-${name}.log`), r.err);
      }
      return r;
    };

    const weekly = await ctl(['rebuild', '--date', TODAY, '--revision', 'bench-weekly'], 'weekly');
    const w = dataOf(weekly, 'weekly rebuild');
    if (w.result !== 'success') throw new Error(`weekly rebuild: ${JSON.stringify(w.failure)}`);

    await trivy.setVulns([{ id: CVE, pkg: 'aibox-canary', fixed: '1.1', cvss: 9.8, severity: 'CRITICAL' }]);
    await repo.publish('1.1');
    const emergency = await ctl(
      ['cve', 'rebuild', '--cve', CVE, '--cvss', '9.8', '--revision', 'bench-cve'],
      'emergency',
    );
    const e = dataOf(emergency, 'cve rebuild');
    const rebuilt = Object.keys(e.variants ?? {}).sort();
    if (rebuilt.length !== Object.keys(doc.variants).length)
      throw new Error(`cve rebuild rebuilt ${rebuilt.join(', ')}, not all five variants`);
    // The re-scan really saw the patched package in every new image.
    const scans = await trivy.scans();
    for (const [v, x] of Object.entries(e.variants)) {
      const s = scans.find((l) => l.image.endsWith(`/aibox/${v}@${x.digest}`));
      if (s?.packages['aibox-canary'] !== '1.1' || s.found.length !== 0)
        throw new Error(`re-scan of ${v}@${x.digest}: ${JSON.stringify(s)}`);
    }
    // Where the time went: per variant, the steps of both run records (durations in seconds).
    const steps = (rec) =>
      Object.fromEntries(
        Object.entries(rec?.variants ?? {}).map(([v, x]) => [
          v,
          Object.fromEntries(
            (x.steps ?? [])
              .filter((st) => st.durationMs !== undefined)
              .map((st) => [st.name, Math.round(st.durationMs / 100) / 10]),
          ),
        ]),
      );
    const eRecord = e.recordPath ? JSON.parse(await readFile(e.recordPath, 'utf8')) : null;
    return {
      weeklySteps: steps(w),
      emergencySteps: steps(eRecord),
      weeklyMs: weekly.ms,
      emergencyMs: emergency.ms,
      weeklyTimings: w.timings ?? null,
      emergencyBuilds: Object.fromEntries(Object.entries(e.variants).map(([v, x]) => [v, x.build])),
    };
  } finally {
    await removeImagesFrom(reg.host).catch(() => undefined);
    await reg.stop().catch(() => undefined);
    await repo.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

const rounds = [];
for (let i = 0; i < RUNS; i++) {
  const r = await round(i);
  rounds.push(r);
  console.log(
    `  round ${i + 1}/${RUNS}: weekly ${(r.weeklyMs / 1000).toFixed(1)} s, emergency ${(r.emergencyMs / 1000).toFixed(1)} s`,
  );
}
const weekly = median(rounds.map((r) => r.weeklyMs));
const emergency = median(rounds.map((r) => r.emergencyMs));
const ratio = emergency / weekly;
const out = {
  date: new Date().toISOString(),
  runs: RUNS,
  variants: 5,
  weeklyMedianMs: Math.round(weekly),
  emergencyMedianMs: Math.round(emergency),
  ratio: Math.round(ratio * 1000) / 1000,
  target: `emergency ≤ ${TARGET_RATIO} × weekly`,
  met: ratio <= TARGET_RATIO,
  rounds,
};
writeResults('emergency', out);
console.log(`\nemergency vs weekly, five local-profile variants, ${RUNS} round(s) (medians):`);
console.log(`  aiboxctl rebuild (weekly)          ${(weekly / 1000).toFixed(1)} s`);
console.log(`  aiboxctl cve rebuild (targeted)    ${(emergency / 1000).toFixed(1)} s`);
console.log(`  ratio ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO}): ${out.met ? 'met' : 'NOT met'}`);
console.log('results: bench/results/emergency.json');
if (!out.met) process.exitCode = 1;
