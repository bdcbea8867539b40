/**
 * The GitLab template (deploy/ci/gitlab/weekly-rebuild.gitlab-ci.yml) as GitLab would run it, with
 * gitlab-ci-local (shell executor, one isolated checkout per job): ONE scheduled pipeline, every job of the
 * fan-out, against a real registry with a robot login, the key in Vault and the Trivy double as scanner,
 * through to a promoted `latest` and a signed channel that real cosign verifies. See test/helpers/ci-env.ts
 * for what is emulated (only `npm ci`) and why.
 *
 * `--concurrency 1` is the template's `resource_group: aibox-registry` (which gitlab-ci-local does not
 * implement): every job that writes to the registry holds the one group, so they run one at a time.
 */
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CI_VARIANTS,
  checkPublished,
  runAsync,
  startCiWorld,
  type CiWorld,
  type PublishedCheck,
} from '../helpers/ci-env.js';

const GCL = join(
  dirname(createRequire(import.meta.url).resolve('gitlab-ci-local/package.json')),
  'src/index.js',
);
const FILE = 'deploy/ci/gitlab/weekly-rebuild.gitlab-ci.yml';
const JOBS = [
  'prepare',
  'rebuild:base',
  ...CI_VARIANTS.slice(1).map((v) => `rebuild:variant: [${v}]`),
  'promote',
];

let w: CiWorld;
let run: { code: number; output: string };
let published: PublishedCheck | undefined;

beforeAll(async () => {
  w = await startCiWorld('ci-gitlab');
  run = await runAsync(
    process.execPath,
    [
      GCL,
      '--file',
      FILE,
      '--home',
      join(w.work, 'gcl-home'),
      '--force-shell-executor',
      '--shell-isolation',
      '--concurrency',
      '1',
      '--no-color',
      '--variables-file', // gitlab-ci-local reads it relative to the project
      relative(w.project, w.secretsFile),
      // A scheduled pipeline of this file (its workflow rules), with the project's CI/CD variable.
      '--variable',
      'CI_PIPELINE_SOURCE=schedule',
      '--variable',
      'AIBOX_PIPELINE=weekly-rebuild',
      '--variable',
      `HARBOR_HOST=${w.vars.HARBOR_HOST}`,
      // Each job has its own runner state, as on separate GitLab runners.
      '--variable',
      'XDG_DATA_HOME=$CI_PROJECT_DIR/.aibox-state',
    ],
    { cwd: w.project, env: w.env },
  );
  if (run.code === 0) published = await checkPublished(w);
}, 1_200_000);

afterAll(async () => {
  await (w as CiWorld | undefined)?.stop(); // undefined when beforeAll failed early
});

describe('GitLab: the weekly-rebuild template under gitlab-ci-local', () => {
  it('runs the whole pipeline green: every job passed, the failure notice did not run', () => {
    expect(run.code, run.output.slice(-6000)).toBe(0);
    const passed = [...run.output.matchAll(/^\s*PASS\s+(.+?)\s*$/gm)].map((m) => m[1]);
    expect(passed.sort()).toEqual([...JOBS].sort());
    expect(run.output).not.toMatch(/notify:failure starting/);
    expect(w.slack.attempts).toBe(0);
    // The date came from the prepare job (dotenv report), in the format rebuild and promote accept.
    expect(run.output).toContain(`--date "$DATE"`);
    expect(run.output).not.toMatch(/invalid date/);
  });

  it('used the secrets as the template says: robot login, key from Vault', () => {
    expect(run.output).toMatch(/Login Succeeded/);
    expect(w.vault.requests.some((r) => r.url.includes('/v1/secret/data/aibox/cosign-key'))).toBe(true);
    for (const s of [w.secrets.HARBOR_ROBOT_TOKEN, w.secrets.VAULT_TOKEN])
      expect(run.output).not.toContain(s);
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
