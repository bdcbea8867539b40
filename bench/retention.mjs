#!/usr/bin/env node
/**
 * Retention benchmark (issue 11): `retention plan` for 5 repositories x 2,000 tags on a real
 * docker-registry, side by side with the bench/tags worker (list + HEAD every tag: the same lookups,
 * bound by the registry's own CPU) and with a `skopeo list-tags` + `skopeo inspect` loop; then
 * `retention apply` deleting 1,000 digests.
 *
 *   node bench/retention.mjs              (needs: esbuild, docker-registry, skopeo)
 *   BENCH_RUNS=3 BENCH_SAMPLE=50 node bench/retention.mjs
 *
 * The data: per repository 2,000 weekly-scheme tags `<prefix>-YYYYMMDD` one day apart, each a distinct
 * manifest (the default rules keep 8 and delete 1,992 per repository). Every measurement is a fresh
 * child process; medians of BENCH_RUNS runs. The skopeo loop is sampled (BENCH_SAMPLE inspects, one
 * process each, as users would run it) and extrapolated to all 10,000 tags. Writes
 * bench/results/retention.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'results');
const buildDir = join(out, '.build-retention');
const TAGS = Number(process.env.BENCH_TAGS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 50);
const APPLY_DELETES = Number(process.env.BENCH_APPLY ?? 1000);
const VARIANTS = { base: '24.04', java: '21-24.04', node: '20-24.04', dotnet: '8-24.04', full: '24.04' };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`)),
    );
  });
}

await mkdir(buildDir, { recursive: true });
await build({
  entryPoints: {
    worker: join(here, 'retention/worker.ts'),
    harness: join(here, 'retention/harness.ts'),
    tagsWorker: join(here, 'tags/worker.ts'),
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: buildDir,
  outExtension: { '.js': '.mjs' },
  packages: 'external',
  logLevel: 'warning',
});
const { startRegistry, seedDated } = await import(join(buildDir, 'harness.mjs'));

const reg = await startRegistry();
const now = new Date();
const repos = Object.entries(VARIANTS).map(([v, prefix]) => ({ repository: `aibox/${v}`, prefix }));
const variantArgs = Object.entries(VARIANTS).map(([v, p]) => `${v}=${p}`);
try {
  const t0 = performance.now();
  await seedDated(reg.host, repos, TAGS, now);
  console.error(
    `seeded ${repos.length} repos x ${TAGS} tags (distinct manifests) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const tags = [];
  const plan = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so both see the same machine load.
    const t = JSON.parse(
      await run(process.execPath, [
        join(buildDir, 'tagsWorker.mjs'),
        reg.host,
        ...repos.map((r) => r.repository),
      ]),
    );
    tags.push(t);
    const p = JSON.parse(
      await run(process.execPath, [join(buildDir, 'worker.mjs'), 'plan', reg.host, 'aibox', ...variantArgs]),
    );
    if (p.tags !== repos.length * TAGS)
      throw new Error(`plan judged ${p.tags} tags, expected ${repos.length * TAGS}`);
    plan.push(p);
    console.error(
      `run ${i + 1}: bench/tags worker ${t.ms.toFixed(0)} ms, retention plan ${p.ms.toFixed(0)} ms (${p.deletions} deletions planned)`,
    );
  }

  const skopeo = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const listed = [];
    for (const r of repos)
      listed.push({
        r,
        tags: JSON.parse(
          await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.host}/${r.repository}`]),
        ).Tags,
      });
    const listMs = performance.now() - started;
    const s0 = performance.now();
    for (let k = 0; k < SAMPLE; k++) {
      const l = listed[k % listed.length];
      await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${reg.host}/${l.r.repository}:${l.tags[(k * 37) % l.tags.length]}`,
      ]);
    }
    const perInspect = (performance.now() - s0) / SAMPLE;
    const scaledMs = listMs + perInspect * repos.length * TAGS;
    skopeo.push({ listMs, perInspectMs: perInspect, scaledMs });
    console.error(
      `skopeo run ${i + 1}: list ${listMs.toFixed(0)} ms, ${perInspect.toFixed(1)} ms/inspect -> ${(scaledMs / 1000).toFixed(1)} s scaled to ${repos.length * TAGS} tags`,
    );
  }

  const apply = [];
  for (let i = 0; i < RUNS; i++) {
    const project = `apply${i}`;
    await seedDated(reg.host, [{ repository: `${project}/base`, prefix: '24.04' }], APPLY_DELETES + 8, now);
    const a = JSON.parse(
      await run(process.execPath, [join(buildDir, 'worker.mjs'), 'apply', reg.host, project, 'base=24.04']),
    );
    if (a.deleted !== APPLY_DELETES || a.errors)
      throw new Error(`apply deleted ${a.deleted} (errors ${a.errors}), expected ${APPLY_DELETES}`);
    apply.push(a);
    console.error(`apply run ${i + 1}: ${a.deleted} digests deleted in ${a.ms.toFixed(0)} ms`);
  }

  const tagsMs = median(tags.map((r) => r.ms));
  const planMs = median(plan.map((r) => r.ms));
  const skopeoMs = median(skopeo.map((r) => r.scaledMs));
  const applyMs = median(apply.map((r) => r.ms));
  const result = {
    date: new Date().toISOString(),
    registry: 'docker-registry (CNCF distribution 2.8.2), loopback, filesystem storage',
    repos: repos.length,
    tagsPerRepo: TAGS,
    runs: RUNS,
    skopeoSample: SAMPLE,
    loadAverage: (await import('node:os')).loadavg(),
    tagsWorker: { medianMs: tagsMs, runs: tags },
    plan: { medianMs: planMs, runs: plan, ratioToTags: planMs / tagsMs, speedupVsSkopeo: skopeoMs / planMs },
    skopeo: { medianScaledMs: skopeoMs, runs: skopeo },
    apply: { deletes: APPLY_DELETES, medianMs: applyMs, runs: apply },
  };
  await writeFile(join(out, 'retention.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    [
      `retention plan, ${repos.length} x ${TAGS} tags: median ${planMs.toFixed(0)} ms; bench/tags worker on the same data ${tagsMs.toFixed(0)} ms -> ${(planMs / tagsMs).toFixed(2)}x (target <= 1.1x)`,
      `skopeo list-tags + inspect loop (sampled ${SAMPLE}, scaled): ${(skopeoMs / 1000).toFixed(1)} s -> plan is ${(skopeoMs / planMs).toFixed(1)}x faster (target >= 10x)`,
      `retention apply deleting ${APPLY_DELETES} digests: median ${(applyMs / 1000).toFixed(1)} s (target <= 30 s)`,
    ].join('\n'),
  );
} finally {
  await reg.stop();
}
