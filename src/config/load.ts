/**
 * Find and read config files (edge: fs + env). Platform: --config, then AIBOX_CONFIG, then
 * ./aibox.yaml, else built-in defaults. Developer: $XDG_CONFIG_HOME/aibox/config.yaml.
 *
 * Parsing is pure and deterministic (text in, config out), so a bundled build remembers what it
 * parsed: a config that validated is stored, structured-cloned, in the per-user private cache
 * (`$XDG_CACHE_HOME/aibox/config-cache`, src/adapters/private-cache.ts) under the SHA-256 of the
 * build id and the exact text, and the next load of the same text by the same build skips yaml and
 * zod altogether (issue 8 §4: config load ≤ 10 ms). A text that fails validation is never stored,
 * so every error is reported by the parser, word for word as without the cache. Source runs (tests,
 * tsx) have no build id and always parse; `AIBOX_STARTUP_CACHE=off` disables it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';
import {
  defaultDeveloperConfig,
  defaultPlatformConfig,
  type DeveloperConfig,
  type PlatformConfig,
} from './model.js';

// The parser (yaml + the zod schema) is its own bundle chunk, loaded only when there is a file to
// parse and the parsed-config cache does not have it: without one, the defaults are a constant and
// a command starts without compiling either.
const parser = () => import('./parse.js');

declare const __AIBOX_BUILD_ID__: string | undefined;
/** Identifies this build's parser and schema (scripts/build.mjs); undefined in source runs. */
const BUILD_ID: string | undefined = typeof __AIBOX_BUILD_ID__ === 'string' ? __AIBOX_BUILD_ID__ : undefined;

type Kind = 'platform' | 'developer';
type ConfigOf<K extends Kind> = K extends 'platform' ? PlatformConfig : DeveloperConfig;

/**
 * Every credential a config of this kind can hold, in one place: each is registered for redaction
 * (core/redact) after a load, and a config holding any is never written to the parsed-config cache
 * (a secret is not copied to disk beside the file the operator protects). Add new secret fields here.
 */
function credentials(kind: Kind, config: PlatformConfig | DeveloperConfig): string[] {
  if (kind !== 'platform') return [];
  const c = config as PlatformConfig;
  return [c.notify.slackWebhook].filter((v): v is string => typeof v === 'string' && v !== '');
}

/**
 * Parse `text` as a `kind` config, through the parsed-config cache when this is a bundled build.
 * `cacheId` overrides the build id (tests).
 */
async function parseCached<K extends Kind>(
  kind: K,
  text: string,
  file: string,
  env: Env,
  cacheId: string | undefined = BUILD_ID,
): Promise<ConfigOf<K>> {
  const cached = cacheId ? await openConfigCache(env, cacheId, kind, text) : undefined;
  const hit = cached?.get();
  if (hit) return hit as ConfigOf<K>;
  const p = await parser();
  const config = (kind === 'platform' ? p.parsePlatformConfigText : p.parseDeveloperConfigText)(text, file);
  if (credentials(kind, config).length === 0) cached?.put(config);
  return config as ConfigOf<K>;
}

async function openConfigCache(env: Env, cacheId: string, kind: Kind, text: string) {
  const [{ cacheKey, PrivateCache }, v8] = await Promise.all([
    import('../adapters/private-cache.js'),
    import('node:v8'),
  ]);
  const cache = new PrivateCache(env, 'config-cache');
  if (!cache.enabled) return undefined;
  const key = cacheKey('aibox-config', cacheId, kind, text);
  return {
    get(): unknown {
      const data = cache.read(key);
      if (!data) return undefined;
      try {
        return v8.deserialize(data) as unknown;
      } catch {
        return undefined;
      }
    },
    put(config: unknown): void {
      cache.write([[key, v8.serialize(config)]]);
    },
  };
}

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadedConfig {
  readonly config: PlatformConfig;
  /** the file read; undefined = built-in defaults */
  readonly path: string | undefined;
  /** base dir for relative paths in the config: the file's dir, else cwd */
  readonly dir: string;
}

