/**
 * The aibox configuration model (pure: no fs, env or network). Zod schemas with defaults describe
 * the files; `validatePlatformConfig` / `validateDeveloperConfig` turn any parsed value into typed
 * config or throw CONFIG_INVALID naming the key path, the problem and the allowed values.
 */
import { z } from 'zod';
import { isCalendarDate } from '../core/dates.js';
import { AiboxError } from '../core/errors.js';
import { tagPattern } from '../oci/reference.js';

export interface EngineSettings {
  /** podman binary (name on PATH or absolute path) */
  podman: string;
  /** global `--runtime` (e.g. runc, crun); null = podman's default */
  runtime: string | null;
  /** global `--cgroup-manager` (cgroupfs, systemd); null = podman's default */
  cgroupManager: string | null;
  /** `--ulimit` values for build and run, e.g. `nofile=1024:1024` */
  ulimits: string[];
  /** global `--root` (image store); null = podman's default */
  root: string | null;
  /** global `--runroot`; null = podman's default */
  runroot: string | null;
  /** how many variant builds may run at once */
  buildConcurrency: number;
  /** TLS verification on push/pull; null = auto (off for loopback and `registry.insecure` hosts) */
  tlsVerify: boolean | null;
}

export interface VariantConfig {
  tagPrefix: string;
  /** parent variant name (built first; its image is this variant's base); null = `baseImage` */
  from: string | null;
  containerfile: string;
  displayName: string;
}

export interface TrustedKeyConfig {
  name: string;
  path: string;
  notBefore: string | null;
  notAfter: string | null;
}

export interface ScanIgnore {
  id: string;
  reason: string;
  expires: string;
}

export interface RegistrySettings {
  host: string | null;
  project: string;
  insecure: string[];
  /** overall deadline of one registry request, body included (blobs get more, by size) */
  requestTimeoutSeconds: number;
}

export interface PlatformConfig {
  registry: RegistrySettings;
  embedded: { port: number; dataDir: string | null };
  engine: EngineSettings;
  os: { name: string; version: string };
  baseImage: string;
  variants: Record<string, VariantConfig>;
  signing: { key: string | null; identity: string; trustedKeys: TrustedKeyConfig[]; rotationDays: number };
  scan: { scanner: 'trivy' | 'harbor' | 'none'; trivyPath: string; failOn: string[]; ignore: ScanIgnore[] };
  notify: { slackWebhook: string | null };
}

export interface DeveloperConfig {
  registry: RegistrySettings;
  variant: string;
  trustedKeys: TrustedKeyConfig[];
  engine: EngineSettings;
}

// ---------------------------------------------------------------- value rules

/** Variant names: lowercase letters, digits and '-', starting with a letter (also the repository name). */
export const VARIANT_NAME = /^[a-z][a-z0-9-]*$/;
/** OCI tag characters; the prefix leaves room for `-YYYYMMDD-cve-YYYY-NNNNNNN` within 128 chars. */
export const TAG_PREFIX = tagPattern(80);
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PROJECT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ULIMIT = /^[a-z]+=(?:-1|[0-9]+)(?::(?:-1|[0-9]+))?$/;
const CVE_OR_ID = /^\S+$/;
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export const SCANNERS = ['trivy', 'harbor', 'none'] as const;

const nonEmpty = z.string().min(1, 'must not be empty');
const calendarDate = z.string().refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD');
const dateOrTime = z
  .string()
  .refine(
    (s) => isCalendarDate(s) || (/^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s))),
    'must be a date (YYYY-MM-DD) or an ISO 8601 date-time',
  );
const host = z.string().regex(HOST, 'must be host[:port], e.g. harbor.internal or 127.0.0.1:5000');
const project = z
  .string()
  .regex(PROJECT, 'must be lowercase letters, digits and . _ - (path segments separated by /)');

const registrySchema = z
  .strictObject({
    host: host
      .nullable()
      .default(null)
      .describe('Registry "host[:port]"; null = the embedded local registry'),
    project: project.default('aibox').describe('Registry project (repository path prefix)'),
    insecure: z
      .array(host)
      .default(() => [])
      .describe('Hosts allowed over plain HTTP (loopback is always allowed)'),
    requestTimeoutSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe(
        'Overall deadline of one registry request until its body is read, in seconds; blob transfers get 1 s more per MiB',
      ),
  })
  .prefault({});

export const engineSchema = z
  .strictObject({
    podman: nonEmpty.default('podman').describe('podman binary: a name on PATH or an absolute path'),
    runtime: nonEmpty
      .nullable()
      .default(null)
      .describe('Global --runtime (runc, crun); null = podman default'),
    cgroupManager: nonEmpty
      .nullable()
      .default(null)
      .describe('Global --cgroup-manager (cgroupfs, systemd); null = podman default'),
    ulimits: z
      .array(z.string().regex(ULIMIT, 'must be name=soft[:hard], e.g. nofile=1024:1024'))
      .default(() => [])
      .describe('--ulimit values passed to build and run'),
    root: nonEmpty.nullable().default(null).describe('Global --root (image store); null = podman default'),
    runroot: nonEmpty.nullable().default(null).describe('Global --runroot; null = podman default'),
    buildConcurrency: z.int().min(1).max(64).default(2).describe('Variant builds run at once'),
    tlsVerify: z
      .boolean()
      .nullable()
      .default(null)
      .describe('TLS verification for push/pull; null = auto (off for loopback and insecure hosts)'),
  })
  .prefault({});

