/**
 * The aibox configuration schema (pure: no fs, env or network). Zod schemas with defaults describe
 * the files; `validatePlatformConfig` / `validateDeveloperConfig` turn any parsed value into typed
 * config or throw CONFIG_INVALID naming the key path, the problem and the allowed values.
 *
 * Written against `zod/mini` (functions, not methods) so the bundle keeps only the pieces used:
 * about 30 KB instead of zod's whole 450 KB namespace, which every command paid to compile. The
 * types and the defaults live in `model.ts`, so commands without a config file never load this.
 */
import * as z from 'zod/mini';
import type { $ZodIssue, $ZodType } from 'zod/v4/core';
import { isCalendarDate } from '../core/dates.js';
import { AiboxError } from '../core/errors.js';
import {
  defaultVariants,
  SCANNERS,
  SEVERITIES,
  TAG_PREFIX,
  VARIANT_NAME,
  WEEKDAY_NAMES,
  type DeveloperConfig,
  type PlatformConfig,
  type VariantConfig,
} from './model.js';
import {
  defaultRetentionRules,
  MAX_RULE_NUMBER,
  MAX_RULES,
  patternProblem,
  RULE_ACTIONS,
  RULE_SCOPES,
} from '../retention/rules.js';

export * from './model.js';

// ---------------------------------------------------------------- value rules

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PROJECT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ULIMIT = /^[a-z]+=(?:-1|[0-9]+)(?::(?:-1|[0-9]+))?$/;
const CVE_OR_ID = /^\S+$/;

/** A schema type the validator accepts (mini and classic share the core). */
export type Schema<T = unknown> = z.ZodMiniType<T>;

// Small helpers so the schema reads like the classic API it replaced (`.default().describe()`).
const described = <S extends z.ZodMiniType>(s: S, description: string): S => s.check(z.describe(description));
const orNull = <S extends z.ZodMiniType>(s: S) => z._default(z.nullable(s), null);
const list = <S extends z.ZodMiniType>(s: S) => z._default(z.array(s), () => []);

const nonEmpty = z.string().check(z.minLength(1, 'must not be empty'));
const calendarDate = z.string().check(z.refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD'));
const dateOrTime = z
  .string()
  .check(
    z.refine(
      (s) => isCalendarDate(s) || (/^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s))),
      'must be a date (YYYY-MM-DD) or an ISO 8601 date-time',
    ),
  );
const host = z.string().check(z.regex(HOST, 'must be host[:port], e.g. harbor.internal or 127.0.0.1:5000'));
const project = z
  .string()
  .check(z.regex(PROJECT, 'must be lowercase letters, digits and . _ - (path segments separated by /)'));
const int = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

const registrySchema = z.prefault(
  z.strictObject({
    host: described(orNull(host), 'Registry "host[:port]"; null = the embedded local registry'),
    project: described(z._default(project, 'aibox'), 'Registry project (repository path prefix)'),
    insecure: described(list(host), 'Hosts allowed over plain HTTP (loopback is always allowed)'),
    requestTimeoutSeconds: described(
      z._default(int(1, 3600), 60),
      'Overall deadline of one registry request until its body is read, in seconds; blob transfers get 1 s more per MiB',
    ),
  }),
  {},
);

export const engineSchema = z.prefault(
  z.strictObject({
    podman: described(z._default(nonEmpty, 'podman'), 'podman binary: a name on PATH or an absolute path'),
    runtime: described(orNull(nonEmpty), 'Global --runtime (runc, crun); null = podman default'),
    cgroupManager: described(
      orNull(nonEmpty),
      'Global --cgroup-manager (cgroupfs, systemd); null = podman default',
    ),
    ulimits: described(
      list(z.string().check(z.regex(ULIMIT, 'must be name=soft[:hard], e.g. nofile=1024:1024'))),
      '--ulimit values passed to build and run',
    ),
    root: described(orNull(nonEmpty), 'Global --root (image store); null = podman default'),
    runroot: described(orNull(nonEmpty), 'Global --runroot; null = podman default'),
    buildConcurrency: described(z._default(int(1, 64), 2), 'Variant builds run at once'),
    tlsVerify: described(
      orNull(z.boolean()),
      'TLS verification for push/pull; null = auto (off for loopback and insecure hosts)',
    ),
    buildNetwork: described(
      orNull(
        z
          .string()
          .check(
            z.regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'must be a podman network mode or name, e.g. host'),
          ),
      ),
      'podman build --network for RUN steps (host: reach a loopback apt mirror); null = podman default',
    ),
  }),
  {},
);

