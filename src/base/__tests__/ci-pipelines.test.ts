/**
 * Structure checks for the CI pipelines in deploy/ci (GitHub Actions and GitLab): schedule, fan-out after base,
 * fan-in promote, on-call failure job, secrets only from the secret store; and the CI config template is a
 * valid platform config once rendered.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('the emergency CVE rebuild templates (issue 9 §7)', () => {
  const gh = load('deploy/ci/github-actions/emergency-rebuild.yml');
  const weekly = load('deploy/ci/github-actions/weekly-rebuild.yml');
  const gl = load('deploy/ci/gitlab/emergency-rebuild.gitlab-ci.yml');
  const glWeekly = load('deploy/ci/gitlab/weekly-rebuild.gitlab-ci.yml');
  const INPUTS = ['AIBOX_CVE', 'AIBOX_CVSS', 'AIBOX_PACKAGES', 'AIBOX_VARIANTS'];

  it('GitHub: workflow_dispatch with cve, cvss, packages, variants, in the weekly run’s concurrency group', () => {
    expect(Object.keys(gh.on)).toEqual(['workflow_dispatch']);
    expect(Object.keys(gh.on.workflow_dispatch.inputs)).toEqual(['cve', 'cvss', 'packages', 'variants']);
    expect(gh.on.workflow_dispatch.inputs.cve.required).toBe(true);
    expect(gh.concurrency).toEqual(weekly.concurrency);
    expect(gh.permissions).toEqual({ contents: 'read' });
    expect(gh.jobs.rebuild.needs).toEqual(['validate']);
    expect(gh.jobs['notify-failure'].if).toMatch(/failure\(\)/);
    expect(gh.jobs['notify-failure'].needs).toEqual(['validate', 'rebuild']);
  });

  it('GitHub: inputs reach steps only as environment variables, never ${{ inputs.* }} inside run:', () => {
    for (const [name, job] of Object.entries(gh.jobs as Record<string, any>))
      for (const step of job.steps ?? []) {
        expect(String(step.run ?? ''), name).not.toMatch(/\$\{\{\s*(inputs|github\.event)\./);
        for (const [k, v] of Object.entries((step.env ?? {}) as Record<string, string>))
          if (/inputs\./.test(v)) expect(INPUTS, `${name}: ${k}`).toContain(k);
      }
    const text = readFileSync(join(ROOT, 'deploy/ci/github-actions/emergency-rebuild.yml'), 'utf8');
    const uses = [...text.matchAll(/^\s*-?\s*uses:\s*(.*)$/gm)].map((m) => m[1]!.trim());
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it('GitLab: a manual (web/api) pipeline with the four variables, in the weekly run’s resource group', () => {
    const rules = gl.workflow.rules.map((r: any) => r.if).join('\n');
    expect(rules).toMatch(/AIBOX_PIPELINE == "emergency-rebuild"/);
    expect(rules).not.toMatch(/schedule/);
    for (const v of INPUTS) expect(gl.variables[v], v).toMatchObject({ value: '' });
    expect(gl['cve:rebuild'].resource_group).toBe(glWeekly['rebuild:base'].resource_group);
    // The untrusted variables are checked before anything else runs, and never interpolated into a command.
    expect(gl['cve:rebuild'].before_script[0]).toBe('sh deploy/ci/cve-rebuild.sh --check');
    for (const [name, job] of Object.entries(gl))
      if (job?.stage) for (const v of INPUTS) expect(runs(job), name).not.toContain(`$${v}`);
    expect(gl['cve:notify:failure'].when).toBe('on_failure');
  });

  describe('deploy/ci/cve-rebuild.sh --check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aibox-cve-rebuild-sh-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const check = (env: Record<string, string>) =>
      spawnSync('sh', [join(ROOT, 'deploy/ci/cve-rebuild.sh'), '--check'], {
        env: { PATH: process.env.PATH, ...env },
        cwd: dir,
        encoding: 'utf8',
      });

    it('turns valid inputs into one argv element each', () => {
      const r = check({
        AIBOX_CVE: 'CVE-2026-12345, CVE-2026-0001',
        AIBOX_CVSS: ' 9.8 ',
        AIBOX_PACKAGES: 'aibox-canary libstdc++6',
        AIBOX_VARIANTS: 'base,dotnet',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(
        'cve-rebuild.sh: inputs valid; will run: aiboxctl cve rebuild --cve CVE-2026-12345 --cve CVE-2026-0001 --cvss 9.8 --package aibox-canary --package libstdc++6 --variant base --variant dotnet',
      );
    });

    const marker = join(dir, 'pwned');
    it.each([
      [{ AIBOX_CVE: '' }, /AIBOX_CVE is empty/],
      [{ AIBOX_CVE: 'CVE-26-1' }, /AIBOX_CVE: "CVE-26-1" is not a CVE id/],
      [{ AIBOX_CVE: `CVE-2026-1234;touch ${marker}` }, /AIBOX_CVE contains a character outside/],
      [{ AIBOX_CVE: `$(touch ${marker})` }, /AIBOX_CVE contains a character outside/],
      [{ AIBOX_CVE: 'CVE-2026-1234\ntouch x' }, /AIBOX_CVE contains a character outside/],
      [{ AIBOX_CVE: 'CVE-2026-*' }, /AIBOX_CVE contains a character outside/],
      [{ AIBOX_CVE: 'CVE-2026-1234', AIBOX_CVSS: '10.1' }, /AIBOX_CVSS: "10.1" is not a CVSS score/],
      [{ AIBOX_CVE: 'CVE-2026-1234', AIBOX_CVSS: '1,0' }, /AIBOX_CVSS: "1\?0" is not a CVSS score/],
      [{ AIBOX_CVE: 'CVE-2026-1234', AIBOX_CVSS: 'nine' }, /AIBOX_CVSS: "\?\?\?\?" is not a CVSS score/],
      [
        { AIBOX_CVE: 'CVE-2026-1234', AIBOX_PACKAGES: '-oAPT' },
        /AIBOX_PACKAGES: "-oAPT" is not a Debian package/,
      ],
      [{ AIBOX_CVE: 'CVE-2026-1234', AIBOX_PACKAGES: '`id`' }, /AIBOX_PACKAGES contains a character outside/],
      [
        { AIBOX_CVE: 'CVE-2026-1234', AIBOX_VARIANTS: 'Base' },
        /AIBOX_VARIANTS: "Base" is not a variant name/,
      ],
      [{ AIBOX_CVE: 'CVE-2026-1234', AIBOX_VARIANTS: 'a|b' }, /AIBOX_VARIANTS contains a character outside/],
    ])('%j → exit 2 naming the input', (env, message) => {
      const r = check(env);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
      expect(existsSync(marker)).toBe(false);
    });
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
