/**
 * The emergency CVE rebuild templates (deploy/ci/github-actions/emergency-rebuild.yml and
 * deploy/ci/gitlab/emergency-rebuild.gitlab-ci.yml), EXECUTED as the weekly ones are: the GitHub workflow with
 * GitHub's parser and the step harness (test/helpers/ci-github.ts), the GitLab file with gitlab-ci-local, in the
 * CI world of test/helpers/ci-env.ts (real registry with a robot login, key in Vault, Slack double).
 *
 * For the emergency to have something real to patch, the world's base image installs the loopback canary
 * package (test/helpers/apt-repo.ts, test/helpers/canary.ts) and `trivy` on the runner's PATH is the double that
 * reads the image's own dpkg database (test/doubles/trivy-dpkg.mjs). Variants: base + java (the template is
 * variant-agnostic; the five-variant case is bench/emergency.mjs).
 *
 * Inputs are untrusted: a CVE id carrying shell metacharacters must fail the validate job, never reach a shell
 * unquoted (the marker file it tries to create must not exist), publish nothing and page on-call.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trivyDpkg, TRIVY_DPKG, type TrivyDpkg } from '../doubles/trivy-dpkg.js';
import { startAptRepo, type AptRepo } from '../helpers/apt-repo.js';
import { canaryBaseContainerfile } from '../helpers/canary.js';
import { authTagDigest, runAsync, startCiWorld, type CiWorld } from '../helpers/ci-env.js';
import { runGithubWorkflow } from '../helpers/ci-github.js';
import { jsonOf, runBin } from '../helpers/cli.js';

const GCL = join(
  dirname(createRequire(import.meta.url).resolve('gitlab-ci-local/package.json')),
  'src/index.js',
);
const GITHUB_FILE = 'deploy/ci/github-actions/emergency-rebuild.yml';
const GITLAB_FILE = 'deploy/ci/gitlab/emergency-rebuild.gitlab-ci.yml';
const VARIANTS = ['base', 'java'] as const;

let w: CiWorld;
let repo: AptRepo;
let trivy: TrivyDpkg;

beforeAll(async () => {
  repo = await startAptRepo({ versions: ['1.0', '1.1', '1.2'] });
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const scratch = await mkdtemp(join(tmpdir(), 'aibox-ci-emergency-'));
  trivy = await trivyDpkg(scratch, { watch: ['aibox-canary'] });
  const baseFile = await canaryBaseContainerfile(join(scratch, 'base'), repo);
  w = await startCiWorld('ci-emergency', {
    trivy: TRIVY_DPKG,
    env: trivy.env,
    configure: (doc) => {
      doc.engine = { ...doc.engine, buildNetwork: 'host' };
      doc.variants = Object.fromEntries(VARIANTS.map((v) => [v, doc.variants[v]]));
      doc.variants.base = { ...doc.variants.base, containerfile: baseFile };
    },
  });
}, 300_000);

afterAll(async () => {
  await (w as CiWorld | undefined)?.stop();
  await (repo as AptRepo | undefined)?.stop();
});

/** Every tag of the world's variant repositories (nothing published = all empty). */
async function registryState(): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const v of VARIANTS) out[`${v}:latest`] = await authTagDigest(w, `aibox/${v}`, 'latest');
  out['channel:current'] = await authTagDigest(w, 'aibox/channel', 'current');
  return out;
}

function github(inputs: Record<string, string>, tmp: string) {
  const sha = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: w.project, encoding: 'utf8' }).stdout.trim();
  return runGithubWorkflow({
    file: join(w.project, GITHUB_FILE),
    cwd: w.project,
    event: 'workflow_dispatch',
    inputs,
    secrets: w.secrets,
    vars: w.vars,
    env: w.env,
    jobEnv: (job) => ({ XDG_DATA_HOME: join(w.work, 'runners', job.replace(/[^a-z0-9]+/gi, '-')) }),
    github: { sha, run_id: '5151', repository: 'platform/aibox' },
    tmp: join(w.work, tmp),
    uses: {
      'actions/checkout': () => {},
      'actions/setup-node': () => {},
      'aquasecurity/setup-trivy': () => {}, // the dpkg-reading Trivy double is on the runner's PATH
    },
  });
}

function gitlab(variables: Record<string, string>, home: string) {
  return runAsync(
    process.execPath,
    [
      GCL,
      '--file',
      GITLAB_FILE,
      '--home',
      join(w.work, home),
      '--force-shell-executor',
      '--shell-isolation',
      '--concurrency',
      '1',
      '--no-color',
      '--variables-file',
      relative(w.project, w.secretsFile),
      '--variable',
      'CI_PIPELINE_SOURCE=web',
      '--variable',
      'AIBOX_PIPELINE=emergency-rebuild',
      '--variable',
      `HARBOR_HOST=${w.vars.HARBOR_HOST}`,
      '--variable',
      'XDG_DATA_HOME=$CI_PROJECT_DIR/.aibox-state',
      ...Object.entries(variables).flatMap(([k, v]) => ['--variable', `${k}=${v}`]),
    ],
    { cwd: w.project, env: w.env },
  );
}

