#!/usr/bin/env node
/**
 * Tags benchmark: our OCI client vs skopeo on listing + resolving 10,000 tags.
 *
 *   node bench/tags.mjs            (needs: npm install (esbuild), docker-registry, skopeo)
 *   BENCH_RUNS=5 BENCH_SAMPLE=100 node bench/tags.mjs
 *
 * Plain node is enough: the TypeScript sources (src/oci, test/helpers/registry.ts) are bundled
 * with esbuild into bench/results/.build first. It starts a real docker-registry on loopback,
 * creates 5 repositories x 2,000 tags (one tiny image per repo, the same manifest bytes PUT under
 * every tag), then measures, in a fresh child process each run:
 *   ours:   listTags on all 5 repos + headManifest on every tag (10,000 HEADs), wall time and peak RSS
 *   skopeo: `skopeo list-tags` per repo + `skopeo inspect --raw` on a sample of tags, scaled to 10,000
 *   curl:   the fair floor for the same requests: one `curl --parallel --parallel-max 32` (keep-alive
 *           connection pool, like ours) GETs the 5 tag lists, a second one HEADs all 10,000 manifests
 *           with the same Accept header; timed as processes, compared with ours as a process
 * skopeo is what users would run (one process per request); curl is the floor for "32 keep-alive
 * requests at a time". Prints medians and both ratios, and writes bench/results/tags.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'results');
const buildDir = join(out, '.build');
const REPOS = Number(process.env.BENCH_REPOS ?? 5);
const TAGS = Number(process.env.BENCH_TAGS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 50);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(cmd, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
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
  entryPoints: { worker: join(here, 'tags/worker.ts'), harness: join(here, 'tags/harness.ts') },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: buildDir,
  outExtension: { '.js': '.mjs' },
  packages: 'external',
  logLevel: 'warning',
});
const { startRegistry, seed } = await import(join(buildDir, 'harness.mjs'));

const reg = await startRegistry();
const repos = Array.from({ length: REPOS }, (_, i) => `bench/repo${i}`);
try {
  const t0 = performance.now();
  await seed(reg.host, repos, TAGS);
  const seedMs = performance.now() - t0;
  console.error(`seeded ${REPOS} repos x ${TAGS} tags in ${(seedMs / 1000).toFixed(1)} s`);

  const ours = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const line = await run(process.execPath, [join(buildDir, 'worker.mjs'), reg.host, ...repos]);
    const r = JSON.parse(line);
    r.processMs = performance.now() - started;
    if (r.heads !== REPOS * TAGS) throw new Error(`expected ${REPOS * TAGS} HEADs, got ${r.heads}`);
    ours.push(r);
    console.error(
      `ours run ${i + 1}: ${r.ms.toFixed(0)} ms (process ${r.processMs.toFixed(0)} ms), peak RSS ${r.maxRssMB.toFixed(1)} MB`,
    );
  }

  // For the record: the same work with an unbounded Promise.all fan-out (client semaphore only).
  const fanout = JSON.parse(
    await run(process.execPath, [join(buildDir, 'worker.mjs'), reg.host, ...repos], {
      ...process.env,
      BENCH_FANOUT: '1',
    }),
  );
  console.error(
    `ours, unbounded fan-out: ${fanout.ms.toFixed(0)} ms, peak RSS ${fanout.maxRssMB.toFixed(1)} MB`,
  );

  const skopeo = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    let listed = 0;
    for (const repo of repos) {
      const json = JSON.parse(
        await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.host}/${repo}`]),
      );
      listed += json.Tags.length;
    }
    const listMs = performance.now() - started;
    const s0 = performance.now();
    for (let k = 0; k < SAMPLE; k++) {
      const repo = repos[k % repos.length];
      await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${reg.host}/${repo}:v${(k * 37) % TAGS}`,
      ]);
    }
    const perInspect = (performance.now() - s0) / SAMPLE;
    const scaledMs = listMs + perInspect * REPOS * TAGS;
    skopeo.push({ listMs, perInspectMs: perInspect, scaledMs, listed });
    console.error(
      `skopeo run ${i + 1}: list ${listMs.toFixed(0)} ms, ${perInspect.toFixed(1)} ms/inspect -> ${(scaledMs / 1000).toFixed(1)} s scaled`,
    );
  }

  // curl, the fair floor: same requests, 32 at a time over a keep-alive pool, one process per phase.
  const ACCEPT = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ].join(', ');
  const curlDir = join(buildDir, 'curl');
  await mkdir(curlDir, { recursive: true });
  const curlArgs = ['--silent', '--show-error', '--fail', '--parallel', '--parallel-max', '32'];
  const curl = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const listCfg = repos
      .map(
        (r, k) =>
          `url = "http://${reg.host}/v2/${r}/tags/list"\noutput = "${join(curlDir, `list-${k}.json`)}"`,
      )
      .join('\n');
    await writeFile(join(curlDir, 'list.cfg'), `${listCfg}\n`);
    await run('curl', [...curlArgs, '--config', join(curlDir, 'list.cfg')]);
    const lists = await Promise.all(
      repos.map(async (r, k) => ({
        repo: r,
        tags: JSON.parse(await readFile(join(curlDir, `list-${k}.json`), 'utf8')).tags,
      })),
    );
    const heads = lists.flatMap(({ repo, tags }) =>
      tags.map((t) => `url = "http://${reg.host}/v2/${repo}/manifests/${t}"\noutput = "/dev/null"`),
    );
    await writeFile(join(curlDir, 'heads.cfg'), `${heads.join('\n')}\n`);
    await run('curl', [
      ...curlArgs,
      '--head',
      '--header',
      `Accept: ${ACCEPT}`,
      '--config',
      join(curlDir, 'heads.cfg'),
    ]);
    const ms = performance.now() - started;
    if (heads.length !== REPOS * TAGS)
      throw new Error(`curl: expected ${REPOS * TAGS} HEADs, got ${heads.length}`);
    curl.push({ ms, heads: heads.length });
    console.error(`curl --parallel-max 32 run ${i + 1}: ${ms.toFixed(0)} ms`);
  }
  await rm(curlDir, { recursive: true, force: true });

  const oursMs = median(ours.map((r) => r.ms));
  const curlMs = median(curl.map((r) => r.ms));
  const oursProcMs = median(ours.map((r) => r.processMs));
  const oursRss = median(ours.map((r) => r.maxRssMB));
  const skopeoMs = median(skopeo.map((r) => r.scaledMs));
  const result = {
    date: new Date().toISOString(),
    registry: 'docker-registry (CNCF distribution 2.8.2), loopback, filesystem storage',
    repos: REPOS,
    tagsPerRepo: TAGS,
    heads: REPOS * TAGS,
    runs: RUNS,
    skopeoSample: SAMPLE,
    seedMs,
    ours: {
      medianMs: oursMs,
      medianProcessMs: oursProcMs,
      medianPeakRssMB: oursRss,
      runs: ours,
      unboundedFanout: fanout,
    },
    loadAverage: (await import('node:os')).loadavg(),
    skopeo: { medianScaledMs: skopeoMs, runs: skopeo },
    curl: {
      medianMs: curlMs,
      runs: curl,
      note: 'curl --parallel --parallel-max 32, two processes (lists, then HEADs), keep-alive pool',
    },
    ratio: skopeoMs / oursMs,
    // The fair floor: ours (as a process, like curl) over curl doing the same requests 32 at a time.
    ratioOursProcessOverCurl: oursProcMs / curlMs,
    targets: { oursMs: 5000, ratio: 10, rssMB: 120 },
    pass: { time: oursMs <= 5000, ratio: skopeoMs / oursMs >= 10, rss: oursRss <= 120 },
  };
  await writeFile(join(out, 'tags.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `ours: ${(oursMs / 1000).toFixed(2)} s (process incl. startup ${(oursProcMs / 1000).toFixed(2)} s), peak RSS ${oursRss.toFixed(1)} MB | ` +
      `skopeo (scaled from ${SAMPLE}): ${(skopeoMs / 1000).toFixed(1)} s | ratio ${(skopeoMs / oursMs).toFixed(1)}x | ` +
      `curl --parallel-max 32: ${(curlMs / 1000).toFixed(2)} s, ours (process) / curl = ${(oursProcMs / curlMs).toFixed(2)}x`,
  );
} finally {
  await reg.stop();
}
