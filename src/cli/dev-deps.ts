/**
 * Composition of the developer verbs' ports from a `DevContext`: the registry (lazy: offline never opens it), Podman
 * with the config's engine settings, the developer state file, the trusted keys of the config, the clock. `aibox
 * check`, `update`, `status` and (slice `sandbox`) `start` all build their deps here.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import {
  developerDataDir,
  fileDevState,
  installKeyFile,
  keyFilePath,
  readTextIfExists,
  replaceWithBackup,
} from '../adapters/dev-files.js';
import { mergePolicy, mergeRegistriesD } from '../sandbox/podman-policy.js';
import type { SetupDeps, SetupFiles } from '../sandbox/setup.js';
import { parseDateBound } from '../core/dates.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
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
  return {
    registry: () => ctx.registry(),
    host: config.registry.host,
    project: config.registry.project,
    state: fileDevState(dataDir),
    trustedKeys: await configuredKeys(config, loaded.path, ctx.cwd),
    now: ctx.now(),
    engine: new Podman(config.engine, ctx.exec, ctx.logger),
    config,
    configPath: loaded.path,
    dataDir,
  };
}

/** The `--key` files of `aibox setup`, read (bounded) and named after the file (`cosign.pub` → `cosign`). */
export async function readKeyFiles(
  paths: readonly string[],
  cwd: string,
): Promise<{ name: string; source: string; pem: string }[]> {
  return Promise.all(
    paths.map(async (p) => {
      const path = resolve(cwd, p);
      const pem = await readTextIfExists(path, 64 * 1024).catch((e: unknown) => {
        throw new AiboxError({
          code: 'USAGE',
          message: `cannot read --key ${path}: ${(e as Error).message}`,
          cause: e,
        });
      });
      if (pem === undefined) {
        throw new AiboxError({
          code: 'USAGE',
          message: `--key ${path} does not exist`,
          hint: 'pass the public key file the platform team gave you (cosign.pub)',
        });
      }
      return { name: basename(path).replace(/\.(pub|pem)$/, '') || 'key', source: path, pem };
    }),
  );
}

/** Where setup writes the developer config: --config, AIBOX_DEVELOPER_CONFIG, else the XDG default. */
export function developerConfigPath(ctx: DevContext): string {
  const given = ctx.global.config ?? ctx.env.AIBOX_DEVELOPER_CONFIG;
  if (given) return resolve(ctx.cwd, given);
  const xdg = ctx.env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(ctx.env.HOME ?? homedir(), '.config');
  return join(base, 'aibox', 'config.yaml');
}

/** `$XDG_CONFIG_HOME/containers` (default ~/.config/containers): the user's containers config. */
function containersDir(env: DevContext['env']): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(env.HOME ?? homedir(), '.config'), 'containers');
}

/** The file side of `aibox setup`: key copies, the config (with a backup), the podman policy merge. */
export function setupFiles(ctx: DevContext, dataDir: string): SetupFiles {
  const stamp = ctx.now().toISOString().replace(/[:.]/g, '-');
  return {
    installKey: (name, pem) => installKeyFile(dataDir, name, pem),
    writeConfig: async (doc) => {
      const path = developerConfigPath(ctx);
      const text = `# aibox developer config, written by 'aibox setup' (docs/developer.md)\n${stringify(doc)}`;
      const backup = await replaceWithBackup(path, text, stamp);
      return { path, backup };
    },
    keyPath: (name) => keyFilePath(dataDir, name),
    preparePodmanPolicy: async (scope, keyPaths) => {
      const dir = containersDir(ctx.env);
      const policyPath = join(dir, 'policy.json');
      const userPolicy = await readTextIfExists(policyPath);
      // No user policy yet: start from the system one, so nothing but the aibox scope changes behaviour.
      const systemPath = '/etc/containers/policy.json';
      const basePolicy = userPolicy ?? (await readTextIfExists(systemPath));
      const policy = mergePolicy(
        basePolicy,
        userPolicy !== undefined ? policyPath : systemPath,
        scope,
        keyPaths,
      );
      const regPath = join(dir, 'registries.d', 'aibox.yaml');
      const reg = mergeRegistriesD(await readTextIfExists(regPath), regPath, scope);
      const writePolicy = policy.changed || userPolicy === undefined;
      return {
        commit: async () => [
          {
            path: policyPath,
            changed: writePolicy,
            backup: writePolicy ? await replaceWithBackup(policyPath, policy.text, stamp, 0o644) : null,
          },
          {
            path: regPath,
            changed: reg.changed,
            backup: reg.changed ? await replaceWithBackup(regPath, reg.text, stamp, 0o644) : null,
          },
        ],
      };
    },
  };
}

/** What `aibox setup` needs: its ports, the key files read, the existing config's other settings. */
export async function createDevDepsForSetup(
  ctx: DevContext,
  keyPaths: readonly string[],
  fleetUrl: string | undefined,
  fleetTokenFile: string | undefined,
): Promise<{
  deps: SetupDeps;
  keys: { name: string; source: string; pem: string }[];
  tokenFile: string | null;
  existing: Record<string, unknown>;
}> {
  if (fleetTokenFile !== undefined && fleetUrl === undefined) {
    throw new AiboxError({
      code: 'USAGE',
      message: '--fleet-token-file needs --fleet URL',
      hint: 'pass both, or neither',
    });
  }
  if (fleetUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(fleetUrl)) {
    throw new AiboxError({ code: 'USAGE', message: `--fleet ${fleetUrl} is not an http(s) URL` });
  }
  const tokenFile = fleetTokenFile ? resolve(ctx.cwd, fleetTokenFile) : null;
  if (tokenFile && (await readTextIfExists(tokenFile, 64 * 1024)) === undefined) {
    throw new AiboxError({ code: 'USAGE', message: `--fleet-token-file ${tokenFile} does not exist` });
  }
  const keys = await readKeyFiles(keyPaths, ctx.cwd);
  // An existing config that is malformed is reported (file:line:key), not silently replaced.
  const loaded = await ctx.config().catch((e: unknown) => {
    if (isAiboxError(e, 'CONFIG_NOT_FOUND')) return undefined;
    throw e;
  });
  const {
    registry: _r,
    trustedKeys: _t,
    variant: _v,
    fleet: _f,
    ...rest
  } = loaded?.config ?? { engine: undefined };
  const existing: Record<string, unknown> = { ...rest };
  if (existing.engine === undefined) delete existing.engine;
  if (loaded?.config.registry) existing.registry = { ...loaded.config.registry };
  const dataDir = developerDataDir(ctx.env);
  return {
    deps: {
      registry: () => ctx.registry(),
      state: fileDevState(dataDir),
      files: setupFiles(ctx, dataDir),
      now: ctx.now(),
    },
    keys,
    tokenFile,
    existing,
  };
}
