import { parse, stringify } from 'yaml';
import { startSlackDouble } from '../doubles/slack.js';
/**
 * End-to-end failure injection for `aiboxctl rebuild` (issue 4): the bundled CLI with real Podman
 * and a real docker-registry, on two tiny variants (base FROM a static-busybox scratch image, app
 * FROM base) so each case costs seconds. A baseline run publishes `latest` and the channel first;
 * every failing case then checks that what users trust (`latest`, `channel:current`) did not move,
 * and that the exit code and the FAILED line name the variant and the step.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/pipeline/record.js';
import { trivyReportText } from '../doubles/trivy-stub.js';
import { testPodman, testRunId } from '../helpers/engine.js';
import { buildTestImage } from '../helpers/image.js';
import {
  allTags,
  generateKeys,
  lastLine,
  pipelineCli,
  publishedState,
  readRecords,
  removeImagesFrom,
  SLOW_CONTAINERFILE,
  startRestartableRegistry,
  tagDigest,
  TINY_CONTAINERFILE,
  TRIVY_PER_VARIANT,
  waitFor,
  writePipelineConfig,
  type RestartableRegistry,
} from '../helpers/pipeline.js';
import { jsonError, jsonOf } from '../helpers/cli.js';
import { maybeUnset } from '../helpers/unset.js';

const PASSWORD = 'faults-key-password-7f3a';
const REPOS = ['aibox/base', 'aibox/app'];
const runId = testRunId('pipeline-faults');
const BASE_IMAGE = `localhost/aibox-test-pipeline-bb:${runId}`;
/** Cases that run whole pipelines: a few seconds alone, more while other test files build too. */
const RUNS = { timeout: 120_000 };
/** What `--debug` logs when the pipeline runs `podman … build`. */
const PODMAN_BUILD = /Run: \S*podman\b[^\n]* build /;

let reg: RestartableRegistry;
let work: string;
let xdg: string;
let keys: { key: string; pub: string };
/** `latest` and channel:current as last published by a successful run. */
let trusted: Record<string, string | null>;
const cfg = { tiny: '', trivy: '', slow: '', cycle: '', missing: '' };

type Cli = ReturnType<typeof pipelineCli>;
const cli = (config: string): Cli =>
  pipelineCli({ config, registry: () => reg.host, xdg, password: PASSWORD });

const tags = (d: string) => ({ base: `24.04-${d.replace(/-/g, '')}`, app: `1-24.04-${d.replace(/-/g, '')}` });

/** The record a text-mode run printed ("record: PATH"). */
async function recordOf(stdout: string): Promise<RunRecord> {
  const m = /^record: (.+)$/m.exec(stdout);
  if (!m) throw new Error(`no record line in:\n${stdout}`);
  const all = await readRecords(xdg);
  const r = all.find((x) => m[1]!.endsWith(`${x.runId}.json`));
  if (!r) throw new Error(`record ${m[1]} not found`);
  return r;
}

async function expectTrustedUnchanged(): Promise<void> {
  expect(await publishedState(reg.url, REPOS)).toEqual(trusted);
}

