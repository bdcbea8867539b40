/**
 * Harbor-native retention and GC, the pure part: the runbook's retention rules as Harbor's retention policy
 * (rule templates, doublestar selectors, scope, schedule), the diff against the policy Harbor holds, the
 * five-field → six-field cron rule, and the GC/quota health rules of runbook §4 "Monitoring". No I/O.
 * Shapes and semantics: reference/harbor.md §5 (retention), §6 (GC), §7 (quota), from goharbor/harbor's swagger.
 */
import { AiboxError } from '../core/errors.js';

/**
 * One retention rule in the runbook's YAML form (runbook §4 "Configuration"): the config's `RetentionRule`
 * (src/retention/rules.ts, null = not set) or the runbook's own shorthand (keys left out).
 */
export interface RetentionRuleInput {
  readonly tag_pattern: string;
  readonly action?: 'retain';
  readonly retain_days?: number | null;
  readonly retain_count?: number | null;
  readonly scope?: 'per_repository';
  /** Tag patterns the rule does not apply to. */
  readonly excludes?: readonly string[];
}

const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/** The runbook's rules, exactly (runbook §4). */
export const RUNBOOK_RETENTION_RULES: readonly RetentionRuleInput[] = [
  { tag_pattern: 'latest', action: 'retain' },
  { tag_pattern: '*-cve-*', retain_days: 90 },
  { tag_pattern: '*', retain_count: 8, scope: 'per_repository' },
];

/** Harbor's `RetentionSelector` (swagger `RetentionSelector`). */
export interface HarborSelector {
  readonly kind: 'doublestar';
  readonly decoration: 'matches' | 'excludes' | 'repoMatches' | 'repoExcludes';
  readonly pattern: string;
  readonly extras?: string;
}

/** Harbor's `RetentionRule` as aibox writes it. */
export interface HarborRule {
  readonly disabled: boolean;
  readonly action: 'retain';
  readonly template: 'latestPushedK' | 'nDaysSinceLastPush' | 'always';
  readonly params: Readonly<Record<string, number>>;
  readonly tag_selectors: readonly HarborSelector[];
  readonly scope_selectors: { readonly repository: readonly HarborSelector[] };
}

/** Harbor's `RetentionPolicy` (create/update body). */
export interface HarborRetentionPolicy {
  readonly id?: number;
  readonly algorithm: 'or';
  readonly scope: { readonly level: 'project'; readonly ref: number };
  readonly trigger: {
    readonly kind: 'Schedule';
    readonly settings: { readonly cron: string };
    readonly references: Readonly<Record<string, never>>;
  };
  readonly rules: readonly HarborRule[];
}

/** Harbor accepts at most 15 rules per policy (retention.go L164). */
export const HARBOR_MAX_RULES = 15;
/** `latestPushedK` must be below 32767 (latestps L87). */
const MAX_K = 32766;
/** Retention runs before the weekly GC (Monday 04:00 UTC): Monday 03:00 UTC. */
export const DEFAULT_RETENTION_CRON = '0 3 * * 1';
/** The runbook's GC schedule (runbook §4). */
export const DEFAULT_GC_CRON = '0 4 * * 1';

// ------------------------------------------------------------------ cron

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: 'JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC' },
  { name: 'day of week', min: 0, max: 6, names: 'SUN MON TUE WED THU FRI SAT' },
] as const;

function badCron(input: string, why: string): AiboxError {
  return new AiboxError({
    code: 'USAGE',
    message: `invalid cron ${JSON.stringify(input.slice(0, 100))}: ${why}`,
    hint: 'Give five fields "minute hour day-of-month month day-of-week" in UTC, e.g. "0 4 * * 1" (Monday 04:00); Harbor\'s six-field form with seconds 0 ("0 0 4 * * 1") is accepted too',
  });
}

function checkField(input: string, value: string, f: (typeof FIELDS)[number]): void {
  const names = 'names' in f ? f.names.split(' ') : [];
  const num = (s: string): number => {
    const i = names.indexOf(s.toUpperCase());
    if (i >= 0) return i + f.min;
    if (!/^\d{1,2}$/.test(s)) throw badCron(input, `${f.name} field "${value}" has "${s}", not a number`);
    const n = Number(s);
    if (n < f.min || n > f.max) throw badCron(input, `${f.name} ${n} is outside ${f.min}-${f.max}`);
    return n;
  };
  for (const part of value.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '')
      throw badCron(input, `${f.name} field "${value}" is malformed`);
    if (step !== undefined && (!/^\d{1,2}$/.test(step) || Number(step) === 0))
      throw badCron(input, `${f.name} step "${step}" must be a positive number`);
    if (range === '*' || range === '?') {
      if (range === '?' && f.name !== 'day of month' && f.name !== 'day of week')
        throw badCron(input, `"?" is only allowed in the day fields`);
      continue;
    }
    const [lo, hi, more] = range.split('-');
    if (more !== undefined || lo === undefined)
      throw badCron(input, `${f.name} range "${range}" is malformed`);
    const a = num(lo);
    if (hi !== undefined && num(hi) < a) throw badCron(input, `${f.name} range "${range}" goes backwards`);
  }
}

