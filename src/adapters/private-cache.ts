/**
 * A per-user cache directory for start-up caches (the V8 code cache of the CLI chunks, the parsed
 * config): `$XDG_CACHE_HOME/aibox/<name>` (default `~/.cache/aibox/<name>`). A cache is an
 * optimisation, never a source of truth, so it is used only when it is provably this user's:
 *   - the directory is created 0700; it and its parent must be real directories (not symlinks)
 *     owned by this user and writable by no one else, or nothing is read or written;
 *   - an entry is a regular file owned by this user (opened with O_NOFOLLOW), carrying the SHA-256
 *     of its payload: a corrupt, truncated or foreign file reads as absent;
 *   - entries are written to a temporary file (O_EXCL, 0600) renamed into place, so a reader sees a
 *     whole entry or none; the directory is pruned to the newest 128 entries past 256;
 *   - every error reads as "no entry" or "not written": the caller computes the value itself.
 * `AIBOX_STARTUP_CACHE=off` disables every such cache.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

const MAGIC = Buffer.from('aibox-cache-v1\n\0');
const HEADER = MAGIC.length + 32;
const MAX_ENTRIES = 256;
const KEEP_ENTRIES = 128;

/** `$XDG_CACHE_HOME/aibox/<name>` (relative XDG values are ignored, as the spec says). */
export function privateCacheDir(env: Env, name: string): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(base, 'aibox', name);
}

/** A directory that only this user can write, and not a symlink. */
function privateDir(path: string, uid: number): boolean {
  const st = lstatSync(path);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
}

/** A hex SHA-256 over the parts (each NUL-terminated): cache keys. */
export function cacheKey(...parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** One cache directory, or an inert one when it is disabled or cannot be trusted. */
export class PrivateCache {
  /** undefined: disabled, untrusted or unusable */
  readonly dir: string | undefined;

  constructor(env: Env, name: string) {
    this.dir = env.AIBOX_STARTUP_CACHE === 'off' ? undefined : open(privateCacheDir(env, name));
  }

  get enabled(): boolean {
    return this.dir !== undefined;
  }

  /** The payload stored under key, or undefined when absent, not ours, or corrupt. */
  read(key: string): Buffer | undefined {
    if (!this.dir) return undefined;
    let fd: number;
    try {
      fd = openSync(join(this.dir, `${key}.bin`), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.uid !== process.getuid?.() || st.size <= HEADER) return undefined;
      const buf = readFileSync(fd);
      if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
      const data = buf.subarray(HEADER);
      const sum = createHash('sha256').update(data).digest();
      return sum.equals(buf.subarray(MAGIC.length, HEADER)) ? data : undefined;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** Store payloads (atomically each), then prune. Errors are ignored. */
  write(entries: Iterable<readonly [key: string, data: Buffer]>): void {
    const dir = this.dir;
    if (!dir) return;
    let wrote = false;
    for (const [key, data] of entries) {
      const path = join(dir, `${key}.bin`);
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        const sum = createHash('sha256').update(data).digest();
        writeFileSync(tmp, Buffer.concat([MAGIC, sum, data]), { mode: 0o600, flag: 'wx' });
        renameSync(tmp, path);
        wrote = true;
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          /* never created */
        }
      }
    }
    if (wrote) prune(dir);
  }
}

function open(dir: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return privateDir(dir, uid) && privateDir(dirname(dir), uid) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Keep the newest KEEP_ENTRIES entries once there are more than MAX_ENTRIES (old builds). */
function prune(dir: string): void {
  try {
    const names = readdirSync(dir).filter((n) => n.endsWith('.bin'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => b.t - a.t);
    for (const { n } of aged.slice(KEEP_ENTRIES)) unlinkSync(join(dir, n));
  } catch {
    /* best effort */
  }
}