const variantInput = z.strictObject({
  tagPrefix: z
    .string()
    .regex(TAG_PREFIX, 'must be 1-80 tag characters [A-Za-z0-9_.-], not starting with . or -')
    .describe('Tag prefix; tags are <prefix>-YYYYMMDD[-cve-<id>]'),
  from: z
    .string()
    .nullable()
    .default(null)
    .describe('Parent variant built first and used as base; null = baseImage'),
  containerfile: nonEmpty.optional().describe('Containerfile path (default images/<variant>/Containerfile)'),
  displayName: nonEmpty.optional().describe('Human name (default aibox-<variant>)'),
});

const trustedKeySchema = z.strictObject({
  name: nonEmpty.describe('Label shown in verification output'),
  path: nonEmpty.describe('PEM public key file (relative to the config file)'),
  notBefore: dateOrTime.nullable().default(null).describe('Key valid from (inclusive)'),
  notAfter: dateOrTime.nullable().default(null).describe('Key valid until (inclusive)'),
});

/** The runbook's five variants, in build order. */
export function defaultVariants(): Record<string, VariantConfig> {
  const v = (name: string, tagPrefix: string, from: string | null): VariantConfig => ({
    tagPrefix,
    from,
    containerfile: `images/${name}/Containerfile`,
    displayName: `aibox-${name}`,
  });
  return {
    base: v('base', '24.04', null),
    java: v('java', '21-24.04', 'base'),
    node: v('node', '20-24.04', 'base'),
    dotnet: v('dotnet', '8-24.04', 'base'),
    full: v('full', '24.04', 'base'),
  };
}

const variantsSchema = z
  .record(z.string(), variantInput)
  .superRefine((vars, ctx) => {
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
        path: [cycle[0]!, 'from'],
        message: `variants form a cycle: ${cycle.join(' -> ')}`,
      });
    }
  })
  .transform((vars) => {
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
  })
  .default(defaultVariants);

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

export const platformSchema = z
  .strictObject({
    registry: registrySchema,
    embedded: z
      .strictObject({
        port: z.int().min(1).max(65535).default(5000).describe('Port of the embedded registry on 127.0.0.1'),
        dataDir: nonEmpty
          .nullable()
          .default(null)
          .describe('Embedded registry data dir; null = $XDG_DATA_HOME/aibox/registry'),
      })
      .prefault({}),
    engine: engineSchema,
    os: z
      .strictObject({
        name: nonEmpty.default('ubuntu'),
        version: nonEmpty.default('24.04'),
      })
      .prefault({}),
    baseImage: nonEmpty
      .default('docker.io/library/ubuntu:24.04')
      .describe('Image the root variant builds FROM'),
    variants: variantsSchema.describe('Image variants in build order; setting this replaces the whole map'),
    signing: z
      .strictObject({
        key: nonEmpty
          .nullable()
          .default(null)
          .describe('Signing key: file path, env://VAR or vault://secret/aibox/cosign-key'),
        identity: nonEmpty
          .default('platform-ci@aibox.internal')
          .describe('Signer identity shown to developers'),
        trustedKeys: z.array(trustedKeySchema).default(() => []),
        rotationDays: z.int().min(1).max(3650).default(365).describe('Warn when the key is older than this'),
      })
      .prefault({}),
    scan: z
      .strictObject({
        scanner: z.enum(SCANNERS).default('trivy'),
        trivyPath: nonEmpty.default('trivy'),
        failOn: z
          .array(z.enum(SEVERITIES))
          .default(() => ['CRITICAL' as const])
          .describe('Severities that fail the build'),
        ignore: z
          .array(
            z.strictObject({
              id: z.string().regex(CVE_OR_ID, 'must be a vulnerability id such as CVE-2026-12345'),
              reason: nonEmpty,
              expires: calendarDate,
            }),
          )
          .default(() => []),
      })
      .prefault({}),
    notify: z
      .strictObject({
        slackWebhook: z
          .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
          .nullable()
          .default(null)
          .describe('Slack incoming webhook URL'),
      })
      .prefault({}),
  })
  .prefault({});

export const developerSchema = z
  .strictObject({
    registry: registrySchema,
    variant: z
      .string()
      .regex(VARIANT_NAME, "must be lowercase letters, digits and '-', starting with a letter")
      .default('base'),
    trustedKeys: z.array(trustedKeySchema).default(() => []),
    engine: engineSchema,
  })
  .prefault({});

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

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.core.$ZodType = s;
  for (let i = 0; i < 10; i++) {
    const def = cur._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur as z.ZodType;
}

/** The keys allowed at a path of the schema (for "unknown key" messages). */
function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let cur = unwrap(schema);
  for (const p of path) {
    const def = cur._zod.def as {
      type: string;
      shape?: Record<string, z.ZodType>;
      valueType?: z.ZodType;
      element?: z.ZodType;
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
      d[i]![j] = v;
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
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number' && Number.isInteger(v)) return 'integer';
  return typeof v;
}

const expectedNames: Record<string, string> = { object: 'mapping', array: 'list', int: 'integer' };

function problemsFrom(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
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
  schema: z.ZodType<T>,
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

function validateWith<T>(schema: z.ZodType<T>, raw: unknown, source: string): T {
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

/** The built-in platform config (embedded registry, the runbook's five variants). */
export function defaultPlatformConfig(): PlatformConfig {
  return validatePlatformConfig(undefined);
}

/** The built-in developer config. */
export function defaultDeveloperConfig(): DeveloperConfig {
  return validateDeveloperConfig(undefined);
}
