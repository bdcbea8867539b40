// Pipeline benchmark (issue targets, one run): for the local profile's five variants,
//   (a) orchestration overhead of `aiboxctl rebuild` (wall − time inside podman/scanner/registry
//       calls, from the run record's `timings`) ≤ 3 % of its wall time, and
//   (b) `aiboxctl rebuild` wall time ≤ 0.7 × bench/pipeline-sequential.sh (the same podman
//       build/push + `cosign sign` per variant, sequentially, then `latest` moved per variant).
//
//   node --import tsx bench/pipeline.mjs        (BENCH_RUNS=3 by default; needs podman, docker-registry,
//                                                skopeo, cosign via test/helpers/cosign.ts, dist/)
//
// Fairness:
// - Every measured run (of either tool) gets its OWN fresh docker-registry (empty storage), so both
//   upload every blob; nothing is resumed (a fresh --date per run as well).
// - Same podman cache policy for both: `--layers=false` (what rebuild passes: no layer cache read or
//   written, no intermediate layers committed); both pass the same build args incl. CREATED = now.
// - Same warm-up: BENCH_WARMUP (default 1) untimed runs of each tool first (page cache, podman's
//   storage, the registry binary), then the measured runs.
// - Same inputs: same Containerfiles, base FROM the local debootstrap base by digest, children FROM
//   the pushed base by digest (pulled once), push format oci, same key file, same podman flags
//   (engine section of profiles/local/aibox.yaml).
// - Runs alternate and the order flips every round (ours first, then the script first, …) so
//   machine noise and any warm-up hit both alike. Clean-up (registry stop, podman rmi) is untimed.
// Ours does more than the script: the resume check, verify-after-sign, and the signed channel.
// Writes bench/results/pipeline.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCosign } from '../test/helpers/cosign.ts';
import { testEngineSettings } from '../test/helpers/engine.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { median, writeResults } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const RETRIES = Number(process.env.BENCH_RETRIES ?? 5); // failed attempts are retried and listed in the results
const CONFIG = join(ROOT, 'profiles/local/aibox.yaml');
const CTL = join(ROOT, 'dist/aiboxctl.cjs');
const SCRIPT = join(ROOT, 'bench/pipeline-sequential.sh');
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 1));
// The local base the profile builds FROM, read from the profile itself so the two never drift.
const LOCAL_BASE = (await import('yaml')).parse(readFileSync(CONFIG, 'utf8')).baseImage;
const PW = 'bench-password';
const TARGET_RATIO = 0.7;
const TARGET_OVERHEAD = 3;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const engine = testEngineSettings();
const podmanGlobal = [
  ...(engine.runtime ? ['--runtime', engine.runtime] : []),
  ...(engine.cgroupManager ? ['--cgroup-manager', engine.cgroupManager] : []),
  ...(engine.root ? ['--root', engine.root] : []),
  ...(engine.runroot ? ['--runroot', engine.runroot] : []),
];
const podmanBuildExtra = engine.ulimits.flatMap((u) => ['--ulimit', u]);

function run(cmd, args, { env = {}, cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: performance.now() - t, out, err }));
  });
}

function podman(args) {
  return spawnSync(engine.podman, [...podmanGlobal, ...args], { encoding: 'utf8' });
}

/** Remove what one run left in local storage: images with its run-id label, and anything named after its registry. */
function cleanImages(registryHost, runId) {
  const ids = new Set();
  // Both label namespaces: the run-id label moves from io.aibox.* to dev.aibox.* (issue 8 §3).
  if (runId)
    for (const key of ['io.aibox.run-id', 'dev.aibox.run-id'])
      for (const id of podman(['images', '-q', '--filter', `label=${key}=${runId}`]).stdout.split('\n'))
        if (id) ids.add(id);
  const names = podman(['images', '--format', '{{.Repository}}@{{.Digest}} {{.ID}}']).stdout.split('\n');
  for (const line of names) if (line.startsWith(`${registryHost}/`)) ids.add(line.split(' ')[1]);
  if (ids.size) podman(['rmi', '--force', ...ids]);
}

function dateFor(k) {
  const d = new Date(Date.UTC(2040, 0, 1) + k * 86_400_000);
  return d.toISOString().slice(0, 10);
}