const variantInput = z.strictObject({
  tagPrefix: described(
    z
      .string()
      .check(z.regex(TAG_PREFIX, 'must be 1-80 tag characters [A-Za-z0-9_.-], not starting with . or -')),
    'Tag prefix; tags are <prefix>-YYYYMMDD[-cve-<id>]',
  ),
  from: described(orNull(z.string()), 'Parent variant built first and used as base; null = baseImage'),
  containerfile: described(
    z.optional(nonEmpty),
    'Containerfile path (default images/<variant>/Containerfile)',
  ),
  displayName: described(z.optional(nonEmpty), 'Human name (default aibox-<variant>)'),
});

const trustedKeySchema = z.strictObject({
  name: described(nonEmpty, 'Label shown in verification output'),
  path: described(nonEmpty, 'PEM public key file (relative to the config file)'),
  notBefore: described(orNull(dateOrTime), 'Key valid from (inclusive)'),
  notAfter: described(orNull(dateOrTime), 'Key valid until (inclusive)'),
});

type VariantInput = z.output<typeof variantInput>;

const variantsSchema = z._default(
  z.pipe(
    z.record(z.string(), variantInput).check(
      z.superRefine((vars, ctx) => {
        const names = Object.keys(vars);
        if (names.length === 0)
          ctx.addIssue({ code: 'custom', message: 'at least one variant is required', path: [] });
        for (const name of names) {
          if (!VARIANT_NAME.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `invalid variant name "${name}" (allowed: lowercase letters, digits and '-', starting with a letter)`,
            });
          }
          const from = vars[name]?.from;
          if (from != null && !Object.hasOwn(vars, from)) {
            ctx.addIssue({
              code: 'custom',
              path: [name, 'from'],
              message: `unknown variant "${from}" (allowed: ${[...names.filter((n) => n !== name), 'null'].join(', ')})`,
            });
          }
        }
        const cycle = findCycle(vars);
        if (cycle) {
          ctx.addIssue({
            code: 'custom',
            path: [cycle[0] ?? '', 'from'],
            message: `variants form a cycle: ${cycle.join(' -> ')}`,
          });
        }
      }),
    ),
    z.transform((vars: Record<string, VariantInput>) => {
      const out: Record<string, VariantConfig> = {};
      for (const [name, v] of Object.entries(vars)) {
        out[name] = {
          tagPrefix: v.tagPrefix,
          from: v.from,
          containerfile: v.containerfile ?? `images/${name}/Containerfile`,
          displayName: v.displayName ?? `aibox-${name}`,
        };
      }
      return out;
    }),
  ),
  defaultVariants,
);