/**
 * The runbook's five-field cron (UTC) as Harbor's six-field form `sec min hour dom mon dow` with seconds 0, which is
 * what Harbor's validation demands (src/common/utils/utils.go L295-L313). A six-field input must have seconds 0.
 * Descriptors (@weekly) are refused: Harbor stores the cron as given and its UI shows it.
 */
export function toHarborCron(input: string): string {
  const fields = input.trim().split(/\s+/);
  if (input.trim() === '') throw badCron(input, 'it is empty');
  if (fields[0]?.startsWith('@')) throw badCron(input, 'descriptors such as @weekly are not accepted');
  let five: string[];
  if (fields.length === 6) {
    if (fields[0] !== '0') throw badCron(input, 'Harbor needs the seconds field to be 0');
    five = fields.slice(1);
  } else if (fields.length === 5) {
    five = fields;
  } else {
    throw badCron(input, `it has ${fields.length} fields, not 5`);
  }
  for (const [i, f] of FIELDS.entries()) checkField(input, five[i] ?? '', f);
  return `0 ${five.join(' ')}`;
}

// ------------------------------------------------------------------ policy

function invalidRule(i: number, why: string): AiboxError {
  return new AiboxError({
    code: 'CONFIG_INVALID',
    message: `retention rule ${i + 1} cannot be expressed as a Harbor retention rule: ${why}`,
    hint: 'Each rule retains by tag_pattern with retain_days, retain_count, or neither (always); see docs/retention.md "Harbor-native mode"',
  });
}

const NO_UNTAGGED = JSON.stringify({ untagged: false });
const KEEP_UNTAGGED = JSON.stringify({ untagged: true });
/** A doublestar pattern no OCI tag matches (tags never start with "."). */
export const UNTAGGED_ONLY = '.aibox-untagged';

/** Doublestar alternatives `{a,b}` for a list; a single pattern as is. */
function alternatives(patterns: readonly string[]): string {
  const [only, ...more] = patterns;
  return only !== undefined && more.length === 0 ? only : `{${patterns.join(',')}}`;
}

export interface HarborPolicyInput {
  readonly rules: readonly RetentionRuleInput[];
  /** Harbor's numeric project id (the policy's scope.ref). */
  readonly projectId: number;
  /** Repositories (without the project) the policy may touch: the variants' repositories only. */
  readonly repositories: readonly string[];
  /** Tags that must survive whatever the rules say (the channel's tags: current and rollback targets). */
  readonly pinnedTags?: readonly string[];
  /** Tag patterns never deleted (config `retention.excludes`): an `always` rule of their own. */
  readonly neverDelete?: readonly string[];
  /** Five-field cron (UTC) of the retention run. */
  readonly cron?: string;
}

/**
 * The Harbor retention policy equivalent to the rules, with what Harbor cannot know added as rules of its own:
 *  - scope: only the variants' repositories (`repoMatches {base,java,…}`), never `channel`, `staging/*` or the CVE
 *    records, which Harbor would otherwise empty (every artifact no rule retains in an in-scope repository goes);
 *  - pins: an `always` rule for the tags the current channel names;
 *  - untagged artifacts: every rule says `untagged:false` (they do not count towards `latestPushedK`), and the pin
 *    rule says `untagged:true`, so retention never deletes a manifest a running pipeline has pushed but not yet
 *    tagged; untagged artifacts are GC's (`delete_untagged`, after Harbor's 2 h time window).
 */