// ---- preconditions -------------------------------------------------------------------------------
for (const bin of ['docker-registry', 'skopeo', engine.podman]) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} not found on PATH`);
}
const cosign = await getCosign();
if (!cosign) throw new Error('cosign is not available (test/helpers/cosign.ts getCosign())');
if (!existsSync(CTL)) {
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('node scripts/build.mjs failed');
}

const tmp = await mkdtemp(join(tmpdir(), 'aibox-bench-pipeline-'));
const cleanups = [];
let sigint = false;
process.once('SIGINT', () => (sigint = true));

try {
  const keys = join(tmp, 'keys');
  const gen = await run(process.execPath, [CTL, 'keys', 'generate', '--output-dir', keys], {
    env: { COSIGN_PASSWORD: PW },
  });
  if (gen.code !== 0) throw new Error(`keys generate failed: ${gen.err}`);
  const key = join(keys, 'cosign.key');

  const lb = await run(process.execPath, [CTL, '--config', CONFIG, 'local-base'], {
    env: { XDG_DATA_HOME: join(tmp, 'xdg-setup') },
  });
  if (lb.code !== 0) throw new Error(`local-base failed: ${lb.err}`);
  const baseDigest = () => podman(['image', 'inspect', '--format', '{{.Digest}}', LOCAL_BASE]).stdout.trim();
  const baseAtStart = baseDigest();

  let dateIndex = 0;
  const ours = async (i) => {
    const reg = await startRegistry();
    cleanups.push(reg.stop);
    const date = dateFor(dateIndex++);
    const xdg = join(tmp, `xdg-${i}-${date}`);
    await mkdir(xdg, { recursive: true });
    const r = await run(
      process.execPath,
      [
        CTL,
        '--config',
        CONFIG,
        '--registry',
        `${reg.host}/aibox`,
        'rebuild',
        '--allow-unscanned',
        '--date',
        date,
        '--key',
        key,
        '--json',
      ],
      { env: { COSIGN_PASSWORD: PW, XDG_DATA_HOME: xdg } },
    );
    let record;
    try {
      record = JSON.parse(r.out).data; // the --json envelope {outcome, exitCode, data}
    } catch {
      /* reported below */
    }
    await reg.stop();
    cleanImages(reg.host, record?.runId);
    await rm(xdg, { recursive: true, force: true });
    if (r.code !== 0 || record?.result !== 'success') {
      return {
        ok: false,
        error: (record?.failure
          ? `${record.failure.variant}: ${record.failure.step}: ${record.failure.reason}`
          : r.err
        ).slice(-600),
      };
    }
    return { ok: true, ms: r.ms, record };
  };
  const script = async (i) => {
    const reg = await startRegistry();
    cleanups.push(reg.stop);
    const date = dateFor(dateIndex++);
    const runId = `bench-seq-${process.pid}-${i}-${date}`;
    const times = join(tmp, `seq-${i}-${date}.times`);
    const r = await run('sh', [SCRIPT], {
      env: {
        REGISTRY: reg.host,
        DATE: date,
        COSIGN: cosign,
        COSIGN_KEY: key,
        COSIGN_PASSWORD: PW,
        RUN_ID: runId,
        LOCAL_BASE,
        PODMAN: engine.podman,
        PODMAN_GLOBAL_ARGS: podmanGlobal.join(' '),
        PODMAN_BUILD_ARGS: podmanBuildExtra.join(' '),
        SEQ_TIMES: times,
        // cosign offline, as test/helpers/cosign.ts runs it: no TUF cache, nothing leaves the machine
        HOME: tmp,
        SIGSTORE_NO_CACHE: 'true',
        TUF_ROOT: join(tmp, '.sigstore-tuf'),
      },
    });
    const steps = existsSync(times)
      ? (await readFile(times, 'utf8'))
          .trim()
          .split('\n')
          .map((l) => l.split(' '))
          .map(([variant, step, ms]) => ({ variant, step, ms: Number(ms) }))
      : [];
    await reg.stop();
    cleanImages(reg.host, runId);
    if (r.code !== 0) return { ok: false, error: r.err.slice(-600) };
    return { ok: true, ms: r.ms, steps };
  };

  const failures = [];
  const attempt = async (name, f, i) => {
    for (let a = 0; ; a++) {
      const res = await f(i);
      if (res.ok) return { ...res, attempts: a + 1 };
      console.log(
        `  ${name} run ${i + 1} attempt ${a + 1} FAILED: ${res.error.split('\n').slice(-3).join(' | ')}`,
      );
      failures.push({ tool: name, run: i + 1, attempt: a + 1, error: res.error });
      if (a >= RETRIES || sigint) throw new Error(`${name} failed ${a + 1} times; giving up`);
    }
  };

  for (let w = 0; w < WARMUP && !sigint; w++) {
    await attempt('aiboxctl rebuild (warm-up)', ours, 1000 + w);
    await attempt('sequential.sh (warm-up)', script, 1000 + w);
    console.log(`  warm-up ${w + 1}/${WARMUP} done (untimed)`);
  }
  const oursRuns = [];
  const scriptRuns = [];
  for (let i = 0; i < RUNS && !sigint; i++) {
    const order = i % 2 === 0 ? ['ours', 'script'] : ['script', 'ours'];
    for (const which of order) {
      if (which === 'ours') {
        const o = await attempt('aiboxctl rebuild', ours, i);
        oursRuns.push(o);
        const t = o.record.timings;
        console.log(
          `  run ${i + 1} aiboxctl rebuild  ${(o.ms / 1000).toFixed(1)} s (record wall ${(t.wallMs / 1000).toFixed(1)} s, overhead ${t.overheadMs} ms = ${t.overheadPercent} %)`,
        );
      } else {
        const s = await attempt('sequential.sh', script, i);
        scriptRuns.push(s);
        console.log(`  run ${i + 1} sequential.sh     ${(s.ms / 1000).toFixed(1)} s`);
      }
    }
  }
  const baseAtEnd = baseDigest();

  // ---- aggregate ----------------------------------------------------------------------------------
  const oursWall = median(oursRuns.map((o) => o.ms));
  const scriptWall = median(scriptRuns.map((s) => s.ms));
  const ratio = oursWall / scriptWall;
  const overheadPct = median(oursRuns.map((o) => o.record.timings.overheadPercent));
  const overheadMs = median(oursRuns.map((o) => o.record.timings.overheadMs));
  const recordWall = median(oursRuns.map((o) => o.record.timings.wallMs));
  const externalMs = median(oursRuns.map((o) => o.record.timings.externalMs));
  // Whole-process overhead: what the run record's wall does not see (node start, config, key decrypt).
  const processOverheadPct = median(
    oursRuns.map((o) => ((o.ms - o.record.timings.wallMs + o.record.timings.overheadMs) / o.ms) * 100),
  );

  const variants = Object.keys(oursRuns[0].record.variants);
  const stepNames = oursRuns[0].record.variants[variants[0]].steps.map((s) => s.name);
  const oursSteps = {};
  for (const v of variants) {
    oursSteps[v] = {};
    for (const s of stepNames)
      oursSteps[v][s] = median(
        oursRuns.map((o) => o.record.variants[v].steps.find((x) => x.name === s)?.durationMs ?? 0),
      );
  }
  const oursStepTotals = Object.fromEntries(
    stepNames.map((s) => [s, variants.reduce((a, v) => a + oursSteps[v][s], 0)]),
  );
  const scriptSteps = {};
  for (const { variant, step } of scriptRuns[0].steps) {
    scriptSteps[variant] ??= {};
    scriptSteps[variant][step] = median(
      scriptRuns.map((r) => r.steps.find((x) => x.variant === variant && x.step === step)?.ms ?? 0),
    );
  }
  const scriptStepTotals = {};
  for (const st of Object.values(scriptSteps))
    for (const [k, ms] of Object.entries(st)) scriptStepTotals[k] = (scriptStepTotals[k] ?? 0) + ms;

  // Timeline of the median ours run: when each variant's steps started/ended (ms from the first step),
  // to see the critical path (base chain, then the children two at a time, then promotion).
  const medianRun = [...oursRuns].sort((a, b) => a.ms - b.ms)[oursRuns.length >> 1];
  const allSteps = Object.values(medianRun.record.variants).flatMap((v) =>
    v.steps.filter((x) => x.startedAt).map((x) => ({ v: v.variant, ...x })),
  );
  const t0 = Math.min(...allSteps.map((x) => Date.parse(x.startedAt)));
  const timeline = {};
  for (const x of allSteps) {
    const start = Date.parse(x.startedAt) - t0;
    timeline[x.v] ??= { startMs: start, endMs: 0, steps: {} };
    timeline[x.v].startMs = Math.min(timeline[x.v].startMs, start);
    timeline[x.v].endMs = Math.max(timeline[x.v].endMs, start + (x.durationMs ?? 0));
    timeline[x.v].steps[x.name] = [start, start + (x.durationMs ?? 0)];
  }
  const lastVariantEnd = Math.max(...Object.values(timeline).map((t) => t.endMs));

  const out = {
    runs: RUNS,
    warmup: WARMUP,
    variants,
    buildConcurrency: null,
    medians: {
      oursWallMs: round(oursWall, 0),
      scriptWallMs: round(scriptWall, 0),
      ratioOursOverScript: round(ratio, 3),
      oursRecord: { wallMs: recordWall, externalMs, overheadMs, overheadPercent: overheadPct },
      oursProcessOverheadPercent: round(processOverheadPct, 2),
    },
    targets: {
      ratio: { target: `≤ ${TARGET_RATIO}`, value: round(ratio, 3), met: ratio <= TARGET_RATIO },
      overheadPercent: {
        target: `≤ ${TARGET_OVERHEAD}`,
        value: overheadPct,
        met: overheadPct <= TARGET_OVERHEAD,
      },
    },
    stepsMedianMs: {
      ours: oursSteps,
      oursTotals: oursStepTotals,
      script: scriptSteps,
      scriptTotals: scriptStepTotals,
    },
    oursMedianRunTimeline: {
      variants: timeline,
      lastVariantEndMs: lastVariantEnd,
      afterVariantsMs: medianRun.record.timings.wallMs - lastVariantEnd,
    },
    perRun: {
      ours: oursRuns.map((o) => ({
        wallMs: round(o.ms, 0),
        timings: o.record.timings,
        attempts: o.attempts,
        date: o.record.date,
      })),
      script: scriptRuns.map((s) => ({ wallMs: round(s.ms, 0), attempts: s.attempts })),
    },
    failures,
    localBase: {
      ref: LOCAL_BASE,
      digestAtStart: baseAtStart,
      digestAtEnd: baseAtEnd,
      changed: baseAtStart !== baseAtEnd,
    },
    fairness: [
      'one fresh docker-registry (empty storage) per measured run, for each tool: every blob is really uploaded',
      'fresh --date per run: nothing is resumed',
      'podman build --layers=false for both (as rebuild passes): no layer cache read or written, no intermediate layers',
      `${WARMUP} untimed warm-up run(s) of each tool before the measured runs`,
      'same Containerfiles, base FROM the local base by digest, children FROM the pushed base by digest (pulled once), push format oci, same podman engine flags',
      'runs alternate and the order flips every round; clean-up (registry stop, podman rmi) is not timed',
      'ours additionally: resume check, verify after sign, checks before promotion, signed channel; and removes its build images inside its wall time',
    ],
    host: { cpus: (await import('node:os')).cpus().length, node: process.version, cosign },
  };
  try {
    const { parsePlatformConfigText } = await import('../src/config/parse.ts');
    out.buildConcurrency = parsePlatformConfigText(
      await readFile(CONFIG, 'utf8'),
      CONFIG,
    ).engine.buildConcurrency;
  } catch {
    /* informational only */
  }
  writeResults('pipeline', out);

  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`\npipeline, local profile, ${RUNS} runs each (medians):`);
  console.log(`  aiboxctl rebuild (process)   ${s(oursWall)}`);
  console.log(`  pipeline-sequential.sh       ${s(scriptWall)}`);
  console.log(
    `  ratio ours / script          ${ratio.toFixed(3)}  (target ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'})`,
  );
  console.log(
    `  overhead (run record)        ${overheadMs} ms of ${s(recordWall)} = ${overheadPct} %  (target ≤ ${TARGET_OVERHEAD} %: ${overheadPct <= TARGET_OVERHEAD ? 'met' : 'NOT met'})`,
  );
  console.log(`  overhead incl. process start ${processOverheadPct.toFixed(2)} %`);
  console.log(
    '  ours, step totals over variants (median ms): ' +
      Object.entries(oursStepTotals)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
  console.log(
    '  script, step totals (median ms):             ' +
      Object.entries(scriptStepTotals)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
  console.log(
    '  ours, median run timeline (s from first step): ' +
      Object.entries(timeline)
        .map(([v, t]) => `${v} ${(t.startMs / 1000).toFixed(1)}–${(t.endMs / 1000).toFixed(1)}`)
        .join(', ') +
      `; after the variants (checks, latest, channel) ${((medianRun.record.timings.wallMs - lastVariantEnd) / 1000).toFixed(1)}`,
  );
  if (baseAtStart !== baseAtEnd)
    console.log(`  WARNING: ${LOCAL_BASE} changed during the benchmark (someone rebuilt it)`);
  if (failures.length)
    console.log(`  ${failures.length} failed attempt(s) were retried; see failures in the results`);
  console.log('results: bench/results/pipeline.json');
} finally {
  for (const stop of cleanups) await stop().catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
}
