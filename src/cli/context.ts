/**
 * Builds the per-invocation context of each program. This is where adapters are constructed;
 * commands only receive them. `createContext` (aiboxctl): platform config, registry client, and the
 * embedded registry started only when a short image name resolves to it. `createDevContext`
 * (aibox): the developer config and a registry client; no platform config, no embedded registry.
 * Heavy modules (config schema, HTTP client, embedded registry) load on first use, as their own
 * bundle chunks.
 */
import { createExec } from '../adapters/exec.js';
import { streamLogger } from '../core/log.js';
import type { LoadedConfig } from '../config/load.js';
import type { RegistryClient } from '../oci/client.js';
import type {
  BaseContext,
  Context,
  DevContext,
  GlobalOptions,
  LoadedDeveloperConfig,
  RegistryTarget,
} from './command.js';
import type { Streams } from './output.js';
import { checkImage, namesRegistry, parseRegistryOption, resolveImage } from './resolve.js';

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

/** The registry settings the client is made from (platform and developer config both have them). */
interface ClientSettings {
  readonly insecure: readonly string[];
  readonly requestTimeoutSeconds: number;
}

/** What both programs share: streams, logger, exec, clock; `open` tracks the client to close. */
function baseContext(
  global: GlobalOptions,
  deps: ContextDeps,
): {
  base: Omit<BaseContext, 'dispose'>;
  client: (settings: () => Promise<ClientSettings>) => () => Promise<RegistryClient>;
  dispose: () => Promise<void>;
} {
  const logger = streamLogger(global.debug ? 'debug' : 'info', deps.io.err);
  const base = {
    io: deps.io,
    logger,
    exec: createExec(logger),
    env: deps.env,
    cwd: deps.cwd,
    global,
    now: deps.now ?? (() => new Date()),
    interactive: deps.interactive ?? false,
  };
  let opened: RegistryClient | undefined;
  const client = (settings: () => Promise<ClientSettings>) =>
    once(async () => {
      const [{ createRegistryClient }, reg] = await Promise.all([import('../oci/client.js'), settings()]);
      opened = createRegistryClient({
        insecureHosts: reg.insecure,
        logger,
        env: { ...deps.env },
        deadlineMs: reg.requestTimeoutSeconds * 1000,
      });
      return opened;
    });
  return {
    base,
    client,
    dispose: async () => {
      await opened?.close();
    },
  };
}

/** Create the `aiboxctl` Context for one command run. */
export function createContext(global: GlobalOptions, deps: ContextDeps): Context {
  const { base, client, dispose } = baseContext(global, deps);
  const env = deps.env;
  const config = once<LoadedConfig>(async () => {
    const { loadPlatformConfig } = await import('../config/load.js');
    return loadPlatformConfig({
      ...(global.config ? { path: global.config } : {}),
      env: { ...env },
      cwd: deps.cwd,
    });
  });
  const registry = client(async () => (await config()).config.registry);
  // Where short names resolve: --registry, else the config; host undefined = the embedded registry.
  const coordinates = once(async (): Promise<{ host: string | undefined; project: string }> => {
    if (global.registry) return parseRegistryOption(global.registry);
    const reg = (await config()).config.registry;
    return { host: reg.host ?? undefined, project: reg.project };
  });
  const embeddedHost = once(async () => {
    const loaded = await config();
    const [{ registryUp }, { embeddedDataDir }] = await Promise.all([
      import('../registry/embedded.js'),
      import('../config/load.js'),
    ]);
    const up = await registryUp({
      dataDir: embeddedDataDir(loaded, { ...env }),
      port: loaded.config.embedded.port,
      exec: base.exec,
      logger: base.logger,
    });
    if (!up.alreadyRunning) base.logger.info(`Started the embedded registry at ${up.host}`);
    return up.host;
  });
  const target = once<RegistryTarget>(async () => {
    const c = await coordinates();
    const host = c.host ?? (await embeddedHost());
    return { client: await registry(), host, project: c.project };
  });
  return {
    ...base,
    config,
    registry,
    target,
    resolveImage: async (input, opts = {}) => {
      const c = await coordinates();
      const checked = checkImage(input, c.project, opts); // usage errors before any side effect
      if (namesRegistry(input)) return checked;
      if (c.host !== undefined) return resolveImage(input, { host: c.host, project: c.project }, opts);
      return resolveImage(input, { host: await embeddedHost(), project: c.project }, opts);
    },
    dispose,
  };
}

/** Create the `aibox` (developer) context for one command run. */
export function createDevContext(global: GlobalOptions, deps: ContextDeps): DevContext {
  const { base, client, dispose } = baseContext(global, deps);
  const config = once<LoadedDeveloperConfig>(async () => {
    const { loadDeveloperConfig } = await import('../config/load.js');
    return loadDeveloperConfig({ path: global.config, env: { ...deps.env } });
  });
  return {
    ...base,
    config,
    registry: client(async () => (await config()).config.registry),
    dispose,
  };
}
