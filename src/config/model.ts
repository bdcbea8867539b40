/**
 * The aibox configuration model without a validator (pure, no dependencies): the config types, the
 * value rules shared with the schema, and the built-in defaults as constants. Commands that run
 * without a config file use these and never load the schema, zod or yaml (start-up time).
 * `__tests__/defaults.test.ts` checks that the constants equal what the schema produces.
 */
import { tagPattern } from '../oci/reference.js';
import { defaultRetentionConfig, type RetentionConfig } from '../retention/rules.js';

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
  /** `podman build --network` (e.g. `host`, so RUN steps reach a loopback apt mirror); null = podman's default */
  buildNetwork: string | null;
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
  scan: {
    scanner: 'trivy' | 'harbor' | 'none';
    trivyPath: string;
    failOn: string[];
    ignore: ScanIgnore[];
    /** how many image scans may run at once */
    concurrency: number;
  };
  notify: { slackWebhook: string | null };
  /** Retention of the registry's tags (runbook §4; src/retention/rules.ts). */
  retention: RetentionConfig;
  cve: CveSettings;
}

/** Weekdays as the config writes them (`cve.businessHours.days`). */
export const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type WeekdayName = (typeof WEEKDAY_NAMES)[number];

/** CVE triage (issue 9 §1): the mandatory-update threshold and the business hours behind "same business day". */
export interface CveSettings {
  /** CVSS at or above which a fix is a mandatory update (runbook table: 7.0; 9.0 is the stricter reading). */
  mandatoryMinCvss: number;
  businessHours: { days: WeekdayName[]; start: string; end: string; timeZone: string };
}

export interface DeveloperConfig {
  registry: RegistrySettings;
  variant: string;
  trustedKeys: TrustedKeyConfig[];
  engine: EngineSettings;
  /** Fleet reporting (issue 10 §6): where start/check/update send their report, and the bearer token's file. */
  fleet: { url: string | null; tokenFile: string | null };
}

/** Variant names: lowercase letters, digits and '-', starting with a letter (also the repository name). */
export const VARIANT_NAME = /^[a-z][a-z0-9-]*$/;
/** OCI tag characters; the prefix leaves room for `-YYYYMMDD-cve-YYYY-NNNNNNN` within 128 chars. */
export const TAG_PREFIX = tagPattern(80);
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export const SCANNERS = ['trivy', 'harbor', 'none'] as const;

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

function defaultRegistry(): RegistrySettings {
  return { host: null, project: 'aibox', insecure: [], requestTimeoutSeconds: 60 };
}

function defaultEngine(): EngineSettings {
  return {
    podman: 'podman',
    runtime: null,
    cgroupManager: null,
    ulimits: [],
    root: null,
    runroot: null,
    buildConcurrency: 2,
    tlsVerify: null,
    buildNetwork: null,
  };
}

/** The built-in platform config (embedded registry, the runbook's five variants); a fresh object each call. */
export function defaultPlatformConfig(): PlatformConfig {
  return {
    registry: defaultRegistry(),
    embedded: { port: 5000, dataDir: null },
    engine: defaultEngine(),
    os: { name: 'ubuntu', version: '24.04' },
    baseImage: 'docker.io/library/ubuntu:24.04',
    variants: defaultVariants(),
    signing: { key: null, identity: 'platform-ci@aibox.internal', trustedKeys: [], rotationDays: 365 },
    scan: { scanner: 'trivy', trivyPath: 'trivy', failOn: ['CRITICAL'], ignore: [], concurrency: 2 },
    notify: { slackWebhook: null },
    retention: defaultRetentionConfig(),
    cve: defaultCve(),
  };
}

function defaultCve(): CveSettings {
  return {
    mandatoryMinCvss: 7.0,
    businessHours: {
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      start: '09:00',
      end: '17:00',
      timeZone: 'UTC',
    },
  };
}

/** The built-in developer config; a fresh object each call. */
export function defaultDeveloperConfig(): DeveloperConfig {
  return {
    registry: defaultRegistry(),
    variant: 'base',
    trustedKeys: [],
    engine: defaultEngine(),
    fleet: { url: null, tokenFile: null },
  };
}
