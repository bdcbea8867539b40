/**
 * `aiboxctl retention sync-harbor`, `gc schedule` and `gc status` in-process against the Harbor double (written
 * from Harbor's swagger, validating bodies as Harbor does), over real loopback HTTP: the exact request bodies,
 * dry run first, idempotence, create vs update, the six-field cron, delete_untagged sent explicitly, the runbook §4
 * alerts, permission hints, and the password never in any output.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/app.js';
import { registerGcCommands } from '../../src/cli/commands/gc.js';
import { registerRetentionCommands } from '../../src/cli/commands/retention.js';
import { isAiboxError } from '../../src/core/errors.js';
import { harborTagDeleter } from '../../src/retention/harbor-admin.js';
import { HarborTransport } from '../../src/scan/harbor-transport.js';
import { newAdminState } from '../doubles/harbor-admin.js';
import { startHarborDouble, type HarborDouble } from '../doubles/harbor.js';
import { envelopeOf, jsonOf } from '../helpers/cli.js';

const USER = 'robot$lifecycle';
const PASSWORD = 'Lifecycle-r0bot-s3cret';
let harbor: HarborDouble;
let dir: string;

beforeAll(async () => {
  harbor = await startHarborDouble({
    project: 'aibox',
    users: { [USER]: PASSWORD, robot$reader: 'r' },
    withoutAdminPermission: ['robot$reader'],
  });
  dir = await mkdtemp(join(tmpdir(), 'aibox-harbor-gc-'));
  // The registry side (the channel's tags are pinned) logs in like podman would.
  await mkdir(join(dir, '.docker'), { recursive: true });
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(
    join(dir, '.docker', 'config.json'),
    JSON.stringify({ auths: { [harbor.url.replace('http://', '')]: { auth } } }),
  );
});
afterAll(async () => {
  await harbor.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  Object.assign(harbor.admin, newAdminState());
  harbor.requests.length = 0;
});

async function ctl(args: string[], user = USER, password = PASSWORD) {
  let out = '';
  let err = '';
  const host = harbor.url.replace('http://', '');
  const code = await runCli(
    'aiboxctl',
    [registerRetentionCommands, registerGcCommands],
    ['--registry', `${host}/aibox`, ...args],
    {
      io: { out: (s) => void (out += s), err: (s) => void (err += s) },
      env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), HARBOR_USERNAME: user, HARBOR_PASSWORD: password },
      cwd: dir,
      now: () => new Date('2026-12-01T12:00:00Z'),
    },
  );
  return { code, out, err };
}

const writes = () =>
  harbor.requests
    .filter((r) => r.method !== 'GET' && r.rawPath.startsWith('/api/'))
    .map((r) => ({ method: r.method, path: r.rawPath, body: JSON.parse(r.body) as unknown }));

const scope = {
  repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '{base,java,node,dotnet,full}' }],
};
const sel = (pattern: string, untagged = false) => [
  { kind: 'doublestar', decoration: 'matches', pattern, extras: JSON.stringify({ untagged }) },
];
const DEFAULT_POLICY = {
  algorithm: 'or',
  scope: { level: 'project', ref: 2 },
  trigger: { kind: 'Schedule', settings: { cron: '0 0 3 * * 1' }, references: {} },
  rules: [
    {
      disabled: false,
      action: 'retain',
      template: 'always',
      params: {},
      tag_selectors: sel('latest'),
      scope_selectors: scope,
    },
    {
      disabled: false,
      action: 'retain',
      template: 'nDaysSinceLastPush',
      params: { nDaysSinceLastPush: 90 },
      tag_selectors: sel('*-cve-*'),
      scope_selectors: scope,
    },
    {
      disabled: false,
      action: 'retain',
      template: 'latestPushedK',
      params: { latestPushedK: 8 },
      // The config's default weekly rule: date tags only, emergency tags excluded (src/retention/rules.ts).
      tag_selectors: [
        ...sel('*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
        { kind: 'doublestar', decoration: 'excludes', pattern: '*-cve-*', extras: '{"untagged":false}' },
      ],
      scope_selectors: scope,
    },
    {
      disabled: false,
      action: 'retain',
      template: 'always',
      params: {},
      tag_selectors: sel('.aibox-untagged', true),
      scope_selectors: scope,
    },
  ],
};

describe('aiboxctl retention sync-harbor', () => {
  it('without --yes shows the diff and writes nothing', async () => {
    const r = await ctl(['retention', 'sync-harbor']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/would change \(create; dry run/);
    expect(r.out).toMatch(/\+ rule latestPushedK\(latestPushedK=8\)/);
    expect(writes()).toEqual([]);
  });

  it('with --yes creates the policy with exactly the body equivalent to the default (runbook) rules; a re-run changes nothing', async () => {
    const r = await ctl(['retention', 'sync-harbor', '--yes', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(jsonOf(r)).toMatchObject({ action: 'create', status: 'applied', policyId: 1 });
    expect(writes()).toEqual([{ method: 'POST', path: '/api/v2.0/retentions', body: DEFAULT_POLICY }]);
    harbor.requests.length = 0;
    const again = await ctl(['retention', 'sync-harbor', '--yes', '--json']);
    expect(jsonOf(again)).toMatchObject({ action: 'none', status: 'unchanged', diff: [] });
    expect(writes()).toEqual([]);
  });

  it('updates an existing policy with PUT (full body, its id), showing the changed schedule', async () => {
    await ctl(['retention', 'sync-harbor', '--yes']);
    harbor.requests.length = 0;
    const r = await ctl(['retention', 'sync-harbor', '--yes', '--cron', '30 2 * * 1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/~ schedule "0 0 3 \* \* 1" → "0 30 2 \* \* 1"/);
    expect(writes()).toEqual([
      {
        method: 'PUT',
        path: '/api/v2.0/retentions/1',
        body: {
          ...DEFAULT_POLICY,
          trigger: { ...DEFAULT_POLICY.trigger, settings: { cron: '0 30 2 * * 1' } },
          id: 1,
        },
      },
    ]);
  });

  it('a robot without the permissions gets exit 1 naming them; the password never shows', async () => {
    const r = await ctl(['retention', 'sync-harbor', '--json'], 'robot$reader', 'r');
    expect(r.code).toBe(1);
    expect(envelopeOf(r).error?.hint).toMatch(/tag-retention:create, read, update and list/);
    const r2 = await ctl(['retention', 'sync-harbor'], USER, 'wrong-Pa55word');
    expect(r2.code).toBe(1);
    expect(r2.out + r2.err).not.toContain('wrong-Pa55word');
    expect(r2.out + r2.err).not.toContain(PASSWORD);
  });
});

describe('aiboxctl gc schedule', () => {
  it('creates Harbor’s schedule in six fields with delete_untagged explicit, then updates it with PUT', async () => {
    const a = await ctl(['gc', 'schedule']);
    expect(a.code, a.err).toBe(0);
    const b = await ctl(['gc', 'schedule', '--cron', '0 5 * * 0', '--keep-untagged', '--workers', '2']);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/updated \(was "0 0 4 \* \* 1"\)/);
    expect(writes()).toEqual([
      {
        method: 'POST',
        path: '/api/v2.0/system/gc/schedule',
        body: {
          schedule: { type: 'Custom', cron: '0 0 4 * * 1' },
          parameters: { delete_untagged: true, workers: 1 },
        },
      },
      {
        method: 'PUT',
        path: '/api/v2.0/system/gc/schedule',
        body: {
          schedule: { type: 'Custom', cron: '0 0 5 * * 0' },
          parameters: { delete_untagged: false, workers: 2 },
        },
      },
    ]);
  });

  it.each([['0 4 * *'], ['@weekly'], ['0 25 * * 1']])(
    'refuses cron %j with exit 2 before any request',
    async (cron) => {
      const r = await ctl(['gc', 'schedule', '--cron', cron, '--json']);
      expect(r.code).toBe(2);
      expect(envelopeOf(r).error?.message).toMatch(/invalid cron/);
      expect(harbor.requests.filter((q) => q.rawPath.startsWith('/api/'))).toEqual([]);
    },
  );
});

describe('aiboxctl gc status', () => {
  it('healthy history and storage: exit 0, last success and usage shown', async () => {
    await ctl(['gc', 'schedule']);
    harbor.admin.gcHistory = [{ id: 9, status: 'Success', created: '2026-11-30T04:00:00Z' }];
    const r = await ctl(['gc', 'status', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(jsonOf(r)).toMatchObject({
      lastSuccess: { id: 9 },
      consecutiveFailures: 0,
      storage: { used: 21474836480, limit: 107374182400, percent: 20 },
      schedule: { cron: '0 0 4 * * 1' },
      alerts: [],
    });
  });

  it('two consecutive failed weeks and storage above 80 %: exit 1 with both alerts', async () => {
    await ctl(['gc', 'schedule']);
    harbor.admin.gcHistory = [
      { id: 3, status: 'Error', created: '2026-11-30T04:00:00Z' },
      { id: 2, status: 'Error', created: '2026-11-23T04:00:00Z' },
      { id: 1, status: 'Success', created: '2026-11-16T04:00:00Z' },
    ];
    harbor.admin.quota = { hard: 100 * 2 ** 30, used: 85 * 2 ** 30 };
    const r = await ctl(['gc', 'status']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ALERT: GC failed 2 times in a row/);
    expect(r.out).toMatch(/ALERT: storage at 85 % of the project quota/);
    expect(r.out).toMatch(/consecutive failures: 2/);
  });

  it('no schedule is an alert too', async () => {
    harbor.admin.gcHistory = [{ id: 1, status: 'Success', created: '2026-11-30T04:00:00Z' }];
    const r = await ctl(['gc', 'status', '--json']);
    expect(r.code).toBe(1);
    expect(jsonOf<{ alerts: string[] }>(r).alerts).toEqual([
      "no GC schedule is set (run 'aiboxctl gc schedule')",
    ]);
  });
});

describe('Harbor tag delete (retention apply on Harbor)', () => {
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;
  const transport = () =>
    new HarborTransport({ baseUrl: harbor.url, credentials: { username: USER, password: PASSWORD } });

  it('deletes the tag from the planned artifact only (nested names double-encoded); a re-run is a no-op', async () => {
    harbor.admin.tagsOn.set(`team/app@${D1}`, new Set(['24.04-20260101', 'keep']));
    const del = harborTagDeleter(transport(), 'aibox');
    await del({ registry: 'h', repository: 'aibox/team/app', tag: '24.04-20260101', digest: D1 });
    expect([...harbor.admin.tagsOn.get(`team/app@${D1}`)!]).toEqual(['keep']);
    expect(harbor.requests.filter((r) => r.method === 'DELETE').map((r) => r.rawPath)).toEqual([
      `/api/v2.0/projects/aibox/repositories/team%252Fapp/artifacts/${encodeURIComponent(D1)}/tags/24.04-20260101`,
    ]);
    await del({ registry: 'h', repository: 'aibox/team/app', tag: '24.04-20260101', digest: D1 });
  });

  it('a tag that moved to another digest since the plan is left alone', async () => {
    harbor.admin.tagsOn.set(`base@${D2}`, new Set(['latest']));
    await harborTagDeleter(
      transport(),
      'aibox',
    )({ registry: 'h', repository: 'aibox/base', tag: 'latest', digest: D1 });
    expect([...harbor.admin.tagsOn.get(`base@${D2}`)!]).toEqual(['latest']);
  });

  it('an immutable tag is POLICY_REFUSED naming the rule', async () => {
    harbor.admin.tagsOn.set(`base@${D1}`, new Set(['pinned']));
    harbor.admin.immutable.add('pinned');
    const err = await harborTagDeleter(
      transport(),
      'aibox',
    )({
      registry: 'h',
      repository: 'aibox/base',
      tag: 'pinned',
      digest: D1,
    }).catch((e: unknown) => e);
    expect(isAiboxError(err, 'POLICY_REFUSED')).toBe(true);
    expect((err as Error).message).toMatch(/immutable/);
  });
});