// Real podman builds and scans: minutes on a loaded 2-core machine, not the default 60 s.
describe('emergency templates: untrusted inputs', { timeout: 600_000 }, () => {
  it('GitHub: a cve input with shell metacharacters fails validate; nothing runs it, nothing is published, on-call is paged', async () => {
    const marker = join(w.work, 'pwned-github');
    const before = await registryState();
    const slackBefore = w.slack.attempts;
    const run = await github(
      {
        cve: `CVE-2026-12345"; touch ${marker}; echo "$(touch ${marker})`,
        cvss: '9.8',
        packages: '',
        variants: '',
      },
      'gh-bad',
    );
    expect(
      run.jobs.map((j) => `${j.name}:${j.result}`),
      run.log.slice(-4000),
    ).toEqual(['validate:failure', 'rebuild:skipped', 'notify-failure:success']);
    expect(run.log).toMatch(/AIBOX_CVE contains a character outside/);
    expect(existsSync(marker)).toBe(false);
    expect(await registryState()).toEqual(before);
    expect(w.slack.attempts).toBeGreaterThan(slackBefore);
  });

  it('GitHub: a cvss out of range and a malformed package name are refused by name', async () => {
    const run = await github({ cve: 'CVE-2026-12345', cvss: '10.5', packages: '', variants: '' }, 'gh-cvss');
    expect(run.jobs[0], run.log).toMatchObject({ name: 'validate', result: 'failure' });
    expect(run.log).toMatch(/AIBOX_CVSS: "10\.5" is not a CVSS score from 0\.0 to 10\.0/);
    const pkg = await github(
      { cve: 'CVE-2026-12345', cvss: '', packages: '-oAPT::x', variants: '' },
      'gh-pkg',
    );
    expect(pkg.jobs[0]).toMatchObject({ name: 'validate', result: 'failure' });
    expect(pkg.log).toMatch(/AIBOX_PACKAGES: "-oAPT::x"|AIBOX_PACKAGES contains a character outside/);
  });

  it('GitLab: a CVE variable with shell metacharacters fails the input check of cve:rebuild; nothing runs it, nothing is published', async () => {
    const marker = join(w.work, 'pwned-gitlab');
    const before = await registryState();
    const run = await gitlab({ AIBOX_CVE: `CVE-2026-12345;touch ${marker}`, AIBOX_CVSS: '9.8' }, 'gcl-bad');
    expect(run.code, run.output.slice(-4000)).not.toBe(0);
    expect(run.output).toMatch(/AIBOX_CVE contains a character outside/);
    // The check is the job's first command: nothing was installed, built or logged in.
    expect(run.output).not.toMatch(/^cve:rebuild\s+\$ (npm ci|printf)/m);
    expect(run.output).not.toMatch(/Login Succeeded/);
    expect(run.output).toMatch(/cve:notify:failure starting/);
    expect(existsSync(marker)).toBe(false);
    expect(await registryState()).toEqual(before);
  });
});

