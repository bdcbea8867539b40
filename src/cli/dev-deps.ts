/**
 * Composition of the developer verbs' ports from a `DevContext`: the registry (lazy: offline never opens it), Podman
 * with the config's engine settings, the developer state file, the trusted keys of the config, the clock. `aibox
 * check`, `update`, `status` and (slice `sandbox`) `start` all build their deps here.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { atomicWrite, developerDataDir, fileDevState } from '../adapters/dev-files.js';
import { storageConfigFingerprint, storageFirstInspect } from '../adapters/podman-storage.js';
import { parseDateBound } from '../core/dates.js';
import { AiboxError } from '../core/errors.js';
import { Podman } from '../engine/podman.js';
import type { Engine } from '../engine/engine.js';
import { loadPublicKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import type { PreflightDeps } from '../sandbox/preflight.js';
import type { DeveloperConfig } from '../config/schema.js';
import type { DevContext } from './command.js';

export interface DevDepsBuilt extends PreflightDeps {
  readonly engine: Engine;
  readonly config: DeveloperConfig;
  readonly configPath: string | undefined;
  readonly dataDir: string;
}

const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The developer config's trusted keys (paths relative to the config file). */
async function configuredKeys(
  config: DeveloperConfig,
  configPath: string | undefined,
  cwd: string,
): Promise<TrustedKey[]> {
  const base = configPath ? dirname(configPath) : cwd;
  return Promise.all(
    config.trustedKeys.map(async (k) => {
      const path = resolve(base, k.path);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e: unknown) {
        throw new AiboxError({
          code: 'CONFIG_INVALID',
          message: `trusted key "${k.name}" (${path}) cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
          hint: 're-run `aibox setup --registry HOST/PROJECT --key cosign.pub` to install the platform key again',
          cause: e,
        });
      }
      const notBefore = k.notBefore
        ? parseDateBound(k.notBefore, 'start', `trustedKeys "${k.name}": notBefore`)
        : null;
      return {
        name: k.name,
        publicKey: loadPublicKey(text, path),
        notBefore,
        notAfter: k.notAfter ? parseDateBound(k.notAfter, 'end', `trustedKeys "${k.name}": notAfter`) : null,
        createdAt: notBefore,
      };
    }),
  );
}

/** Build the developer deps; throws CONFIG_NOT_FOUND when no registry is configured (setup not run). */
export async function createDevDeps(ctx: DevContext): Promise<DevDepsBuilt> {
  const loaded = await ctx.config();
  const { config } = loaded;
  if (!config.registry.host) {
    throw new AiboxError({
      code: 'CONFIG_NOT_FOUND',
      message: `no registry is configured for aibox (${loaded.path ?? 'no developer config file'})`,
      hint: 'run `aibox setup --registry HOST/PROJECT --key cosign.pub` first (the platform team gives you both)',
    });
  }
  const dataDir = developerDataDir(ctx.env);
  const engine = new Podman(config.engine, ctx.exec, ctx.logger);
  const localImage = storageFirstInspect({
    inspect: (ref) => engine.inspectImage(ref),
    location: () => engine.storageLocation(),
    cachePath: join(dataDir, 'podman-storage.json'),
    key: async () =>
      sha256Hex(
        JSON.stringify([
          config.engine.podman,
          engine.globalArgs(),
          process.geteuid?.() ?? 0,
          await storageConfigFingerprint(ctx.env),
        ]),
      ),
    write: (path, text) => atomicWrite(path, text),
    debug: (line) => ctx.logger.debug(line),
  });
  return {
    registry: () => ctx.registry(),
    host: config.registry.host,
    project: config.registry.project,
    state: fileDevState(dataDir),
    trustedKeys: await configuredKeys(config, loaded.path, ctx.cwd),
    now: ctx.now(),
    engine,
    localImage,
    config,
    configPath: loaded.path,
    dataDir,
  };
}
