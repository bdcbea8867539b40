/**
 * The contract between the CLI runner and command files. A command file registers commander
 * commands and wraps each action in `run(...)`, which builds the Context, prints the Outcome
 * (text, or JSON with --json) and maps errors to exit codes. Command files are mostly flag mapping.
 * Each program has its own context: `aiboxctl` commands get `Context` (platform config, registry
 * target, embedded registry on demand); `aibox` commands get `DevContext` (developer config only).
 */
import type { Command } from 'commander';
import type { Exec } from '../adapters/exec.js';
import type { Logger } from '../core/log.js';
import type { Outcome, Streams } from './output.js';
import type { LoadedConfig } from '../config/load.js';
import type { DeveloperConfig } from '../config/schema.js';
import type { RegistryClient } from '../oci/client.js';
import type { Reference } from '../oci/reference.js';
import type { ResolveOptions } from './resolve.js';

export interface GlobalOptions {
  /** --config FILE */
  readonly config?: string | undefined;
  /** --registry HOST[:PORT]/PROJECT (aiboxctl only) */
  readonly registry?: string | undefined;
  readonly json: boolean;
  readonly debug: boolean;
}

/** What every command of either program gets: streams, logger, exec, clock, environment. */
export interface BaseContext {
  readonly io: Streams;
  readonly logger: Logger;
  readonly exec: Exec;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly global: GlobalOptions;
  readonly now: () => Date;
  /** True when stderr is a terminal (live progress allowed). */
  readonly interactive: boolean;
  /** Release what the context opened (HTTP connections). Called by the runner. */
  dispose(): Promise<void>;
}

/** The `aiboxctl` (platform/CI) context. */
export interface Context extends BaseContext {
  /** The platform config (--config, AIBOX_CONFIG, ./aibox.yaml, else defaults); loaded once. */
  config(): Promise<LoadedConfig>;
  /** The registry client for any registry; never starts the embedded registry. */
  registry(): Promise<RegistryClient>;
  /**
   * Resolve an image the user typed. A name with a registry host is taken as is and starts
   * nothing; a short name (`base:latest`) resolves against --registry, else the config's registry,
   * else the embedded registry, which is started only then. The input is validated first, so a
   * bad reference fails (INVALID_REFERENCE) before any side effect.
   */
  resolveImage(input: string, opts?: ResolveOptions): Promise<Reference>;
  /**
   * The registry and project this invocation publishes to: --registry, else the config's
   * registry, else the embedded local registry (started on demand). Built once per process.
   */
  target(): Promise<RegistryTarget>;
}

/** The developer config as loaded: the file read (undefined = built-in defaults). */
export interface LoadedDeveloperConfig {
  readonly config: DeveloperConfig;
  readonly path: string | undefined;
}

/**
 * The `aibox` (developer) context: the developer config (`--config`, AIBOX_DEVELOPER_CONFIG, else
 * `$XDG_CONFIG_HOME/aibox/config.yaml`), never the platform config, never an embedded registry.
 */
export interface DevContext extends BaseContext {
  config(): Promise<LoadedDeveloperConfig>;
  /** The registry client, with the developer config's insecure hosts; created once. */
  registry(): Promise<RegistryClient>;
}

export interface RegistryTarget {
  readonly client: RegistryClient;
  /** host[:port], e.g. 127.0.0.1:5000 or harbor.internal */
  readonly host: string;
  /** registry project (path prefix), e.g. aibox */
  readonly project: string;
}

export type Action<A extends unknown[], C extends BaseContext = Context> = (
  ctx: C,
  ...args: A
) => Promise<Outcome>;

export type Run<C extends BaseContext = Context> = <A extends unknown[]>(
  action: Action<A, C>,
) => (...args: A) => Promise<void>;

export type RegisterCommands<C extends BaseContext = Context> = (program: Command, run: Run<C>) => void;

/** The context type of each program. */
export interface ProgramContexts {
  readonly aiboxctl: Context;
  readonly aibox: DevContext;
}