// Real podman builds and scans: minutes on a loaded 2-core machine, not the default 60 s.
describe('emergency templates: a real emergency rebuild through each CI system', { timeout: 600_000 }, () => {
  const ymd = () => w.date.replaceAll('-', '');
  const PREFIX = { base: '24.04', java: '21-24.04' } as const;
  let seeded: Record<string, string | null>;

  /** `aiboxctl` as a CI job runs it: the rendered CI config, the robot login, the key in Vault. */
  const ctl = async (args: readonly string[], xdg: string) => {
    // In the checkout, as the jobs render it: the Containerfile paths are relative to the project.
    const config = join(w.project, '.aibox-seed.yaml');
    const render = await runAsync('sh', ['deploy/ci/render-config.sh', config], {
      cwd: w.project,
      env: { ...w.env, HARBOR_HOST: w.vars.HARBOR_HOST!, SLACK_WEBHOOK_URL: w.secrets.SLACK_WEBHOOK_URL! },
    });
    if (render.code !== 0) throw new Error(`render-config.sh failed: ${render.output}`);
    return runAsync(process.execPath, [join(w.project, 'dist/aiboxctl.cjs'), '--config', config, ...args], {
      cwd: w.project,
      env: {
        ...w.env,
        VAULT_ADDR: w.secrets.VAULT_ADDR!,
        VAULT_TOKEN: w.secrets.VAULT_TOKEN!,
        XDG_DATA_HOME: join(w.work, xdg),
      },
    });
  };
  /** The signed channel as a user reads it (verified with the public key). */
  const channel = async () => {
    const r = await runBin(
      'aiboxctl',
      ['--registry', `${w.registry.host}/aibox`, 'channel', 'show', '--key', w.pub, '--json'],
      { env: { REGISTRY_AUTH_FILE: w.env.REGISTRY_AUTH_FILE, XDG_DATA_HOME: join(w.work, 'check-xdg') } },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return jsonOf<{
      channel: { sequence: number; variants: Record<string, { digest: string; tag: string }> };
    }>(r).channel;
  };

  beforeAll(async () => {
    // The weekly state the emergency starts from: a promoted weekly build (canary 1.0, scanned clean).
    const login = await runAsync(
      'sh',
      [
        '-c',
        'printf %s "$HARBOR_ROBOT_TOKEN" | podman login --username "$HARBOR_ROBOT_USER" --password-stdin "$HARBOR_HOST"',
      ],
      { cwd: w.project, env: { ...w.env, ...w.secrets, HARBOR_HOST: w.vars.HARBOR_HOST! } },
    );
    if (login.code !== 0) throw new Error(`podman login failed: ${login.output}`);
    const build = await runAsync(process.execPath, ['scripts/build.mjs'], { cwd: w.project, env: w.env });
    if (build.code !== 0) throw new Error(`build failed: ${build.output}`);
    const r = await ctl(
      ['rebuild', '--date', w.date, '--revision', 'ci-emergency-seed', '--json'],
      'seed-xdg',
    );
    if (r.code !== 0) throw new Error(`seed weekly rebuild failed (${r.code}): ${r.output.slice(-4000)}`);
    seeded = await registryState();
  }, 900_000);

  it('GitHub: dispatch with cve + cvss → validate, rebuild green; -cve- tags, latest and the channel moved', async () => {
    await trivy.setVulns([
      { id: 'CVE-2026-12345', pkg: 'aibox-canary', fixed: '1.1', cvss: 9.8, severity: 'CRITICAL' },
    ]);
    await repo.publish('1.1');
    const run = await github({ cve: 'CVE-2026-12345', cvss: '9.8', packages: '', variants: '' }, 'gh-ok');
    expect(
      run.jobs.map((j) => `${j.name}:${j.result}`),
      run.log.slice(-6000),
    ).toEqual(['validate:success', 'rebuild:success', 'notify-failure:skipped']);
    expect(run.log).toMatch(/Login Succeeded/);
    for (const s of [w.secrets.HARBOR_ROBOT_TOKEN!, w.secrets.VAULT_TOKEN!]) expect(run.log).not.toContain(s);
    const ch = await channel();
    expect(ch.sequence).toBe(2);
    for (const v of VARIANTS) {
      const tag = `${PREFIX[v]}-${ymd()}-cve-2026-12345`;
      const digest = await authTagDigest(w, `aibox/${v}`, tag);
      expect(digest, v).toMatch(/^sha256:/);
      expect(await authTagDigest(w, `aibox/${v}`, 'latest'), v).toBe(digest);
      expect(digest, v).not.toBe(seeded[`${v}:latest`]);
      expect(ch.variants[v], v).toMatchObject({ tag, digest });
      // The re-scan read canary 1.1 from the patched image itself.
      const scan = (await trivy.scans()).find((s) => s.image.endsWith(`/aibox/${v}@${digest}`));
      expect(scan, v).toMatchObject({ packages: { 'aibox-canary': '1.1' }, found: [] });
    }
  });

  it('GitLab: a manual pipeline with AIBOX_CVE + AIBOX_CVSS → cve:rebuild green; -cve- tags, latest and the channel moved', async () => {
    await trivy.setVulns([
      { id: 'CVE-2026-23456', pkg: 'aibox-canary', fixed: '1.2', cvss: 7.5, severity: 'HIGH' },
    ]);
    await repo.publish('1.2');
    const run = await gitlab(
      { AIBOX_CVE: 'CVE-2026-23456', AIBOX_CVSS: '7.5', AIBOX_PACKAGES: 'aibox-canary' },
      'gcl-ok',
    );
    expect(run.code, run.output.slice(-6000)).toBe(0);
    const passed = [...run.output.matchAll(/^\s*PASS\s+(.+?)\s*$/gm)].map((m) => m[1]);
    expect(passed).toEqual(['cve:rebuild']);
    expect(run.output).not.toMatch(/cve:notify:failure starting/);
    const ch = await channel();
    expect(ch.sequence).toBe(3);
    for (const v of VARIANTS) {
      const tag = `${PREFIX[v]}-${ymd()}-cve-2026-23456`;
      const digest = await authTagDigest(w, `aibox/${v}`, tag);
      expect(digest, v).toMatch(/^sha256:/);
      expect(await authTagDigest(w, `aibox/${v}`, 'latest'), v).toBe(digest);
      expect(ch.variants[v], v).toMatchObject({ tag, digest });
      const scan = (await trivy.scans()).find((s) => s.image.endsWith(`/aibox/${v}@${digest}`));
      expect(scan, v).toMatchObject({ packages: { 'aibox-canary': '1.2' }, found: [] });
    }
  });
});
