/** Harbor-native retention and GC, pure: cron conversion, the runbook's rules as a Harbor policy, diff, GC health. */
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import {
  diffPolicy,
  gcHealth,
  harborPolicy,
  RUNBOOK_RETENTION_RULES,
  toHarborCron,
  UNTAGGED_ONLY,
  type GcRun,
} from '../harbor-policy.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e: unknown) {
    return e;
  }
  return undefined;
}

describe('toHarborCron', () => {
  it.each([
    ['0 4 * * 1', '0 0 4 * * 1'],
    ['  0 4 * * 1 ', '0 0 4 * * 1'],
    ['0 0 4 * * 1', '0 0 4 * * 1'],
    ['*/15 2-4 1,15 JAN-MAR mon', '0 */15 2-4 1,15 JAN-MAR mon'],
    ['0 3 ? * 1', '0 0 3 ? * 1'],
  ])('%j → %j', (input, want) => expect(toHarborCron(input)).toBe(want));

  it.each([
    '',
    '0 4 * *',
    '0 4 * * 1 2026 x',
    '5 0 4 * * 1',
    '@weekly',
    '60 4 * * 1',
    '0 24 * * 1',
    '0 4 0 * 1',
    '0 4 * 13 1',
    '0 4 * * 7',
    '0 4 * * 5-1',
    '0 4 * * */0',
    '0 4 ? * 1'.replace('?', 'x'),
    '0 ? * * 1',
  ])('refuses %j with a USAGE error naming the rule', (input) => {
    const e = thrown(() => toHarborCron(input));
    expect(isAiboxError(e, 'USAGE')).toBe(true);
    expect((e as Error).message).toMatch(/invalid cron/);
  });
});

describe('harborPolicy', () => {
  it("writes the runbook's rules as Harbor rules, scoped to the variant repositories, untagged kept by a pin rule", () => {
    const p = harborPolicy({
      rules: RUNBOOK_RETENTION_RULES,
      projectId: 2,
      repositories: ['base', 'java'],
      pinnedTags: ['24.04-20260221', '21-24.04-20260221'],
      cron: '0 3 * * 1',
    });
    const scope = { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '{base,java}' }] };
    const sel = (pattern: string, untagged = false) => [
      { kind: 'doublestar', decoration: 'matches', pattern, extras: JSON.stringify({ untagged }) },
    ];
    expect(p).toEqual({
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
          tag_selectors: sel('*'),
          scope_selectors: scope,
        },
        {
          disabled: false,
          action: 'retain',
          template: 'always',
          params: {},
          tag_selectors: sel('{21-24.04-20260221,24.04-20260221}', true),
          scope_selectors: scope,
        },
      ],
    });
  });

  it('keeps untagged artifacts with a pattern no tag matches when nothing is pinned; excludes become a second selector', () => {
    const p = harborPolicy({
      rules: [{ tag_pattern: '*', retain_count: 3, excludes: ['*-rc', 'tmp-*'] }],
      projectId: 7,
      repositories: ['base'],
    });
    expect(p.rules[0]!.tag_selectors[1]).toEqual({
      kind: 'doublestar',
      decoration: 'excludes',
      pattern: '{*-rc,tmp-*}',
      extras: '{"untagged":false}',
    });
    expect(p.rules[1]!.tag_selectors[0]!.pattern).toBe(UNTAGGED_ONLY);
    expect(p.rules[1]!.tag_selectors[0]!.extras).toBe('{"untagged":true}');
  });

  it.each([
    [{ tag_pattern: '*', retain_count: 0 }, /retain_count 0/],
    [{ tag_pattern: '*', retain_count: -1 }, /retain_count -1/],
    [{ tag_pattern: '*', retain_count: 40000 }, /retain_count 40000/],
    [{ tag_pattern: '*', retain_days: 1.5 }, /retain_days 1.5/],
    [{ tag_pattern: '*', retain_days: 3, retain_count: 2 }, /both/],
  ])('refuses %j', (rule, msg) => {
    const e = thrown(() => harborPolicy({ rules: [rule], projectId: 1, repositories: ['base'] }));
    expect(isAiboxError(e, 'CONFIG_INVALID')).toBe(true);
    expect((e as Error).message).toMatch(msg);
  });

  it('refuses more than Harbor’s 15 rules', () => {
    const rules = Array.from({ length: 15 }, (_, i) => ({ tag_pattern: `p${i}-*`, retain_count: 1 }));
    expect(
      isAiboxError(
        thrown(() => harborPolicy({ rules, projectId: 1, repositories: ['b'] })),
        'CONFIG_INVALID',
      ),
    ).toBe(true);
  });
});

