/**
 * Structure checks for the CI pipelines in deploy/ci (GitHub Actions and GitLab): schedule, fan-out after base,
 * fan-in promote, on-call failure job, secrets only from the secret store; and the CI config template is a
 * valid platform config once rendered.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePlatformConfigText } from '../../config/parse.js';

const ROOT = join(import.meta.dirname, '../../..');
const load = (p: string) => parse(readFileSync(join(ROOT, p), 'utf8')) as Record<string, any>;
const VARIANTS = ['java', 'node', 'dotnet', 'full'];
const runs = (job: any): string =>
  [
    ...(job.before_script ?? []),
    ...(job.script ?? []),
    ...(job.steps ?? []).map((s: any) => s.run ?? ''),
  ].join('\n');

/** Jobs that write to the registry: the ones that run `aiboxctl rebuild` or `aiboxctl promote`. */
const writers = (jobs: Record<string, any>): string[] =>
  Object.keys(jobs).filter((j) => /aiboxctl\.cjs (rebuild|promote)\b/.test(runs(jobs[j])));

describe('deploy/ci/github-actions/weekly-rebuild.yml', () => {
  const wf = load('deploy/ci/github-actions/weekly-rebuild.yml');
  const jobs = wf.jobs as Record<string, any>;

  it('pins every action to a full commit SHA with its release tag in a comment', () => {
    const text = readFileSync(join(ROOT, 'deploy/ci/github-actions/weekly-rebuild.yml'), 'utf8');
    const uses = [...text.matchAll(/^\s*-?\s*uses:\s*(.*)$/gm)].map((m) => m[1]!.trim());
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it('puts every job that writes to the registry in one concurrency group', () => {
    expect(writers(jobs).sort()).toEqual(['base', 'promote', 'variants']);
    expect(wf.concurrency).toEqual({ group: 'aibox-image-rebuild', 'cancel-in-progress': false });
    // A job-level group would take a writer out of the workflow's one group (and cancel queued matrix legs).
    for (const j of Object.keys(jobs)) expect(jobs[j].concurrency, j).toBeUndefined();
  });

  it('computes the date in the format rebuild and promote accept (YYYY-MM-DD)', () => {
    const prep = runs(jobs.prepare);
    expect(prep).toContain('date -u +%F');
    expect(prep).not.toMatch(/%Y%m%d/);
  });

  it('runs Sundays 02:00 UTC and on demand, never two at once', () => {
    expect(wf.on.schedule).toEqual([{ cron: '0 2 * * 0' }]);
    expect(wf.on).toHaveProperty('workflow_dispatch');
    expect(wf.concurrency['cancel-in-progress']).toBe(false);
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('builds base first, then fans out one job per variant without promoting', () => {
    expect(jobs.base.needs).toEqual(['prepare']);
    expect(runs(jobs.base)).toMatch(/aiboxctl\.cjs rebuild --variant base --date "\$DATE" --no-promote/);
    expect(jobs.variants.needs).toEqual(['prepare', 'base']);
    expect(jobs.variants.strategy.matrix.variant).toEqual(VARIANTS);
    expect(jobs.variants.strategy['fail-fast']).toBe(false);
    expect(runs(jobs.variants)).toMatch(/rebuild --variant "\$VARIANT" --date "\$DATE" --no-promote/);
    const env = jobs.variants.steps.find((s: any) => /rebuild/.test(s.run ?? '')).env;
    expect(env.VARIANT).toBe('${{ matrix.variant }}');
  });

  it('fans in to one promote job after every variant', () => {
    expect(jobs.promote.needs).toEqual(['prepare', 'base', 'variants']);
    expect(runs(jobs.promote)).toMatch(/aiboxctl\.cjs promote --date "\$DATE"/);
  });

  it('pages on-call when anything failed', () => {
    const n = jobs['notify-failure'];
    expect(n.if).toMatch(/failure\(\)/);
    expect(n.needs).toEqual(['prepare', 'base', 'variants', 'promote']);
    expect(runs(n)).toMatch(/notify pipeline-failed/);
  });

  it('takes credentials only from secrets', () => {
    const text = readFileSync(join(ROOT, 'deploy/ci/github-actions/weekly-rebuild.yml'), 'utf8');
    for (const s of [
      'HARBOR_ROBOT_USER',
      'HARBOR_ROBOT_TOKEN',
      'VAULT_ADDR',
      'VAULT_TOKEN',
      'SLACK_WEBHOOK_URL',
    ]) {
      expect(text).toContain(`${s}: \${{ secrets.${s} }}`);
    }
    expect(text).toMatch(/--password-stdin/);
  });
});

describe('deploy/ci/gitlab/weekly-rebuild.gitlab-ci.yml', () => {
  const ci = load('deploy/ci/gitlab/weekly-rebuild.gitlab-ci.yml');

  it('puts every job that writes to the registry in one resource group', () => {
    const jobs = Object.fromEntries(Object.entries(ci).filter(([k, v]) => !k.startsWith('.') && v?.stage));
    const w = writers(jobs);
    expect(w.sort()).toEqual(['promote', 'rebuild:base', 'rebuild:variant']);
    for (const j of w) expect(ci[j].resource_group, j).toBe('aibox-registry');
  });

  it('computes the date in the format rebuild and promote accept (YYYY-MM-DD)', () => {
    const prep = runs(ci.prepare);
    expect(prep).toContain('date -u +%F');
    expect(prep).not.toMatch(/%Y%m%d/);
  });

  it('documents the schedule and only runs from the schedule or on demand', () => {
    expect(ci.variables.AIBOX_SCHEDULE_CRON.value).toBe('0 2 * * 0');
    const rules = ci.workflow.rules.map((r: any) => r.if).join('\n');
    expect(rules).toMatch(/\$CI_PIPELINE_SOURCE == "schedule"/);
    expect(ci.stages).toEqual(['prepare', 'base', 'variants', 'promote', 'notify']);
  });

  it('builds base first, then one job per variant, then one promote', () => {
    expect(ci['rebuild:base'].needs).toEqual(['prepare']);
    expect(runs(ci['rebuild:base'])).toMatch(/rebuild --variant base --date "\$DATE" --no-promote/);
    const v = ci['rebuild:variant'];
    expect(v.needs).toEqual(['prepare', 'rebuild:base']);
    expect(v.parallel.matrix).toEqual([{ VARIANT: VARIANTS }]);
    expect(runs(v)).toMatch(/rebuild --variant "\$VARIANT" --date "\$DATE" --no-promote/);
    expect(ci.promote.needs).toEqual(['prepare', 'rebuild:base', 'rebuild:variant']);
    expect(runs(ci.promote)).toMatch(/promote --date "\$DATE"/);
    expect(ci.prepare.artifacts.reports.dotenv).toBe('date.env');
  });

  it('pages on-call on failure', () => {
    expect(ci['notify:failure'].when).toBe('on_failure');
    expect(runs(ci['notify:failure'])).toMatch(/notify pipeline-failed/);
  });

  it('shares setup (build, config, login) through one template', () => {
    for (const j of ['rebuild:base', 'rebuild:variant', 'promote'])
      expect(ci[j].extends).toBe('.aibox-setup');
    expect(ci['.aibox-setup'].before_script.join('\n')).toMatch(
      /podman login --username "\$HARBOR_ROBOT_USER" --password-stdin/,
    );
  });
});

describe('deploy/ci/aibox.ci.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aibox-ci-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders (envsubst) into a valid platform config that keeps the key in Vault', () => {
    const out = join(dir, 'aibox.yaml');
    const r = spawnSync('sh', [join(ROOT, 'deploy/ci/render-config.sh'), out], {
      env: {
        PATH: process.env.PATH,
        HARBOR_HOST: 'harbor.example',
        SLACK_WEBHOOK_URL: 'https://hooks.slack.test/services/T/B/x',
      },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.match(/hooks\.slack\.test/g)).toHaveLength(1); // substituted once, in the value only
    const cfg = parsePlatformConfigText(text, out);
    expect(cfg.registry.host).toBe('harbor.example');
    expect(cfg.signing.key).toBe('vault://secret/aibox/cosign-key');
    expect(cfg.notify.slackWebhook).toBe('https://hooks.slack.test/services/T/B/x');
    expect(Object.keys(cfg.variants)).toEqual(['base', ...VARIANTS]);
  });

  it('refuses to render without the variables', () => {
    const r = spawnSync('sh', [join(ROOT, 'deploy/ci/render-config.sh'), join(dir, 'x.yaml')], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/HARBOR_HOST is not set/);
  });
});

describe('the GitHub workflow harness (test/helpers/ci-github.ts) refuses what it does not know', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aibox-gh-harness-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const wf = (steps: string, extra = '') =>
    `on: workflow_dispatch\n${extra}jobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n${steps}`;
  const go = async (text: string) => {
    const { runGithubWorkflow } = await import('../../../test/helpers/ci-github.js');
    const file = join(dir, `wf-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, text);
    return runGithubWorkflow({
      file,
      cwd: dir,
      event: 'workflow_dispatch',
      secrets: { KNOWN: 'k' },
      vars: {},
      env: { PATH: process.env.PATH ?? '' },
      github: { sha: '0'.repeat(40), run_id: '1', repository: 'o/r' },
      uses: { 'actions/checkout': () => {} },
      tmp: join(dir, 'tmp'),
    });
  };

  it('runs known expressions and passes step outputs on', async () => {
    const r = await go(
      wf(
        '      - id: s\n        run: echo "x=${{ secrets.KNOWN }}-${{ github.sha }}" >> "$GITHUB_OUTPUT"\n' +
          '      - run: test "${{ steps.s.outputs.x }}" = "k-0000000000000000000000000000000000000000"\n',
      ),
    );
    expect(r.jobs.map((j) => j.result)).toEqual(['success']);
  });

  it.each([
    ['an unknown secret', '      - run: echo ${{ secrets.NOPE }}\n', /does not know "NOPE"/],
    ['an unknown context', '      - run: echo ${{ runner.os }}\n', /runner/i],
    ['an unknown github key', '      - run: echo ${{ github.event.inputs.x }}\n', /does not know "event"/],
    [
      'an action without emulation',
      '      - uses: actions/cache@v4\n',
      /no emulation for uses: actions\/cache@v4/,
    ],
    ['a schema error', '      - runx: echo\n', /does not parse/],
  ])('throws on %s', async (_, steps, message) => {
    await expect(go(wf(steps))).rejects.toThrow(message);
  });
});
