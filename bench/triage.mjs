#!/usr/bin/env node
/**
 * Triage benchmark (issue 9 "Performance"): `aiboxctl cve triage` of 50 Trivy reports × 500 findings must take
 * at most 1 s. Generates the reports (SchemaVersion 2; CVE ids drawn from a pool of 4,000 so de-duplication across
 * reports has work to do; NVD, vendor-only and unscored findings; 70 % with a fixed version; business hours in
 * Europe/Berlin so every High deadline goes through Intl), then measures, interleaved, one fresh process per run:
 *   ours:   node dist/aiboxctl.cjs cve triage --report ×50 --no-record --json   (parse, validate, triage, render JSON)
 *   floor:  jq -s over the same 50 files, grouping the findings by VulnerabilityID (the parse + de-dup floor,
 *           without validation, scoring or deadlines)
 * plus the in-process time of parse + triage alone (no process start). Prints medians, writes
 * bench/results/triage.json.
 *
 *   npm run build && node --import tsx bench/triage.mjs      BENCH_RUNS=7 to change the number of runs
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, writeResults } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const REPORTS = Number(process.env.BENCH_REPORTS ?? 50);
const FINDINGS = Number(process.env.BENCH_FINDINGS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BUDGET_MS = 1000;

// Deterministic pseudo-random numbers (mulberry32), so every run triages the same reports.
function rng(seed) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];
const VARIANTS = ['base', 'java', 'node', 'dotnet', 'full'];

function report(i) {
  const r = rng(1000 + i);
  const variant = VARIANTS[i % VARIANTS.length];
  const vulns = [];
  for (let k = 0; k < FINDINGS; k++) {
    const id = `CVE-20${20 + Math.floor(r() * 7)}-${10000 + Math.floor(r() * 4000)}`;
    const score = Math.round(r() * 100) / 10;
    const kind = r();
    vulns.push({
      VulnerabilityID: id,
      PkgName: `pkg-${Math.floor(r() * 300)}`,
      InstalledVersion: `1.${Math.floor(r() * 20)}.${k % 7}-0ubuntu1`,
      ...(r() < 0.7 ? { FixedVersion: `1.${Math.floor(r() * 20)}.9-0ubuntu2` } : {}),
      Status: 'affected',
      Severity: SEVERITIES[Math.floor(r() * SEVERITIES.length)],
      Title: `synthetic vulnerability ${k} in report ${i}`,
      CVSS:
        kind < 0.6
          ? { nvd: { V3Score: score, V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } }
          : kind < 0.85
            ? { redhat: { V3Score: score } }
            : {},
    });
  }
  return JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: `127.0.0.1:5000/aibox/${variant}@sha256:${String(i).padStart(64, '0')}`,
    ArtifactType: 'container_image',
    Results: [
      { Target: `aibox/${variant} (ubuntu 24.04)`, Class: 'os-pkgs', Type: 'ubuntu', Vulnerabilities: vulns },
    ],
  });
}

// CPU time (user + sys) of the child through GNU time when installed: on a shared machine wall time mostly measures
// the other tenants, CPU time measures us.
const GNU_TIME = spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;

function timed(cmd, args, opts) {
  const [c, a] = GNU_TIME ? ['/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024, ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${String(r.stderr).slice(0, 2000)}`);
  const m = /CPU ([0-9.]+) ([0-9.]+)\s*$/.exec(String(r.stderr));
  const cpuMs = m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN;
  return { ms, cpuMs, stdout: String(r.stdout) };
}

const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-triage-'));
try {
  const files = [];
  for (let i = 0; i < REPORTS; i++) {
    const f = join(dir, `report-${i}.json`);
    await writeFile(f, report(i));
    files.push(f);
  }
  const config = join(dir, 'aibox.yaml');
  await writeFile(
    config,
    'cve:\n  businessHours:\n    timeZone: Europe/Berlin\nregistry:\n  host: 127.0.0.1:9\n',
  );
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_DATA_HOME: join(dir, 'data'),
  };
  const ours = [
    '--config',
    config,
    'cve',
    'triage',
    '--no-record',
    '--json',
    '--now',
    '2026-02-18T10:00:00Z',
    ...files.flatMap((f) => ['--report', f]),
  ];
  const jqProgram =
    '[.[].Results[].Vulnerabilities[]] | group_by(.VulnerabilityID) | map({id: .[0].VulnerabilityID, n: length}) | length';

  // Warm-up (V8 code cache, page cache), and the row count both sides agree on.
  const first = JSON.parse(
    timed(process.execPath, [join(root, 'dist/aiboxctl.cjs'), ...ours], { env }).stdout,
  );
  const rows = first.data.rows.length;
  const jqRows = Number(timed('jq', ['-s', jqProgram, ...files], { env }).stdout.trim());
  if (rows !== jqRows) throw new Error(`ours found ${rows} CVEs, jq ${jqRows}`);

  const t = { ours: [], jq: [], oursCpu: [], jqCpu: [] };
  for (let i = 0; i < RUNS; i++) {
    const o = timed(process.execPath, [join(root, 'dist/aiboxctl.cjs'), ...ours], { env });
    const j = timed('jq', ['-s', jqProgram, ...files], { env });
    t.ours.push(o.ms);
    t.oursCpu.push(o.cpuMs);
    t.jq.push(j.ms);
    t.jqCpu.push(j.cpuMs);
  }

  // In-process: parse + triage only (the pure core), median of RUNS.
  const { parseReportText } = await import('../src/cve/report-input.ts');
  const { triage } = await import('../src/cve/triage.ts');
  const { readFile } = await import('node:fs/promises');
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  const policy = {
    mandatoryMinCvss: 7,
    businessHours: {
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      start: '09:00',
      end: '17:00',
      timeZone: 'Europe/Berlin',
    },
  };
  const core = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const reports = texts.map((text, k) => ({
      report: parseReportText(text, `report-${k}.json`),
      source: `report-${k}.json`,
    }));
    triage({ reports, policy, now: new Date('2026-02-18T10:00:00Z') });
    core.push(performance.now() - t0);
  }

  const result = {
    reports: REPORTS,
    findingsPerReport: FINDINGS,
    uniqueCves: rows,
    runs: RUNS,
    oursCliMedianMs: Math.round(median(t.ours)),
    oursCliCpuMedianMs: Math.round(median(t.oursCpu)),
    jqFloorMedianMs: Math.round(median(t.jq)),
    jqFloorCpuMedianMs: Math.round(median(t.jqCpu)),
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
    cores: availableParallelism(),
    coreInProcessMedianMs: Math.round(median(core)),
    budgetMs: BUDGET_MS,
    withinBudget: median(t.ours) <= BUDGET_MS,
  };
  console.log(
    `triage of ${REPORTS} reports x ${FINDINGS} findings (${rows} unique CVEs), median of ${RUNS}:\n` +
      `  aiboxctl cve triage (process): ${result.oursCliMedianMs} ms wall, ${result.oursCliCpuMedianMs} ms CPU (budget ${BUDGET_MS} ms: ${result.withinBudget ? 'OK' : 'OVER'})\n` +
      `  jq -s group_by floor (process): ${result.jqFloorMedianMs} ms wall, ${result.jqFloorCpuMedianMs} ms CPU\n` +
      `  load average (1 min): ${result.loadAverage1m} on ${result.cores} cores\n` +
      `  parse + triage in process:      ${result.coreInProcessMedianMs} ms`,
  );
  writeResults('triage', result);
  if (!result.withinBudget) process.exitCode = 1;
} finally {
  if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true });
  else console.log(dir);
}