/** A report directory for the per-variant trivy double: clean.json plus <variant>.json overrides. */
async function reports(name: string, critical: readonly string[]): Promise<string> {
  const dir = join(work, `reports-${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'clean.json'),
    trivyReportText({ artifactName: 'aibox', results: [{ target: 'aibox (ubuntu 24.04)' }] }),
  );
  for (const v of critical) {
    await writeFile(
      join(dir, `${v}.json`),
      trivyReportText({
        artifactName: `aibox/${v}`,
        results: [
          {
            target: `aibox/${v} (ubuntu 24.04)`,
            vulns: [
              {
                id: 'CVE-2026-31337',
                pkg: 'openssl',
                installed: '3.0.13-0ubuntu3',
                fixed: '3.0.13-0ubuntu3.5',
                severity: 'CRITICAL',
              },
            ],
          },
        ],
      }),
    );
  }
  return dir;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aibox-pipeline-faults-'));
  xdg = join(work, 'xdg');
  await buildTestImage(testPodman(), BASE_IMAGE, { runId });
  reg = await startRestartableRegistry();
  keys = await generateKeys(join(work, 'keys'), PASSWORD);
  const common = { baseImage: BASE_IMAGE, key: keys.key, pub: keys.pub };
  const two = (app: string) => ({
    base: { tagPrefix: '24.04', from: null, containerfile: TINY_CONTAINERFILE },
    app: { tagPrefix: '1-24.04', from: 'base', containerfile: app },
  });
  cfg.tiny = await writePipelineConfig(join(work, 'tiny.yaml'), {
    ...common,
    variants: two(TINY_CONTAINERFILE),
  });
  cfg.slow = await writePipelineConfig(join(work, 'slow.yaml'), {
    ...common,
    variants: two(SLOW_CONTAINERFILE),
  });
  cfg.trivy = await writePipelineConfig(join(work, 'trivy.yaml'), {
    ...common,
    variants: two(TINY_CONTAINERFILE),
    scanner: 'trivy',
    trivyPath: TRIVY_PER_VARIANT,
  });
  cfg.missing = await writePipelineConfig(join(work, 'missing.yaml'), {
    ...common,
    variants: two(join(work, 'nowhere', 'Containerfile')),
  });
  cfg.cycle = await writePipelineConfig(join(work, 'cycle.yaml'), {
    ...common,
    variants: {
      base: { tagPrefix: '24.04', from: 'app', containerfile: TINY_CONTAINERFILE },
      app: { tagPrefix: '1-24.04', from: 'base', containerfile: TINY_CONTAINERFILE },
    },
  });

  // Baseline: a good run publishes latest and the channel.
  const r = await cli(cfg.tiny)(['--debug', 'rebuild', '--date', '2026-01-01', '--allow-unscanned']);
  if (r.code !== 0) throw new Error(`baseline run failed:\n${r.stdout}\n${r.stderr}`);
  // The "nothing was built" checks below look for this debug line; make sure it exists.
  expect(r.stderr).toMatch(PODMAN_BUILD);
  trusted = await publishedState(reg.url, REPOS);
  expect(Object.values(trusted).every((d) => d?.startsWith('sha256:'))).toBe(true);
}, 180_000);

afterAll(async () => {
  if (maybeUnset(reg)) {
    await removeImagesFrom(reg.host);
    await reg.dispose();
  }
  await testPodman()
    .rmi([BASE_IMAGE], { force: true })
    .catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('scan gate', RUNS, () => {
  it('a CRITICAL finding in a child variant fails its scan step; the date tag is never written', async () => {
    const dir = await reports('child', ['app']);
    const r = await cli(cfg.trivy)(['rebuild', '--date', '2026-01-02'], { TRIVY_STUB_REPORT_DIR: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(lastLine(r.stdout)).toMatch(
      /^FAILED: app: step scan: scan gate refused .*aibox\/app@sha256:[0-9a-f]{64}: .*CRITICAL.*CVE-2026-31337/,
    );
    const rec = await recordOf(r.stdout);
    expect(rec).toMatchObject({
      result: 'failed',
      promoted: false,
      failure: { variant: 'app', step: 'scan' },
    });
    expect(rec.variants.base?.status).toBe('passed');
    expect(rec.variants.app).toMatchObject({
      status: 'failed',
      scan: { status: 'refused', summary: { CRITICAL: 1 } },
    });
    // Staged by digest for the scanner, but never tagged.
    expect(await tagDigest(reg.url, 'aibox/app', tags('2026-01-02').app)).toBeNull();
    expect(await tagDigest(reg.url, 'aibox/app', rec.variants.app!.digest!)).not.toBeNull();
    await expectTrustedUnchanged();
  });

  it('status asks the scanner about latest and fails the check when it is now blocked', async () => {
    const clean = await cli(cfg.trivy)(['status', '--key', keys.pub, '--json'], {
      TRIVY_STUB_REPORT_DIR: await reports('status-clean', []),
    });
    const ok = jsonOf<{ ok: boolean; variants: { variant: string; scan: string }[] }>(clean);
    expect(ok.variants.map((v) => v.scan)).toEqual(['passed (C0 H0 M0 L0)', 'passed (C0 H0 M0 L0)']);
    const blocked = await cli(cfg.trivy)(['status', '--key', keys.pub, '--json'], {
      TRIVY_STUB_REPORT_DIR: await reports('status-blocked', ['app']),
    });
    expect(blocked.code).toBe(1);
    const out = jsonOf<{
      ok: boolean;
      variants: { variant: string; scan: string; ok: boolean; scanBlocking?: string[] }[];
    }>(blocked);
    expect(out.ok).toBe(false);
    expect(out.variants.find((v) => v.variant === 'app')).toMatchObject({
      ok: false,
      scan: 'refused (C1 H0 M0 L0)',
      scanBlocking: ['CVE-2026-31337'],
    });
    const skipped = await cli(cfg.trivy)(['status', '--key', keys.pub, '--no-scan', '--json']);
    expect(jsonOf<{ variants: { scan: string }[] }>(skipped).variants[0]!.scan).toBe('UNSCANNED (allowed)');
  });

  it('a failed run, and a run that cannot start, page on-call through the Slack webhook (URL never shown)', async () => {
    const slack = await startSlackDouble();
    try {
      // The trivy config of this file, plus the on-call webhook.
      const doc = parse(await readFile(cfg.trivy, 'utf8')) as Record<string, unknown>;
      const config = join(work, 'notify.yaml');
      await writeFile(config, stringify({ ...doc, notify: { slackWebhook: slack.webhookUrl } }));
      const failed = await cli(config)(['rebuild', '--date', '2026-01-09'], {
        TRIVY_STUB_REPORT_DIR: await reports('notify', ['app']),
      });
      expect(failed.code).toBe(1);
      const rec = await recordOf(failed.stdout);
      expect(slack.posts).toHaveLength(1);
      const text = JSON.stringify(slack.posts[0]!.body);
      expect(text).toContain('aibox-app');
      expect(text).toContain('scan');
      expect(text).toContain(rec.runId);
      const wrongKey = await cli(config)(['rebuild', '--date', '2026-01-10'], {
        COSIGN_PASSWORD: 'not-the-password',
        TRIVY_STUB_REPORT_DIR: await reports('notify2', []),
      });
      expect(wrongKey.code).toBe(1);
      expect(slack.posts).toHaveLength(2);
      expect(JSON.stringify(slack.posts[1]!.body)).toMatch(/preflight.*does not decrypt/);
      const secret = new URL(slack.webhookUrl).pathname;
      for (const out of [failed.stdout, failed.stderr, wrongKey.stdout, wrongKey.stderr])
        expect(out).not.toContain(secret);
    } finally {
      await slack.stop();
    }
  });

  it('a CRITICAL finding in the root variant fails it, skips its children and says to start CVE triage', async () => {
    const dir = await reports('root', ['base']);
    const r = await cli(cfg.trivy)(['rebuild', '--date', '2026-01-03'], { TRIVY_STUB_REPORT_DIR: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(lastLine(r.stdout)).toMatch(
      /^FAILED: base: step scan: .*CVE-2026-31337.*critical findings in the base image/,
    );
    expect(r.stdout).toMatch(
      /hint \(base\): Emergency rebuild \(runbook §2\): aiboxctl cve rebuild --cve CVE-2026-31337 --cvss 9\.0 --package openssl --variant base; full triage: aiboxctl cve triage aibox\/base@sha256:/,
    );
    const rec = await recordOf(r.stdout);
    expect(rec.variants.base?.error).toMatchObject({
      step: 'scan',
      hint: expect.stringContaining('aiboxctl cve rebuild --cve CVE-2026-31337'),
    });
    expect(rec.variants.app).toMatchObject({
      status: 'failed',
      error: { message: 'its base variant base failed' },
    });
    expect(rec.variants.app!.steps.every((s) => s.status === 'skipped')).toBe(true);
    expect(await listAllDateTags('2026-01-03')).toEqual({ base: null, app: null });
    await expectTrustedUnchanged();
  });

  it('a scanner that exits with an error fails the scan step (fail closed) without leaking its password', async () => {
    const dir = await reports('fail', []);
    const secret = 'trivy-registry-secret-91c2';
    const r = await cli(cfg.trivy)(['rebuild', '--date', '2026-01-04'], {
      TRIVY_STUB_REPORT_DIR: dir,
      TRIVY_STUB_MODE: 'fail',
      TRIVY_PASSWORD: secret,
    });
    expect(r.code).toBe(1);
    expect(lastLine(r.stdout)).toMatch(
      /^FAILED: base: step scan: trivy could not scan .*aibox\/base@sha256:[0-9a-f]{64}: exited with code 1/,
    );
    expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    expect(await listAllDateTags('2026-01-04')).toEqual({ base: null, app: null });
    await expectTrustedUnchanged();
  });

  it('scanner "none" without --allow-unscanned is refused before anything runs (exit 3)', async () => {
    const before = await allTags(reg.url, REPOS);
    const r = await cli(cfg.tiny)(['rebuild', '--date', '2026-01-05']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('refusing to publish unscanned images');
    expect(r.stderr).toContain('--allow-unscanned');
    expect(await allTags(reg.url, REPOS)).toEqual(before);
    await expectTrustedUnchanged();
  });
});

async function listAllDateTags(date: string): Promise<{ base: string | null; app: string | null }> {
  const t = tags(date);
  return {
    base: await tagDigest(reg.url, 'aibox/base', t.base),
    app: await tagDigest(reg.url, 'aibox/app', t.app),
  };
}

describe('refused before building', () => {
  it('a signing key that does not decrypt fails first, never printing the password', async () => {
    const before = await allTags(reg.url, REPOS);
    const records = (await readRecords(xdg)).length;
    const wrong = 'not-the-password-55e1';
    const r = await cli(cfg.tiny)(['--debug', 'rebuild', '--date', '2026-01-06', '--allow-unscanned'], {
      COSIGN_PASSWORD: wrong,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signing key check failed: the key does not decrypt with the given password/);
    expect(r.stderr).toContain(keys.key);
    for (const secret of [wrong, PASSWORD]) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    expect(r.stderr).not.toMatch(PODMAN_BUILD);
    expect((await readRecords(xdg)).length).toBe(records);
    expect(await allTags(reg.url, REPOS)).toEqual(before);
    await expectTrustedUnchanged();
  });

  it.each([
    [
      'an unknown --variant',
      () => cfg.tiny,
      ['--variant', 'nope'],
      /unknown variant "nope" \(allowed: base, app\)/,
    ],
    ['a cycle in "from"', () => cfg.cycle, [], /cycle: (base -> app -> base|app -> base -> app)/],
    [
      'a missing Containerfile',
      () => cfg.missing,
      [],
      /Containerfile missing for app: .*nowhere\/Containerfile/,
    ],
  ] as const)(
    '%s is a usage/config error (exit 2) before anything is built',
    async (_what, config, extra, message) => {
      const before = await allTags(reg.url, REPOS);
      const r = await cli(config())([
        '--debug',
        'rebuild',
        '--date',
        '2026-01-07',
        '--allow-unscanned',
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(PODMAN_BUILD);
      expect(await allTags(reg.url, REPOS)).toEqual(before);
      await expectTrustedUnchanged();
    },
  );
});

describe('immutable date tags', RUNS, () => {
  it('refuses a date tag that holds another image (exit 1, hint --replace); --replace overwrites it', async () => {
    const t = tags('2026-01-08');
    // Occupy base's date tag with the baseline image (same repository, so its blobs are there).
    const baseline = await fetch(`${reg.url}/v2/aibox/base/manifests/${tags('2026-01-01').base}`, {
      headers: {
        Accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    const type = baseline.headers.get('content-type')!;
    const put = await fetch(`${reg.url}/v2/aibox/base/manifests/${t.base}`, {
      method: 'PUT',
      headers: { 'Content-Type': type },
      body: new Uint8Array(await baseline.arrayBuffer()),
    });
    expect(put.status).toBe(201);
    const squatter = await tagDigest(reg.url, 'aibox/base', t.base);

    const r = await cli(cfg.tiny)(['rebuild', '--date', '2026-01-08', '--allow-unscanned']);
    expect(r.code).toBe(1);
    expect(lastLine(r.stdout)).toMatch(
      new RegExp(
        `^FAILED: base: step tag: date tag .*aibox/base:${t.base} already exists with another image \\(${squatter}\\); date tags are immutable`,
      ),
    );
    expect(r.stdout).toMatch(/hint \(base\): Pass --replace/);
    expect(await tagDigest(reg.url, 'aibox/base', t.base)).toBe(squatter);
    expect(await tagDigest(reg.url, 'aibox/app', t.app)).toBeNull();
    await expectTrustedUnchanged();

    const again = await cli(cfg.tiny)([
      'rebuild',
      '--date',
      '2026-01-08',
      '--allow-unscanned',
      '--replace',
      '--json',
    ]);
    expect(again.code, again.stderr).toBe(0);
    const rec = jsonOf<RunRecord>(again);
    expect(rec).toMatchObject({ result: 'success', promoted: true });
    const replaced = await tagDigest(reg.url, 'aibox/base', t.base);
    expect(replaced).not.toBe(squatter);
    expect(replaced).toBe(rec.variants.base!.digest);
    expect(await tagDigest(reg.url, 'aibox/base', 'latest')).toBe(replaced);
    trusted = await publishedState(reg.url, REPOS);
  });
});

describe('concurrency and outages', RUNS, () => {
  it('a second pipeline on the same registry project fails with LOCKED naming the holder', async () => {
    const run = cli(cfg.slow);
    const seen = new Set((await readRecords(xdg)).map((x) => x.runId));
    const first = run(['rebuild', '--date', '2026-01-09', '--allow-unscanned', '--no-promote']);
    const holder = await waitFor('the first run to record itself as running', async () =>
      (await readRecords(xdg)).find((x) => !seen.has(x.runId) && x.result === 'running'),
    );
    const second = await run(['rebuild', '--date', '2026-01-09', '--allow-unscanned', '--json']);
    expect(second.code).toBe(1);
    const err = jsonError(second);
    expect(err.code).toBe('LOCKED');
    expect(err.message).toContain(
      `another pipeline is running for ${reg.host}/aibox: run ${holder.runId} (pid `,
    );

    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('(not promoted: --no-promote)');
    expect(await readdir(join(xdg, 'aibox', 'locks'))).toEqual([]);
    await expectTrustedUnchanged();
  });

  it('the registry going away mid-run fails the push; after a restart a re-run resumes what was published', async () => {
    const run = cli(cfg.slow);
    const t = tags('2026-01-10');
    const seen = new Set((await readRecords(xdg)).map((x) => x.runId));
    const first = run(['rebuild', '--date', '2026-01-10', '--allow-unscanned']);
    // base is published; app (the slow Containerfile) is building: take the registry away.
    await waitFor('app to start building', async () =>
      (await readRecords(xdg)).find(
        (x) =>
          !seen.has(x.runId) &&
          x.variants.base?.status === 'passed' &&
          x.variants.app?.steps.find((s) => s.name === 'build')?.status === 'running',
      ),
    );
    await reg.stop();
    const failed = await first;
    expect(failed.code).toBe(1);
    expect(lastLine(failed.stdout)).toMatch(
      // podman push (to staging) or our client (mounting into the repository) names the registry and the cause
      new RegExp(
        `^FAILED: app: step stage: .*${reg.host.replace(/\./g, '\\.')}.*(ECONNREFUSED|connection refused)`,
      ),
    );
    const rec = await recordOf(failed.stdout);
    expect(rec).toMatchObject({
      result: 'failed',
      promoted: false,
      variants: { base: { status: 'passed' }, app: { status: 'failed' } },
    });

    await reg.start(); // same port, same data
    await expectTrustedUnchanged();
    expect(await tagDigest(reg.url, 'aibox/base', t.base)).toBe(rec.variants.base!.digest);
    expect(await tagDigest(reg.url, 'aibox/app', t.app)).toBeNull();

    const again = await run(['rebuild', '--date', '2026-01-10', '--allow-unscanned', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const rec2 = jsonOf<RunRecord>(again);
    expect(rec2).toMatchObject({ result: 'success', promoted: true });
    expect(rec2.variants.base).toMatchObject({ status: 'resumed', digest: rec.variants.base!.digest });
    expect(rec2.variants.base!.steps.find((s) => s.name === 'build')?.status).toBe('skipped');
    expect(rec2.variants.app?.status).toBe('passed');
    expect(await tagDigest(reg.url, 'aibox/base', 'latest')).toBe(rec.variants.base!.digest);
    expect(await tagDigest(reg.url, 'aibox/app', 'latest')).toBe(rec2.variants.app!.digest);
  });
});