function findCycle(vars: Record<string, { from: string | null }>): string[] | undefined {
  for (const start of Object.keys(vars)) {
    const seen: string[] = [];
    let cur: string | null | undefined = start;
    while (cur != null && Object.hasOwn(vars, cur)) {
      if (seen.includes(cur)) return [...seen.slice(seen.indexOf(cur)), cur];
      seen.push(cur);
      cur = vars[cur]?.from;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- retention (runbook §4)

const tagPatternSchema = z.string().check(
  z.superRefine((p, ctx) => {
    const why = patternProblem(p);
    if (why !== undefined) ctx.addIssue({ code: 'custom', input: p, message: `invalid tag pattern: ${why}` });
  }),
);

const retentionRuleSchema = z.strictObject({
  tag_pattern: described(tagPatternSchema, 'Doublestar glob on the tag (*, **, ?, [0-9], {a,b})'),
  action: described(z._default(z.enum(RULE_ACTIONS), 'retain'), 'Only retain (Harbor semantics)'),
  retain_days: described(
    orNull(int(1, MAX_RULE_NUMBER)),
    'Keep matching tags younger than this many days (age from the tag date, else the image created time)',
  ),
  retain_count: described(orNull(int(1, MAX_RULE_NUMBER)), 'Keep the N newest matching tags per repository'),
  scope: described(z._default(z.enum(RULE_SCOPES), 'per_repository'), 'Counts are per repository'),
  excludes: described(list(tagPatternSchema), 'Tags matching any of these are not selected by this rule'),
});

const retentionRulesSchema = z._default(
  z.array(retentionRuleSchema).check(
    z.maxLength(MAX_RULES, `at most ${MAX_RULES} rules (Harbor's limit)`),
    z.superRefine((rules, ctx) => {
      rules.forEach((r, i) => {
        if (r.retain_days !== null && r.retain_count !== null) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'retain_count'],
            message: 'retain_days and retain_count exclude each other (write two rules)',
          });
        }
      });
    }),
  ),
  defaultRetentionRules,
);

const retentionSchema = z.prefault(
  z.strictObject({
    rules: described(
      retentionRulesSchema,
      "Retention rules (a tag survives if any rule keeps it); default: the runbook's (latest; *-cve-* 90 days; last 8 weekly per variant)",
    ),
    excludes: described(list(tagPatternSchema), 'Tags never deleted, whatever the rules say'),
    keepChannelSequences: described(
      z._default(int(0, 1000), 4),
      'Channel history sequences whose digests are kept as rollback targets',
    ),
    maxDeletePercent: described(
      z._default(int(1, 100), 50),
      "apply refuses to delete more than this share of a repository's tags (override: --max-delete N)",
    ),
  }),
  {},
);

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
const timeZone = z.string().check(
  z.refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone, e.g. UTC or Europe/Berlin'),
);

const cveSchema = z.prefault(
  z.strictObject({
    mandatoryMinCvss: described(
      z._default(z.number().check(z.minimum(0.1), z.maximum(10)), 7.0),
      'CVSS at or above which a CVE fix is a mandatory update (runbook §2: 7.0; 9.0 is the stricter reading)',
    ),
    businessHours: z.prefault(
      z
        .strictObject({
          days: described(
            z._default(
              z.array(z.enum(WEEKDAY_NAMES)).check(z.minLength(1, 'at least one business day is required')),
              () => ['mon' as const, 'tue' as const, 'wed' as const, 'thu' as const, 'fri' as const],
            ),
            'Business days (mon..sun) for the High deadline "same business day"',
          ),
          start: described(
            z._default(z.string().check(z.regex(HHMM, 'must be HH:MM (24 h), e.g. 09:00')), '09:00'),
            'Start of business hours, local HH:MM',
          ),
          end: described(
            z._default(z.string().check(z.regex(HHMM, 'must be HH:MM (24 h), e.g. 17:00')), '17:00'),
            'End of business hours, local HH:MM (the High deadline)',
          ),
          timeZone: described(z._default(timeZone, 'UTC'), 'IANA time zone of the business hours'),
        })
        .check(
          z.superRefine((bh, ctx) => {
            if (HHMM.test(bh.start) && HHMM.test(bh.end) && minutes(bh.start) >= minutes(bh.end))
              ctx.addIssue({
                code: 'custom',
                path: ['end'],
                message: `must be later than start (${bh.start})`,
              });
          }),
        ),
      {},
    ),
  }),
  {},
);