export function harborPolicy(input: HarborPolicyInput): HarborRetentionPolicy {
  if (input.repositories.length === 0) throw invalidRule(0, 'no repositories are in scope');
  const scope = {
    repository: [
      {
        kind: 'doublestar' as const,
        decoration: 'repoMatches' as const,
        pattern: alternatives(input.repositories),
      },
    ],
  };
  const rules: HarborRule[] = input.rules.map((r, i) => {
    // Typed 'retain', but the rules come from a config file: checked all the same.
    const action: unknown = r.action;
    if (action !== undefined && action !== 'retain') throw invalidRule(i, `action ${JSON.stringify(action)}`);
    if (given(r.retain_days) && given(r.retain_count))
      throw invalidRule(i, 'both retain_days and retain_count (Harbor rules have one template)');
    const tag: HarborSelector[] = [
      { kind: 'doublestar', decoration: 'matches', pattern: r.tag_pattern, extras: NO_UNTAGGED },
    ];
    if (r.excludes && r.excludes.length > 0) {
      // Harbor has one tag selector per rule in its UI; two selectors (matches + excludes) are AND-ed by the
      // evaluator (each narrows the candidates), which is what `excludes` means here.
      tag.push({
        kind: 'doublestar',
        decoration: 'excludes',
        pattern: alternatives(r.excludes),
        extras: NO_UNTAGGED,
      });
    }
    if (given(r.retain_count)) {
      if (!Number.isInteger(r.retain_count) || r.retain_count < 1 || r.retain_count > MAX_K)
        throw invalidRule(i, `retain_count ${r.retain_count} is not an integer 1-${MAX_K}`);
      return base('latestPushedK', { latestPushedK: r.retain_count }, tag);
    }
    if (given(r.retain_days)) {
      if (!Number.isInteger(r.retain_days) || r.retain_days < 1)
        throw invalidRule(i, `retain_days ${r.retain_days} is not a positive integer`);
      return base('nDaysSinceLastPush', { nDaysSinceLastPush: r.retain_days }, tag);
    }
    return base('always', {}, tag);
  });
  if (input.neverDelete && input.neverDelete.length > 0) {
    rules.push(
      base('always', {}, [
        {
          kind: 'doublestar',
          decoration: 'matches',
          pattern: alternatives(input.neverDelete),
          extras: NO_UNTAGGED,
        },
      ]),
    );
  }
  const pins = [...new Set(input.pinnedTags ?? [])].sort();
  if (pins.length > 0) {
    rules.push(
      base('always', {}, [
        { kind: 'doublestar', decoration: 'matches', pattern: alternatives(pins), extras: KEEP_UNTAGGED },
      ]),
    );
  } else {
    // No pins: an `always` rule for untagged artifacts only, for the same staging reason. Its pattern matches no
    // tag (a tag never starts with "."); an empty pattern would match every tag (selector.go L164-L169).
    rules.push(
      base('always', {}, [
        { kind: 'doublestar', decoration: 'matches', pattern: UNTAGGED_ONLY, extras: KEEP_UNTAGGED },
      ]),
    );
  }
  if (rules.length > HARBOR_MAX_RULES)
    throw invalidRule(
      rules.length - 1,
      `Harbor allows at most ${HARBOR_MAX_RULES} rules, this needs ${rules.length}`,
    );
  return {
    algorithm: 'or',
    scope: { level: 'project', ref: input.projectId },
    trigger: {
      kind: 'Schedule',
      settings: { cron: toHarborCron(input.cron ?? DEFAULT_RETENTION_CRON) },
      references: {},
    },
    rules,
  };

  function base(
    template: HarborRule['template'],
    params: Record<string, number>,
    tag: HarborSelector[],
  ): HarborRule {
    return {
      disabled: false,
      action: 'retain',
      template,
      params,
      tag_selectors: tag,
      scope_selectors: scope,
    };
  }
}

