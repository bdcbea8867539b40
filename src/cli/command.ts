/**
 * The contract between the CLI runner and command files. A command file registers commander
 * commands and wraps each action in `run(...)`, which builds the Context, prints the Outcome
 * (text, or JSON with --json) and maps errors to exit codes. Command files are mostly flag mapping.
 */
import type { Command } from 'commander';
import type { Exec } from '../adapters/exec.js';
import type { Logger } from '../core/log.js';
import type { Outcome, Streams } from './output.js';
import type { LoadedConfig } from '../config/load.js';
import type { RegistryClient } from '../oci/client.js';

export interface GlobalOptions {
  /** --config FILE */
  readonly config?: string | undefined;
  /** --registry HOST[:PORT]/PROJECT */
  readonly registry?: string | undefined;
  readonly json: boolean;
  readonly debug: boolean;
}

export interface Context {
  readonly io: Streams;
  readonly logger: Logger;
  readonly exec: Exec;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly global: GlobalOptions;
  readonly now: () => Date;
  /** True when stderr is a terminal (live progress allowed). */
  readonly interactive: boolean;
  /** The platform config (--config, AIBOX_CONFIG, ./aibox.yaml, else defaults); loaded once. */
  config(): Promise<LoadedConfig>;
  /**
   * The registry every command talks to: --registry, else the config's registry, else the
   * embedded local registry (started on demand). Built once per process.
   */
  target(): Promise<RegistryTarget>;
  /** Release what the context opened (HTTP connections). Called by the runner. */
  dispose(): Promise<void>;
}

export interface RegistryTarget {
  readonly client: RegistryClient;
  /** host[:port], e.g. 127.0.0.1:5000 or harbor.internal */
  readonly host: string;
  /** registry project (path prefix), e.g. aibox */
  readonly project: string;
}

export type Action<A extends unknown[]> = (ctx: Context, ...args: A) => Promise<Outcome>;

export type Run = <A extends unknown[]>(action: Action<A>) => (...args: A) => Promise<void>;

export type RegisterCommands = (program: Command, run: Run) => void;