export const platformSchema = z.prefault(
  z.strictObject({
    registry: registrySchema,
    embedded: z.prefault(
      z.strictObject({
        port: described(z._default(int(1, 65535), 5000), 'Port of the embedded registry on 127.0.0.1'),
        dataDir: described(
          orNull(nonEmpty),
          'Embedded registry data dir; null = $XDG_DATA_HOME/aibox/registry',
        ),
      }),
      {},
    ),
    engine: engineSchema,
    os: z.prefault(
      z.strictObject({
        name: z._default(nonEmpty, 'ubuntu'),
        version: z._default(nonEmpty, '24.04'),
      }),
      {},
    ),
    baseImage: described(
      z._default(nonEmpty, 'docker.io/library/ubuntu:24.04'),
      'Image the root variant builds FROM',
    ),
    variants: described(variantsSchema, 'Image variants in build order; setting this replaces the whole map'),
    signing: z.prefault(
      z.strictObject({
        key: described(
          orNull(nonEmpty),
          'Signing key: file path, env://VAR or vault://secret/aibox/cosign-key',
        ),
        identity: described(
          z._default(nonEmpty, 'platform-ci@aibox.internal'),
          'Signer identity shown to developers',
        ),
        trustedKeys: list(trustedKeySchema),
        rotationDays: described(z._default(int(1, 3650), 365), 'Warn when the key is older than this'),
      }),
      {},
    ),
    scan: z.prefault(
      z.strictObject({
        scanner: z._default(z.enum(SCANNERS), 'trivy'),
        trivyPath: z._default(nonEmpty, 'trivy'),
        concurrency: described(
          z._default(int(1, 16), 2),
          'Image scans run at once (the emergency scans and every re-scan)',
        ),
        failOn: described(
          z._default(z.array(z.enum(SEVERITIES)), () => ['CRITICAL' as const]),
          'Severities that fail the build',
        ),
        ignore: list(
          z.strictObject({
            id: z.string().check(z.regex(CVE_OR_ID, 'must be a vulnerability id such as CVE-2026-12345')),
            reason: nonEmpty,
            expires: calendarDate,
          }),
        ),
      }),
      {},
    ),
    notify: z.prefault(
      z.strictObject({
        slackWebhook: described(
          orNull(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
          'Slack incoming webhook URL',
        ),
      }),
      {},
    ),
    retention: retentionSchema,
    cve: cveSchema,
  }),
  {},
);

export const developerSchema = z.prefault(
  z.strictObject({
    registry: registrySchema,
    variant: z._default(
      z
        .string()
        .check(z.regex(VARIANT_NAME, "must be lowercase letters, digits and '-', starting with a letter")),
      'base',
    ),
    trustedKeys: list(trustedKeySchema),
    engine: engineSchema,
    fleet: z.prefault(
      z.strictObject({
        url: described(
          orNull(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
          'Fleet report endpoint (aibox start/check/update send one small JSON report); null = no reports',
        ),
        tokenFile: described(orNull(nonEmpty), 'File holding the bearer token for the fleet endpoint'),
      }),
      {},
    ),
  }),
  {},
);

// ---------------------------------------------------------------- validation

/** One validation problem, located by key path (the YAML layer adds file:line:column). */
export interface ConfigProblem {
  readonly path: readonly (string | number)[];
  /** true when the problem is about the key itself (unknown key), not its value */
  readonly atKey: boolean;
  readonly message: string;
}

/** Render a key path the way users write it: `variants.java.from`, `scan.ignore[0].id`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}

function unwrap(s: $ZodType): $ZodType {
  let cur: $ZodType = s;
  for (let i = 0; i < 10; i++) {
    const def = cur._zod.def as { type: string; innerType?: $ZodType; in?: $ZodType };
    if (def.innerType) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

/** The keys allowed at a path of the schema (for "unknown key" messages). */
function allowedKeysAt(schema: $ZodType, path: readonly PropertyKey[]): string[] {
  let cur = unwrap(schema);
  for (const p of path) {
    const def = cur._zod.def as {
      type: string;
      shape?: Record<string, $ZodType>;
      valueType?: $ZodType;
      element?: $ZodType;
    };
    if (def.type === 'object' && def.shape && typeof p === 'string' && def.shape[p])
      cur = unwrap(def.shape[p]);
    else if (def.type === 'record' && def.valueType) cur = unwrap(def.valueType);
    else if (def.type === 'array' && def.element) cur = unwrap(def.element);
    else return [];
  }
  const def = cur._zod.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

// Edit distance counting an adjacent transposition as one edit ("form" → "from").
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The closest allowed word, if it is close enough to be a likely typo. */
export function didYouMean(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(word.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined)
    return String(v);
  return typeof v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number' && Number.isInteger(v)) return 'integer';
  return typeof v;
}

const expectedNames: Record<string, string> = { object: 'mapping', array: 'list', int: 'integer' };

function problemsFrom(schema: $ZodType, issues: readonly $ZodIssue[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = allowedKeysAt(schema, path);
        for (const key of issue.keys) {
          const guess = didYouMean(key, allowed);
          out.push({
            path: [...path, key],
            atKey: true,
            message: `unknown key (allowed: ${allowed.join(', ')}${guess ? `; did you mean "${guess}"?` : ''})`,
          });
        }
        break;
      }
      case 'invalid_value':
        out.push({
          path,
          atKey: false,
          message: `invalid value ${show(issue.input)} (allowed: ${issue.values.map(String).join(', ')})`,
        });
        break;
      case 'invalid_type': {
        const expected = expectedNames[issue.expected] ?? issue.expected;
        const got = issue.input;
        const shown = got === null || typeof got === 'object' ? '' : ` ${show(got)}`;
        out.push({
          path,
          atKey: false,
          message:
            got === undefined
              ? `required key is missing (expected ${expected})`
              : `expected ${expected}, got ${typeName(got)}${shown}`,
        });
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const limit = String(small ? issue.minimum : issue.maximum);
        const op = small ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
        const rule =
          issue.origin === 'string'
            ? `length must be ${op} ${limit}`
            : issue.origin === 'array'
              ? `number of items must be ${op} ${limit}`
              : `must be ${op} ${limit}`;
        out.push({ path, atKey: false, message: `invalid value ${show(issue.input)}: ${rule}` });
        break;
      }
      case 'invalid_format':
        out.push({ path, atKey: false, message: `invalid value ${show(issue.input)}: ${issue.message}` });
        break;
      default:
        out.push({
          path,
          atKey: false,
          message:
            issue.input !== undefined && typeof issue.input !== 'object'
              ? `invalid value ${show(issue.input)}: ${issue.message}`
              : issue.message,
        });
    }
  }
  return out;
}

/** Validate any value against a schema; returns problems instead of throwing (the YAML layer locates them). */
export function check<T>(
  schema: Schema<T>,
  raw: unknown,
): { ok: true; value: T } | { ok: false; problems: ConfigProblem[] } {
  const r = schema.safeParse(raw, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problems: problemsFrom(schema, r.error.issues) };
}

/** Build the CONFIG_INVALID error from rendered problem lines (`<where>: <key path>: <problem>`). */
export function configError(source: string, lines: readonly string[]): AiboxError {
  const shown = lines.slice(0, 10);
  const more = lines.length > shown.length ? `\n  (${lines.length - shown.length} more)` : '';
  return new AiboxError({
    code: 'CONFIG_INVALID',
    message:
      lines.length === 1
        ? (lines[0] ?? source)
        : `${source}: ${lines.length} problems:\n  ${shown.join('\n  ')}${more}`,
    hint: 'Fix the listed keys; see docs/configuration.md (editors can validate with schema/aibox.schema.json)',
    details: { source, problems: lines },
  });
}

function validateWith<T>(schema: Schema<T>, raw: unknown, source: string): T {
  const r = check(schema, raw);
  if (r.ok) return r.value;
  throw configError(
    source,
    r.problems.map((p) => `${source}: ${formatPath(p.path)}: ${p.message}`),
  );
}

/** Validate a parsed platform config (partial values merge over defaults) or throw CONFIG_INVALID. */
export function validatePlatformConfig(raw: unknown): PlatformConfig {
  return validateWith(platformSchema, raw, 'platform config');
}

/** Validate a parsed developer config or throw CONFIG_INVALID. */
export function validateDeveloperConfig(raw: unknown): DeveloperConfig {
  return validateWith(developerSchema, raw, 'developer config');
}
