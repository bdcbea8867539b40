/**
 * The GitHub Actions workflow (deploy/ci/github-actions/weekly-rebuild.yml): validated by GitHub's own
 * parser, then ONE dispatched run of every job's `run:` steps in `needs:` order (test/helpers/ci-github.ts),
 * every matrix leg, against a real registry with a robot login, the key in Vault and the Trivy double as
 * scanner, through to a promoted `latest` and a signed channel that real cosign verifies.
 *
 * Emulated `uses:` steps: checkout (the checkout is already there), setup-node (node 20 is on PATH; checked),
 * setup-trivy (puts the Trivy double first on PATH). `npm ci` is the one emulated command (test/helpers/ci-env.ts).
 * Each job gets its own HOME-like state dir, as each GitHub job runs on a fresh runner.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CI_VARIANTS,
  checkPublished,
  startCiWorld,
  type CiWorld,
  type PublishedCheck,
} from '../helpers/ci-env.js';
import { runGithubWorkflow, type GithubRun } from '../helpers/ci-github.js';

const FILE = 'deploy/ci/github-actions/weekly-rebuild.yml';

let w: CiWorld;
let run: GithubRun;
let published: PublishedCheck | undefined;
const nodeVersions: string[] = [];

beforeAll(async () => {
  w = await startCiWorld('ci-github');
  const sha = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: w.project, encoding: 'utf8' }).stdout.trim();
  run = await runGithubWorkflow({
    file: join(w.project, FILE),
    cwd: w.project,
    event: 'workflow_dispatch',
    inputs: {}, // the date defaults to today (UTC) in the prepare job
    secrets: w.secrets,
    vars: w.vars,
    env: w.env,
    jobEnv: (job) => ({ XDG_DATA_HOME: join(w.work, 'runners', job.replace(/[^a-z0-9]+/gi, '-')) }),
    github: { sha, run_id: '4242', repository: 'platform/aibox' },
    tmp: join(w.work, 'gh'),
    uses: {
      'actions/checkout': () => {},
      'actions/setup-node': (s) => {
        const v = spawnSync('node', ['--version'], { env: s.env, encoding: 'utf8' }).stdout.trim();
        nodeVersions.push(`${s.with['node-version']}:${v}`);
      },
      'aquasecurity/setup-trivy': () => {}, // the Trivy double is on the runner's PATH already
    },
  });
  if (run.jobs.every((j) => j.result !== 'failure')) published = await checkPublished(w);
}, 1_200_000);

afterAll(async () => {
  await (w as CiWorld | undefined)?.stop(); // undefined when beforeAll failed early
});

describe('GitHub Actions: the weekly-rebuild workflow, run step by step', () => {
  it('runs every job green in order, every matrix leg; the failure notice is skipped', () => {
    expect(
      run.jobs.map((j) => `${j.name}:${j.result}`),
      run.log.slice(-6000),
    ).toEqual([
      'prepare:success',
      'base:success',
      ...CI_VARIANTS.slice(1).map((v) => `variants (${v}):success`),
      'promote:success',
      'notify-failure:skipped',
    ]);
    for (const j of run.jobs.filter((x) => x.job !== 'prepare' && x.result === 'success'))
      expect(j.steps.slice(0, 3), j.name).toEqual([
        'uses: actions/checkout',
        'uses: actions/setup-node',
        'run: npm ci && npm run build',
      ]);
    expect(nodeVersions.every((v) => /^20:v20\./.test(v))).toBe(true);
    expect(w.slack.attempts).toBe(0);
    expect(run.log).not.toMatch(/invalid date/);
  });

  it('used the secrets as the workflow says: robot login, key from Vault', () => {
    expect(run.log).toMatch(/Login Succeeded/);
    expect(w.vault.requests.some((r) => r.url.includes('/v1/secret/data/aibox/cosign-key'))).toBe(true);
    for (const s of [w.secrets.HARBOR_ROBOT_TOKEN, w.secrets.VAULT_TOKEN]) expect(run.log).not.toContain(s);
  });

  it('promoted latest to the date tag of every variant and published channel sequence 1', () => {
    expect(published).toBeDefined();
    for (const v of CI_VARIANTS) {
      const [dated, latest] = published!.digests[v]!;
      expect(dated, v).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(latest, v).toBe(dated);
      expect(published!.channel.variants[v]?.digest, v).toBe(dated);
    }
    expect(published!.channel.sequence).toBe(1);
    expect(published!.channel.signatureValid).toBe(true);
  });

  it('real cosign verifies every latest and the channel', (ctx) => {
    expect(published).toBeDefined();
    if (published!.cosign === null) return ctx.skip();
    expect(Object.values(published!.cosign)).toHaveLength(CI_VARIANTS.length + 1);
    for (const [ref, code] of Object.entries(published!.cosign)) expect(code, ref).toBe(0);
  });
});
