/**
 * Registry credentials from the standard files (edge code: reads files through an injected reader).
 * Order, first match wins: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, ~/.docker/config.json ($DOCKER_CONFIG/config.json when set).
 * Format: containers-auth.json(5) / docker config `auths` map, `auth` = base64("user:password").
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_HUB } from './reference.js';

export interface Credential {
  readonly username: string;
  readonly password: string;
}

export interface CredentialLookup {
  /** The credential found, if any. */
  readonly credential?: Credential;
  /** Where it came from (a file path, or a label such as "static"), when found. */
  readonly source?: string;
  /** Every place looked at, in order, for "no credentials found ... in: <list>" messages. */
  readonly searched: readonly string[];
}

/** Port for credential lookup; the client asks it once per registry host. */
export interface CredentialSource {
  lookup(registry: string): Promise<CredentialLookup>;
}

/** Reads a file as UTF-8; resolves undefined when the file does not exist. */
export type FileReader = (path: string) => Promise<string | undefined>;

/** The default reader: node fs, ENOENT/ENOTDIR mean "absent", other errors propagate. */
export const readFileIfExists: FileReader = async (path) => {
  try {
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
};

/** The ordered list of auth files for an environment (same order podman/skopeo use). */
export function authFilePaths(env: Readonly<Record<string, string | undefined>>): string[] {
  const paths: string[] = [];
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  const home = env.HOME;
  if (env.XDG_CONFIG_HOME) paths.push(join(env.XDG_CONFIG_HOME, 'containers', 'auth.json'));
  else if (home) paths.push(join(home, '.config', 'containers', 'auth.json'));
  if (env.DOCKER_CONFIG) paths.push(join(env.DOCKER_CONFIG, 'config.json'));
  else if (home) paths.push(join(home, '.docker', 'config.json'));
  return [...new Set(paths)];
}

/** Normalise an `auths` key to a bare host: drop scheme and the legacy "/v1/", "/v2/" paths. */
export function normaliseAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/(v1|v2)\/?$/, '');
  k = k.replace(/\/+$/, '');
  return k.toLowerCase();
}

const HUB_KEYS = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io']);

/** Whether an `auths` key names exactly this registry host (Docker Hub's historic keys included). */
export function authKeyMatches(key: string, registry: string): boolean {
  const k = normaliseAuthKey(key);
  const r = registry.toLowerCase();
  if (r === DOCKER_HUB) return HUB_KEYS.has(k);
  return k === r;
}

/** Decode one `auths` entry; undefined when it carries no usable user:password. */
export function decodeAuthEntry(entry: unknown): Credential | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const o = entry as Record<string, unknown>;
  if (typeof o.auth === 'string' && o.auth !== '') {
    const text = Buffer.from(o.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0)
      return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/\n$/, '') };
    return undefined;
  }
  if (typeof o.username === 'string' && typeof o.password === 'string' && o.username !== '') {
    return { username: o.username, password: o.password };
  }
  return undefined;
}

/** Credentials from the standard auth files for this environment. */
export function credentialsFromFiles(
  env: Readonly<Record<string, string | undefined>>,
  read: FileReader = readFileIfExists,
): CredentialSource {
  const paths = authFilePaths(env);
  return {
    async lookup(registry) {
      for (const path of paths) {
        const text = await read(path);
        if (text === undefined) continue;
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch {
          continue; // an unreadable file is skipped like podman does; the "searched" list still names it
        }
        const auths = (doc as { auths?: unknown } | null)?.auths;
        if (typeof auths !== 'object' || auths === null) continue;
        // exact host key first, then the legacy spellings
        const entries = Object.entries(auths as Record<string, unknown>).sort(
          ([a], [b]) => Number(b === registry) - Number(a === registry),
        );
        for (const [key, entry] of entries) {
          if (!authKeyMatches(key, registry)) continue;
          const credential = decodeAuthEntry(entry);
          if (credential) return { credential, source: path, searched: paths };
        }
      }
      return { searched: paths };
    },
  };
}

/** Fixed credentials (tests, CLI flags): one user:password per registry host. */
export function staticCredentials(
  map: Readonly<Record<string, Credential>>,
  label = 'explicit credentials',
): CredentialSource {
  return {
    lookup(registry) {
      const credential = map[registry];
      return Promise.resolve(
        credential ? { credential, source: label, searched: [label] } : { searched: [label] },
      );
    },
  };
}

/** No credentials at all (anonymous only). */
export const anonymousCredentials: CredentialSource = {
  lookup() {
    return Promise.resolve({ searched: [] });
  },
};
