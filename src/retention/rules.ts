/**
 * The retention rule model (pure, no dependencies): the config section's types and defaults, and the
 * doublestar tag-pattern matcher the plan and the Harbor policy sync share. The YAML form is the
 * runbook's (§4): `rules: [{ tag_pattern, action: retain, retain_days?, retain_count?, scope:
 * per_repository, excludes? }]`; the config schema (`config/schema.ts`) maps it to these camelCase
 * types. Semantics are Harbor's tag retention (reference/harbor.md §5): a tag survives when any rule
 * keeps it; counts are newest first, per repository.
 */

/** One retention rule (the YAML keys in comments). */
export interface RetentionRule {
  /** `tag_pattern`: doublestar glob on the tag (`*`, `**`, `?`, `[0-9]`, `[!a]`, `{a,b}`). */
  readonly tag_pattern: string;
  /** `action`: only `retain` (Harbor has no other action). */
  readonly action: 'retain';
  /** `retain_days`: keep matching tags younger than this many days (Harbor `nDaysSinceLastPush`); null = no age rule. */
  readonly retain_days: number | null;
  /** `retain_count`: keep the N newest matching tags (Harbor `latestPushedK`); null = no count rule. */
  readonly retain_count: number | null;
  /** `scope`: `per_repository` (counts are per repository, i.e. per variant). */
  readonly scope: 'per_repository';
  /** `excludes`: tags matching any of these are not selected by this rule (Harbor's `excludes` decoration). */
  excludes: string[];
}

/** The `retention` section of the platform config. */
export interface RetentionConfig {
  rules: RetentionRule[];
  /** Tags matching any of these patterns are never deleted, whatever the rules say (reason `excluded`). */
  excludes: string[];
  /** Channel history sequences (highest first) whose digests are kept as rollback targets. */
  readonly keepChannelSequences: number;
  /** `apply` refuses to delete more than this share of a repository's tags (unless `--max-delete N`). */
  readonly maxDeletePercent: number;
}

export const RULE_SCOPES = ['per_repository'] as const;
export const RULE_ACTIONS = ['retain'] as const;
/** Harbor's limit for latestPushedK (< 32767); used as the upper bound of counts and days. */
export const MAX_RULE_NUMBER = 32766;
/** A policy may have at most 15 rules in Harbor (reference/harbor.md §5). */
export const MAX_RULES = 15;

/** A weekly build tag of any variant: `<prefix>-YYYYMMDD` (the emergency tags are excluded by the rule). */
export const WEEKLY_TAG_PATTERN = '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
/** An emergency build tag: `<prefix>-YYYYMMDD-cve-<id>`. */
export const EMERGENCY_TAG_PATTERN = '*-cve-*';

/** The runbook's intent exactly: `latest` never deleted; `-cve-` builds 90 days; the last 8 weekly builds per variant. */
export function defaultRetentionRules(): RetentionRule[] {
  const rule = (tag_pattern: string, r: Partial<RetentionRule> = {}): RetentionRule => ({
    tag_pattern,
    action: 'retain',
    retain_days: null,
    retain_count: null,
    scope: 'per_repository',
    excludes: [],
    ...r,
  });
  return [
    rule('latest'),
    rule(EMERGENCY_TAG_PATTERN, { retain_days: 90 }),
    rule(WEEKLY_TAG_PATTERN, { retain_count: 8, excludes: [EMERGENCY_TAG_PATTERN] }),
  ];
}

/** The built-in `retention` section; a fresh object each call. */
export function defaultRetentionConfig(): RetentionConfig {
  return { rules: defaultRetentionRules(), excludes: [], keepChannelSequences: 4, maxDeletePercent: 50 };
}

/** How a rule keeps what it selects: `always` (no numbers), `days` or `count` (Harbor's templates). */
export function ruleKind(rule: RetentionRule): 'always' | 'days' | 'count' {
  return rule.retain_count !== null ? 'count' : rule.retain_days !== null ? 'days' : 'always';
}

/** One line naming a rule in plans and messages: `rule 3 "*-[0-9]…" retain_count 8`. */
export function describeRule(rule: RetentionRule, index: number): string {
  const what =
    rule.retain_count !== null
      ? ` retain_count ${rule.retain_count}`
      : rule.retain_days !== null
        ? ` retain_days ${rule.retain_days}`
        : ' always';
  const ex = rule.excludes.length ? ` excludes ${rule.excludes.map((e) => JSON.stringify(e)).join(',')}` : '';
  return `rule ${index + 1} ${JSON.stringify(rule.tag_pattern)}${what}${ex}`;
}

