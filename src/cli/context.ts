/**
 * Builds the per-invocation Context: logger, exec, lazily-loaded config and registry target.
 * This is where adapters are constructed; commands only receive them.
 */
import { createExec } from '../adapters/exec.js';
import { streamLogger } from '../core/log.js';
import type { LoadedConfig } from '../config/load.js';
import type { Context, GlobalOptions, RegistryTarget } from './command.js';
import type { Streams } from './output.js';
import { parseRegistryOption } from './resolve.js';

export interface ContextDeps {
  readonly io: Streams;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now?: () => Date;
  readonly interactive?: boolean;
}

function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** Create the Context for one command run. */
export function createContext(global: GlobalOptions, deps: ContextDeps): Context {
  const logger = streamLogger(global.debug ? 'debug' : 'info', deps.io.err);
  const exec = createExec(logger);
  const env = deps.env;
  // Heavy modules (config schema, HTTP client) load on first use, as their own bundle chunks.
  const config = once<LoadedConfig>(async () => {
    const { loadPlatformConfig } = await import('../config/load.js');
    return loadPlatformConfig({
      ...(global.config ? { path: global.config } : {}),
      env: { ...env },
      cwd: deps.cwd,
    });
  });
  let opened: RegistryTarget | undefined;
  const target = once<RegistryTarget>(async () => {
    const loaded = await config();
    const [{ createRegistryClient }, { embeddedDataDir }] = await Promise.all([
      import('../oci/client.js'),
      import('../config/load.js'),
    ]);
    const reg = loaded.config.registry;
    let host: string;
    let project = reg.project;
    if (global.registry) {
      ({ host, project } = parseRegistryOption(global.registry));
    } else if (reg.host) {
      host = reg.host;
    } else {
      const { registryUp } = await import('../registry/embedded.js');
      const up = await registryUp({
        dataDir: embeddedDataDir(loaded, { ...env }),
        port: loaded.config.embedded.port,
        exec,
        logger,
      });
      if (!up.alreadyRunning) logger.info(`Started the embedded registry at ${up.host}`);
      host = up.host;
    }
    const client = createRegistryClient({
      insecureHosts: reg.insecure,
      logger,
      env: { ...env },
      deadlineMs: reg.requestTimeoutSeconds * 1000,
    });
    opened = { client, host, project };
    return opened;
  });
  return {
    io: deps.io,
    logger,
    exec,
    env,
    cwd: deps.cwd,
    global,
    now: deps.now ?? (() => new Date()),
    interactive: deps.interactive ?? false,
    config,
    target,
    dispose: async () => {
      await opened?.client.close();
    },
  };
}