/** `$XDG_DATA_HOME/aibox` (default ~/.local/share/aibox): where the embedded registry keeps its data. */
export function dataDir(env: Env, home?: string): string {
  const base = absOr(env.XDG_DATA_HOME) ?? join(home ?? env.HOME ?? homedir(), '.local', 'share');
  return join(base, 'aibox');
}

/** `$XDG_CONFIG_HOME/aibox` (default ~/.config/aibox): where the developer config lives. */
export function configDir(env: Env, home?: string): string {
  const base = absOr(env.XDG_CONFIG_HOME) ?? join(home ?? env.HOME ?? homedir(), '.config');
  return join(base, 'aibox');
}

// The XDG spec says relative values are invalid and must be ignored.
function absOr(v: string | undefined): string | undefined {
  return v && isAbsolute(v) ? v : undefined;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') return undefined;
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `cannot read config file ${path}: ${code ?? String(e)}`,
      hint: 'Check that the path is a readable file',
      cause: e,
    });
  }
}

function notFound(path: string, how: string): AiboxError {
  return new AiboxError({
    code: 'CONFIG_NOT_FOUND',
    message: `config file ${path} (from ${how}) does not exist`,
    hint: 'Fix the path, or omit it to use ./aibox.yaml or the built-in defaults',
    details: { path },
  });
}

// Paths in messages: relative to cwd when inside it (aibox.yaml:7:3), else absolute.
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Load the platform config the way every aiboxctl command does (see module comment for the search order). */
export async function loadPlatformConfig(opts: {
  readonly path?: string | undefined;
  readonly env: Env;
  readonly cwd: string;
  /** Parsed-config cache id; default this build's (none in source runs). Tests. */
  readonly cacheId?: string | undefined;
}): Promise<LoadedConfig> {
  const explicit = opts.path ? { path: opts.path, how: '--config' } : undefined;
  const fromEnv = opts.env.AIBOX_CONFIG ? { path: opts.env.AIBOX_CONFIG, how: 'AIBOX_CONFIG' } : undefined;
  const given = explicit ?? fromEnv;
  const path = resolve(opts.cwd, given?.path ?? 'aibox.yaml');
  const text = await readIfExists(path);
  if (text === undefined) {
    if (given) throw notFound(path, given.how);
    return { config: defaultPlatformConfig(), path: undefined, dir: opts.cwd };
  }
  const config = await parseCached(
    'platform',
    text,
    shown(path, opts.cwd),
    opts.env,
    opts.cacheId ?? BUILD_ID,
  );
  for (const secret of credentials('platform', config)) registerSecret(secret);
  return { config, path, dir: dirname(path) };
}

/** Load the developer's config (`--config`, AIBOX_DEVELOPER_CONFIG, else ~/.config/aibox/config.yaml, else defaults). */
export async function loadDeveloperConfig(opts: {
  readonly path?: string | undefined;
  readonly env: Env;
  readonly home?: string | undefined;
  /** Parsed-config cache id; default this build's (none in source runs). Tests. */
  readonly cacheId?: string | undefined;
}): Promise<{ config: DeveloperConfig; path: string | undefined }> {
  const given = opts.path
    ? { path: opts.path, how: '--config' }
    : opts.env.AIBOX_DEVELOPER_CONFIG
      ? { path: opts.env.AIBOX_DEVELOPER_CONFIG, how: 'AIBOX_DEVELOPER_CONFIG' }
      : undefined;
  const path = resolve(given?.path ?? join(configDir(opts.env, opts.home), 'config.yaml'));
  const text = await readIfExists(path);
  if (text === undefined) {
    if (given) throw notFound(path, given.how);
    return { config: defaultDeveloperConfig(), path: undefined };
  }
  const config = await parseCached('developer', text, path, opts.env, opts.cacheId ?? BUILD_ID);
  for (const secret of credentials('developer', config)) registerSecret(secret);
  return { config, path };
}

/** The embedded registry's data dir: `embedded.dataDir` (relative to the config file) or `$XDG_DATA_HOME/aibox/registry`. */
export function embeddedDataDir(loaded: LoadedConfig, env: Env): string {
  const configured = loaded.config.embedded.dataDir;
  return configured ? resolve(loaded.dir, configured) : join(dataDir(env), 'registry');
}
