/**
 * Builds the configured Scanner (the edge where adapters are constructed). `scanner: none` yields
 * undefined: the caller decides (the pipeline marks the image `dev.aibox.scan=skipped`, the
 * `scan` command refuses with a hint).
 */
import type { Exec } from '../adapters/exec.js';
import { AiboxError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';
import { silentLogger, type Logger } from '../core/log.js';
import { HarborScanner } from './harbor.js';
import { HarborTransport } from './harbor-transport.js';
import type { Scanner } from './scanner.js';
import { isPlainHttpHost, TrivyScanner } from './trivy.js';
export { isPlainHttpHost } from './trivy.js';

export type ScannerKind = 'trivy' | 'harbor' | 'none';

/** The `scan` config section keys the factory reads. */
export interface ScanSettings {
  readonly scanner: ScannerKind;
  readonly trivyPath: string;
}

/** The registry the images live on (config `registry`, or the resolved target). */
export interface ScanRegistry {
  readonly host: string;
  readonly project: string;
  /** Hosts reached over plain HTTP (config `registry.insecure`); loopback always is. */
  readonly insecure: readonly string[];
}

/** Settings not (yet) in the config file; defaults in parentheses. */
export interface ScanOptions {
  /** Trivy whole-scan limit (15 min). */
  readonly trivyTimeoutMs?: number;
  /** Harbor base URL (https://<registry host>, http:// for insecure/loopback hosts). */
  readonly harborUrl?: string;
  /** Env var holding the Harbor user, e.g. robot$aibox+ci (HARBOR_USERNAME). */
  readonly harborUsernameEnv?: string;
  /** Env var holding the Harbor password / robot secret (HARBOR_PASSWORD). */
  readonly harborPasswordEnv?: string;
  /** Harbor poll interval (2 s) and overall scan wait (10 min). */
  readonly harborPollIntervalMs?: number;
  readonly harborTimeoutMs?: number;
}

export interface ScannerDeps {
  readonly exec: Exec;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** Injected for tests (Harbor polling). */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The Scanner the config asks for, or undefined for `scanner: none`. */
export function scannerFromConfig(
  scan: ScanSettings,
  registry: ScanRegistry,
  deps: ScannerDeps,
  options: ScanOptions = {},
): Scanner | undefined {
  const logger = deps.logger ?? silentLogger;
  switch (scan.scanner) {
    case 'none':
      return undefined;
    case 'trivy': {
      const secrets = [deps.env['TRIVY_PASSWORD'], deps.env['TRIVY_REGISTRY_TOKEN']].filter(
        (s): s is string => !!s,
      );
      return new TrivyScanner({
        exec: deps.exec,
        trivyPath: scan.trivyPath,
        insecureHosts: registry.insecure,
        ...(options.trivyTimeoutMs !== undefined ? { timeoutMs: options.trivyTimeoutMs } : {}),
        env: deps.env,
        secrets,
        logger,
      });
    }
    case 'harbor': {
      const userVar = options.harborUsernameEnv ?? 'HARBOR_USERNAME';
      const passVar = options.harborPasswordEnv ?? 'HARBOR_PASSWORD';
      const username = deps.env[userVar];
      const password = deps.env[passVar];
      if (!username || !password) {
        throw new AiboxError({
          code: 'REGISTRY_AUTH',
          message: `Harbor credentials missing: ${[!username ? userVar : '', !password ? passVar : ''].filter(Boolean).join(' and ')} not set`,
          hint: `Export ${userVar} and ${passVar} for a Harbor robot account that has scan:create, scan:read, artifact:read and artifact-addition:read`,
        });
      }
      const transport = harborTransportFor(registry, { username, password }, logger, options, deps.sleep);
      return new HarborScanner({
        transport,
        project: registry.project,
        logger,
        ...(options.harborPollIntervalMs !== undefined
          ? { pollIntervalMs: options.harborPollIntervalMs }
          : {}),
        ...(options.harborTimeoutMs !== undefined ? { timeoutMs: options.harborTimeoutMs } : {}),
        ...(deps.now ? { now: deps.now } : {}),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      });
    }
  }
}

/**
 * The Harbor transport for the registry's host (http:// for loopback and `registry.insecure` hosts), shared by the
 * scanner and the retention/GC commands so both use one client with the same auth, retries and redaction.
 */
export function harborTransportFor(
  registry: Pick<ScanRegistry, 'host' | 'insecure'>,
  credentials: { readonly username: string; readonly password: string },
  logger: Logger,
  options: Pick<ScanOptions, 'harborUrl'> = {},
  sleep?: (ms: number) => Promise<void>,
): HarborTransport {
  const scheme = isPlainHttpHost(registry.host, registry.insecure) ? 'http' : 'https';
  return new HarborTransport({
    baseUrl: options.harborUrl ?? `${scheme}://${registry.host}`,
    credentials,
    logger,
    ...(sleep ? { sleep } : {}),
  });
}

/** Harbor credentials from HARBOR_USERNAME / HARBOR_PASSWORD, or REGISTRY_AUTH naming what is missing and what to grant. */
export function harborCredentials(
  env: Readonly<Record<string, string | undefined>>,
  grant: string,
): { username: string; password: string } {
  const username = env['HARBOR_USERNAME'];
  const password = env['HARBOR_PASSWORD'];
  if (!username || !password) {
    throw new AiboxError({
      code: 'REGISTRY_AUTH',
      message: `Harbor credentials missing: ${[!username ? 'HARBOR_USERNAME' : '', !password ? 'HARBOR_PASSWORD' : ''].filter(Boolean).join(' and ')} not set`,
      hint: `Export HARBOR_USERNAME and HARBOR_PASSWORD for a Harbor robot account with ${grant}`,
    });
  }
  registerSecret(password);
  return { username, password };
}