describe('diffPolicy', () => {
  const want = harborPolicy({ rules: RUNBOOK_RETENTION_RULES, projectId: 2, repositories: ['base'] });
  it('a missing policy is a create', () => {
    expect(diffPolicy(null, want).lines[0]).toMatch(/^\+ policy/);
  });
  it("Harbor's stored copy (ids, priorities added) is the same", () => {
    const stored = { ...want, id: 3, rules: want.rules.map((r, i) => ({ id: i + 1, priority: 0, ...r })) };
    expect(diffPolicy(stored, want)).toEqual({ same: true, lines: [] });
  });
  it('names a changed count, a removed rule and a changed schedule', () => {
    const cur = {
      ...want,
      trigger: { kind: 'Schedule', settings: { cron: '0 0 0 * * *' }, references: {} },
      rules: [...want.rules.slice(0, 2), { ...want.rules[2]!, params: { latestPushedK: 10 } }],
    };
    const d = diffPolicy(cur, want);
    expect(d.same).toBe(false);
    expect(d.lines).toContain('~ schedule "0 0 0 * * *" → "0 0 3 * * 1"');
    expect(d.lines.some((l) => l.startsWith('- rule latestPushedK(latestPushedK=10)'))).toBe(true);
    expect(d.lines.some((l) => l.startsWith('+ rule latestPushedK(latestPushedK=8)'))).toBe(true);
  });
});

describe('gcHealth', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const run = (id: number, status: string, created: string, dryRun = false): GcRun => ({
    id,
    status,
    trigger: 'SCHEDULE',
    created,
    updated: created,
    dryRun,
    deleteUntagged: true,
  });
  it('healthy: last success this week, no failures, storage under 80 %', () => {
    const h = gcHealth([run(2, 'Success', '2026-11-30T04:00:00Z')], { used: 50, hard: 100 }, now);
    expect(h).toMatchObject({ consecutiveFailures: 0, alerts: [], storage: { percent: 50 } });
  });
  it('two consecutive failures alert (dry runs and running ones do not count or break the streak)', () => {
    const h = gcHealth(
      [
        run(5, 'Running', '2026-12-01T04:00:00Z'),
        run(4, 'Error', '2026-11-30T04:00:00Z'),
        run(3, 'Success', '2026-11-29T04:00:00Z', true),
        run(2, 'Stopped', '2026-11-23T04:00:00Z'),
        run(1, 'Success', '2026-11-16T04:00:00Z'),
      ],
      null,
      now,
    );
    expect(h.consecutiveFailures).toBe(2);
    expect(h.lastSuccess?.id).toBe(1);
    expect(h.alerts.join('\n')).toMatch(/failed 2 times in a row/);
    expect(h.alerts.join('\n')).toMatch(/no successful GC for 15 days/);
  });
  it('one failure does not alert', () => {
    const h = gcHealth(
      [run(2, 'Error', '2026-11-30T04:00:00Z'), run(1, 'Success', '2026-11-23T04:00:00Z')],
      null,
      now,
    );
    expect(h.alerts).toEqual([]);
  });
  it('storage above 80 % alerts; an unlimited quota (-1) has no percentage', () => {
    expect(
      gcHealth([run(1, 'Success', '2026-11-30T04:00:00Z')], { used: 81, hard: 100 }, now).alerts,
    ).toEqual(['storage at 81 % of the project quota (alert above 80 %)']);
    expect(
      gcHealth([run(1, 'Success', '2026-11-30T04:00:00Z')], { used: 81, hard: -1 }, now).storage,
    ).toEqual({
      used: 81,
      limit: null,
      percent: null,
    });
  });
  it('an empty history alerts', () => {
    expect(gcHealth([], null, now).alerts).toEqual(['no successful GC in the history']);
  });
});