/** One line per rule, the same for equal rules whatever Harbor added (ids, priorities, key order). */
function ruleLine(r: unknown): string {
  const x = (r ?? {}) as {
    disabled?: unknown;
    template?: unknown;
    params?: Record<string, unknown>;
    tag_selectors?: { decoration?: unknown; pattern?: unknown; extras?: unknown }[];
    scope_selectors?: { repository?: { decoration?: unknown; pattern?: unknown }[] };
  };
  const params = Object.entries(x.params ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort()
    .join(',');
  const extras = (e: unknown): string => {
    if (typeof e !== 'string' || e === '') return 'untagged=default';
    try {
      const u = (JSON.parse(e) as { untagged?: unknown }).untagged;
      return `untagged=${String(u)}`;
    } catch {
      return `extras=${e}`;
    }
  };
  const tags = (x.tag_selectors ?? []).map(
    (s) => `${String(s.decoration)}:${String(s.pattern)}(${extras(s.extras)})`,
  );
  const repos = (x.scope_selectors?.repository ?? []).map(
    (s) => `${String(s.decoration)}:${String(s.pattern)}`,
  );
  return `${x.disabled === true ? 'DISABLED ' : ''}${String(x.template)}${params ? `(${params})` : ''} tags ${tags.join(' ')} repos ${repos.join(' ')}`;
}

export interface PolicyDiff {
  /** Nothing to change. */
  readonly same: boolean;
  /** Human lines: `+ rule …`, `- rule …`, `~ schedule a → b`. */
  readonly lines: readonly string[];
}

/** What changes from the policy Harbor holds (null: none) to the desired one. */
export function diffPolicy(current: unknown, desired: HarborRetentionPolicy): PolicyDiff {
  const lines: string[] = [];
  interface Held {
    algorithm?: unknown;
    rules?: unknown[];
    trigger?: { settings?: { cron?: unknown } };
    scope?: { level?: unknown; ref?: unknown };
  }
  const cur: Held | null = current !== null && typeof current === 'object' ? current : null;
  const want = desired.rules.map(ruleLine);
  const have = (cur?.rules ?? []).map(ruleLine);
  if (cur === null) lines.push('+ policy (the project has no retention policy yet)');
  for (const l of have) if (!want.includes(l)) lines.push(`- rule ${l}`);
  for (const l of want) if (!have.includes(l)) lines.push(`+ rule ${l}`);
  if (cur !== null) {
    const cron = cur.trigger?.settings?.cron;
    if (cron !== desired.trigger.settings.cron)
      lines.push(
        `~ schedule ${JSON.stringify(cron ?? '')} → ${JSON.stringify(desired.trigger.settings.cron)}`,
      );
    if (cur.algorithm !== 'or') lines.push(`~ algorithm ${String(cur.algorithm)} → or`);
    if (cur.scope?.level !== 'project' || cur.scope.ref !== desired.scope.ref)
      lines.push(
        `~ scope ${String(cur.scope?.level)}/${String(cur.scope?.ref)} → project/${desired.scope.ref}`,
      );
  } else {
    lines.push(`+ schedule ${JSON.stringify(desired.trigger.settings.cron)}`);
  }
  // Same rules in another order is a change too: Harbor shows them in order.
  if (lines.length === 0 && have.join('\n') !== want.join('\n')) lines.push('~ rule order');
  return { same: lines.length === 0, lines };
}

// ------------------------------------------------------------------ GC health

/** One GC run as Harbor's history lists it (`GCHistory`, harbor.md §6). */
export interface GcRun {
  readonly id: number;
  readonly status: string;
  readonly trigger: string;
  readonly created: string;
  readonly updated: string;
  readonly dryRun: boolean;
  readonly deleteUntagged: boolean | null;
}

export interface GcHealth {
  readonly lastSuccess: GcRun | null;
  /** Finished, non-dry runs that failed since the last success, newest first. */
  readonly consecutiveFailures: number;
  readonly storage: {
    readonly used: number;
    readonly limit: number | null;
    readonly percent: number | null;
  } | null;
  readonly alerts: readonly string[];
}

/** Consecutive failures that alert ("GC fails to run for 2 consecutive weeks", runbook §4). */
export const GC_FAILURE_ALERT = 2;
/** Storage share that alerts ("Harbor storage exceeds 80% capacity", runbook §4). */
export const STORAGE_ALERT_PERCENT = 80;
const TWO_WEEKS_MS = 14 * 86_400_000;

/**
 * Runbook §4 monitoring from GC history (newest first, any order accepted) and the project's quota: the last
 * success, consecutive failures (Error/Stopped; dry runs and runs still going do not count), and the alerts: two
 * consecutive failures, no success for two weeks (a GC that silently stopped running), storage over 80 % of the
 * quota (an unlimited quota, `-1`, has no percentage).
 */
export function gcHealth(
  runs: readonly GcRun[],
  quota: { readonly used: number; readonly hard: number } | null,
  now: Date,
): GcHealth {
  const real = [...runs]
    .filter((r) => !r.dryRun)
    .sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
  const lastSuccess = real.find((r) => r.status === 'Success') ?? null;
  let consecutiveFailures = 0;
  for (const r of real) {
    if (r.status === 'Success') break;
    if (r.status === 'Error' || r.status === 'Stopped') consecutiveFailures++;
  }
  const alerts: string[] = [];
  if (consecutiveFailures >= GC_FAILURE_ALERT)
    alerts.push(`GC failed ${consecutiveFailures} times in a row (alert at ${GC_FAILURE_ALERT})`);
  const since = lastSuccess
    ? now.getTime() - Date.parse(lastSuccess.updated || lastSuccess.created)
    : Infinity;
  if (since > TWO_WEEKS_MS)
    alerts.push(
      lastSuccess
        ? `no successful GC for ${Math.floor(since / 86_400_000)} days (last ${lastSuccess.updated || lastSuccess.created})`
        : 'no successful GC in the history',
    );
  let storage: GcHealth['storage'] = null;
  if (quota) {
    const limit = quota.hard > 0 ? quota.hard : null;
    const percent = limit ? Math.round((quota.used / limit) * 1000) / 10 : null;
    storage = { used: quota.used, limit, percent };
    if (percent !== null && percent > STORAGE_ALERT_PERCENT)
      alerts.push(`storage at ${percent} % of the project quota (alert above ${STORAGE_ALERT_PERCENT} %)`);
  }
  return { lastSuccess, consecutiveFailures, storage, alerts };
}
