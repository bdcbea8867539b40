import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfigText } from '../../config/parse.js';
import { defaultPlatformConfig } from '../../config/model.js';
import { AiboxError } from '../../core/errors.js';
import {
  compilePattern,
  defaultRetentionConfig,
  matchesPattern,
  patternProblem,
  ruleSelects,
  WEEKLY_TAG_PATTERN,
} from '../rules.js';

function configError(text: string): string {
  try {
    parsePlatformConfigText(text, 'aibox.yaml');
  } catch (e: unknown) {
    if (e instanceof AiboxError && e.code === 'CONFIG_INVALID') return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('doublestar tag patterns', () => {
  it.each([
    ['latest', 'latest', true],
    ['latest', 'latest2', false],
    ['*-cve-*', '24.04-20260221-cve-2026-12345', true],
    ['*-cve-*', '24.04-20260221', false],
    ['*', 'anything.at-all', true],
    ['**', '', true],
    ['v?', 'v1', true],
    ['v?', 'v10', false],
    ['{latest,stable}', 'stable', true],
    ['{a,{b,c}d}', 'cd', true],
    ['[0-9]*', '7x', true],
    ['[!0-9]*', '7x', false],
    ['[^0-9]*', 'x7', true],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['x.y', 'xzy', false],
    [WEEKLY_TAG_PATTERN, '21-24.04-20260221', true],
    [WEEKLY_TAG_PATTERN, '24.04-20260221-cve-2026-12345678', true], // excluded by the default rule's excludes
    [WEEKLY_TAG_PATTERN, 'latest', false],
  ])('%s matches %s: %s', (pattern, tag, want) => {
    expect(matchesPattern(pattern, tag)).toBe(want);
  });

  it.each([
    ['', 'empty pattern'],
    ['[abc', 'unclosed "["'],
    ['{a,b', 'unclosed "{"'],
    ['a\\', 'trailing'],
    ['[z-a]', 'reversed range'],
  ])('refuses %j (%s)', (pattern, why) => {
    expect(patternProblem(pattern)).toContain(why);
  });

  it('never throws anything but a pattern problem, and a valid pattern without metacharacters matches only itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (p) => {
        const why = patternProblem(p);
        if (why === undefined) expect(compilePattern(p)).toBeInstanceOf(RegExp);
        else expect(typeof why).toBe('string');
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{1,40}$/), (t) => {
        expect(matchesPattern(t, t)).toBe(true);
        expect(matchesPattern(t, `${t}x`)).toBe(false);
      }),
    );
  });

  it('the default weekly rule selects weekly tags only, never emergency ones', () => {
    const weekly = defaultRetentionConfig().rules[2]!;
    expect(ruleSelects(weekly, '24.04-20260221')).toBe(true);
    expect(ruleSelects(weekly, '24.04-20260221-cve-2026-12345678')).toBe(false);
    expect(ruleSelects(weekly, 'latest')).toBe(false);
  });
});

describe('the retention config section', () => {
  it("defaults to the runbook's intent exactly", () => {
    expect(defaultPlatformConfig().retention).toStrictEqual({
      rules: [
        {
          tag_pattern: 'latest',
          action: 'retain',
          retain_days: null,
          retain_count: null,
          scope: 'per_repository',
          excludes: [],
        },
        {
          tag_pattern: '*-cve-*',
          action: 'retain',
          retain_days: 90,
          retain_count: null,
          scope: 'per_repository',
          excludes: [],
        },
        {
          tag_pattern: WEEKLY_TAG_PATTERN,
          action: 'retain',
          retain_days: null,
          retain_count: 8,
          scope: 'per_repository',
          excludes: ['*-cve-*'],
        },
      ],
      excludes: [],
      keepChannelSequences: 4,
      maxDeletePercent: 50,
    });
  });

  it("reads the runbook's YAML form", () => {
    const c = parsePlatformConfigText(
      [
        'retention:',
        '  rules:',
        '    - tag_pattern: "latest"',
        '      action: retain',
        '    - tag_pattern: "*-cve-*"',
        '      retain_days: 90',
        '    - tag_pattern: "*"',
        '      retain_count: 8',
        '      scope: per_repository',
        '  keepChannelSequences: 6',
      ].join('\n'),
      'aibox.yaml',
    );
    expect(c.retention.rules.map((r) => [r.tag_pattern, r.retain_days, r.retain_count])).toEqual([
      ['latest', null, null],
      ['*-cve-*', 90, null],
      ['*', null, 8],
    ]);
    expect(c.retention.keepChannelSequences).toBe(6);
    expect(c.retention.maxDeletePercent).toBe(50);
  });

  it.each([
    [
      'an invalid pattern',
      'retention:\n  rules:\n    - tag_pattern: "[abc"\n',
      'aibox.yaml:3:20: retention.rules[0].tag_pattern: invalid value "[abc": invalid tag pattern: unclosed "["',
    ],
    [
      'a negative count',
      'retention:\n  rules:\n    - tag_pattern: "*"\n      retain_count: -1\n',
      'aibox.yaml:4:21: retention.rules[0].retain_count: invalid value -1: must be >= 1',
    ],
    [
      'negative days',
      'retention:\n  rules:\n    - tag_pattern: "*"\n      retain_days: -5\n',
      'aibox.yaml:4:20: retention.rules[0].retain_days: invalid value -5: must be >= 1',
    ],
    [
      'an unknown rule key',
      'retention:\n  rules:\n    - tag_pattern: "*"\n      retain_cnt: 3\n',
      'aibox.yaml:4:7: retention.rules[0].retain_cnt: unknown key',
    ],
    [
      'an unknown section key',
      'retention:\n  keepChannelSequence: 3\n',
      'aibox.yaml:2:3: retention.keepChannelSequence: unknown key',
    ],
    [
      'an unknown action',
      'retention:\n  rules:\n    - tag_pattern: "*"\n      action: delete\n',
      'aibox.yaml:4:15: retention.rules[0].action: invalid value "delete" (allowed: retain)',
    ],
    [
      'both days and count',
      'retention:\n  rules:\n    - tag_pattern: "*"\n      retain_days: 3\n      retain_count: 3\n',
      'aibox.yaml:5:21: retention.rules[0].retain_count: retain_days and retain_count exclude each other',
    ],
    [
      'an invalid exclude',
      'retention:\n  excludes: ["{x"]\n',
      'aibox.yaml:2:14: retention.excludes[0]: invalid value "{x": invalid tag pattern: unclosed "{"',
    ],
    [
      'a percent over 100',
      'retention:\n  maxDeletePercent: 101\n',
      'aibox.yaml:2:21: retention.maxDeletePercent: invalid value 101: must be <= 100',
    ],
  ])('%s is a config error with file:line:key', (_name, text, want) => {
    expect(configError(text)).toContain(want);
  });
});
