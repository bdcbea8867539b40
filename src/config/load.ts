/**
 * Find and read config files (edge: fs + env). Platform: --config, then AIBOX_CONFIG, then
 * ./aibox.yaml, else built-in defaults. Developer: $XDG_CONFIG_HOME/aibox/config.yaml.
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
// parse: without one, the defaults are a constant and a command starts without compiling either.
const parser = () => import('./parse.js');

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
  const { parsePlatformConfigText } = await parser();
  const config = parsePlatformConfigText(text, shown(path, opts.cwd));
  registerSecret(config.notify.slackWebhook); // the webhook URL is a credential (core/redact)
  return { config, path, dir: dirname(path) };
}

/** Load the developer's config (`--config`, AIBOX_DEVELOPER_CONFIG, else ~/.config/aibox/config.yaml, else defaults). */
export async function loadDeveloperConfig(opts: {
  readonly path?: string | undefined;
  readonly env: Env;
  readonly home?: string | undefined;
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
  const { parseDeveloperConfigText } = await parser();
  return { config: parseDeveloperConfigText(text, path), path };
}

/** The embedded registry's data dir: `embedded.dataDir` (relative to the config file) or `$XDG_DATA_HOME/aibox/registry`. */
export function embeddedDataDir(loaded: LoadedConfig, env: Env): string {
  const configured = loaded.config.embedded.dataDir;
  return configured ? resolve(loaded.dir, configured) : join(dataDir(env), 'registry');
}