// ---------------------------------------------------------------- doublestar patterns

/** Why a pattern is not valid, or undefined when it is (for the config schema's message). */
export function patternProblem(pattern: string): string | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (e: unknown) {
    return e instanceof PatternError ? e.message : String(e);
  }
}

class PatternError extends Error {}

const cache = new Map<string, RegExp>();

/**
 * Compile a doublestar pattern (bmatcuk/doublestar, as Harbor's selectors use) to an anchored RegExp:
 * `*` any run of characters but `/`, `**` any run, `?` one character but `/`, `[abc]`/`[a-z]`/`[!a]`/`[^a]`
 * a class, `{a,b}` alternatives (nested), `\x` the character x. Throws on an empty pattern, an unclosed
 * `[` or `{`, an empty class, a reversed range or a trailing `\`.
 */
export function compilePattern(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  if (pattern.length === 0) throw new PatternError('empty pattern (use "**" for every tag)');
  if (pattern.length > 256) throw new PatternError('pattern longer than 256 characters');
  let i = 0;
  let depth = 0;
  let out = '';
  const esc = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  while (i < pattern.length) {
    const c = pattern[i] ?? '';
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) throw new PatternError(`trailing "\\" at position ${i + 1}`);
      out += esc(n);
      i += 2;
    } else if (c === '*') {
      if (pattern[i + 1] === '*') {
        out += '.*';
        while (pattern[i] === '*') i++;
      } else {
        out += '[^/]*';
        i++;
      }
    } else if (c === '?') {
      out += '[^/]';
      i++;
    } else if (c === '[') {
      const close = classEnd(pattern, i);
      if (close < 0) throw new PatternError(`unclosed "[" at position ${i + 1}`);
      out += compileClass(pattern.slice(i + 1, close), i);
      i = close + 1;
    } else if (c === '{') {
      depth++;
      out += '(?:';
      i++;
    } else if (c === ',' && depth > 0) {
      out += '|';
      i++;
    } else if (c === '}' && depth > 0) {
      depth--;
      out += ')';
      i++;
    } else {
      out += esc(c);
      i++;
    }
  }
  if (depth > 0) throw new PatternError('unclosed "{"');
  const re = new RegExp(`^${out}$`, 's');
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, re);
  return re;
}

function classEnd(p: string, open: number): number {
  let j = open + 1;
  if (p[j] === '!' || p[j] === '^') j++;
  if (p[j] === ']') j++; // a leading ] is literal
  for (; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']') return j;
  }
  return -1;
}

function compileClass(body: string, at: number): string {
  let neg = false;
  let b = body;
  if (b.startsWith('!') || b.startsWith('^')) {
    neg = true;
    b = b.slice(1);
  }
  if (b.length === 0) throw new PatternError(`empty character class at position ${at + 1}`);
  const chars: string[] = [];
  for (let k = 0; k < b.length; k++) {
    let ch = b[k] ?? '';
    if (ch === '\\') ch = b[++k] ?? '';
    chars.push(ch);
  }
  let out = '';
  for (let k = 0; k < chars.length; k++) {
    const lo = chars[k] ?? '';
    if (chars[k + 1] === '-' && k + 2 < chars.length) {
      const hi = chars[k + 2] ?? '';
      if (hi < lo) throw new PatternError(`reversed range "${lo}-${hi}" at position ${at + 1}`);
      out += `${escClass(lo)}-${escClass(hi)}`;
      k += 2;
    } else out += escClass(lo);
  }
  return neg ? `[^/${out}]` : `[${out}]`;
}

const escClass = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');

/** Whether a tag matches a doublestar pattern (throws for an invalid pattern; the config schema refuses those first). */
export function matchesPattern(pattern: string, tag: string): boolean {
  return compilePattern(pattern).test(tag);
}

/** Whether a rule selects a tag: its pattern matches and none of its `excludes` does. */
export function ruleSelects(rule: RetentionRule, tag: string): boolean {
  return matchesPattern(rule.tag_pattern, tag) && !rule.excludes.some((e) => matchesPattern(e, tag));
}
