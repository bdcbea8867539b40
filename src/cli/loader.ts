/**
 * Loads the CLI bundle's CommonJS chunks (dist/chunks/*.cjs, see scripts/build.mjs) through
 * `vm.Script` with a V8 code cache, so a command does not re-parse and re-compile the same code on
 * every run (issue 8 §4: compiling the chunks was the largest single start-up cost). Node 20 has no
 * `module.enableCompileCache`, and ESM cannot take cached data, hence CommonJS chunks and this
 * small `require` of our own: `./chunk-*.cjs` specifiers load through here, everything else
 * (node builtins) through Node's `require`.
 *
 * The cache is an optimisation and never a source of truth; it is used only when it is provably ours:
 *   - it lives in `$XDG_CACHE_HOME/aibox/code-cache` (default `~/.cache/…`), created 0700; the
 *     directory and its parent must be real directories owned by this user and writable by no one
 *     else, and each file a regular file owned by this user (opened with O_NOFOLLOW), else no
 *     cache is read or written: never shared across users;
 *   - an entry is keyed by the SHA-256 of the chunk's exact source plus Node's version, arch and
 *     flags, and carries the SHA-256 of its payload: a corrupt or truncated file is ignored before
 *     V8 sees it (release V8 does not verify its own checksum), and a foreign one (other Node, other
 *     flags) is rejected by V8 (`script.cachedDataRejected`) and rewritten;
 *   - entries are written after the command ran (so functions compiled lazily are in them), to a
 *     temporary file (O_EXCL, 0600) renamed into place: a reader sees a whole entry or none;
 *   - the directory is pruned to the newest 128 entries when it grows past 256;
 *   - any error reading or writing it is ignored: the chunk is compiled from source as without it.
 * `AIBOX_CODE_CACHE=off` disables it. `AIBOX_LOAD_TRACE=FILE` appends one line per chunk loaded,
 * `chunks/NAME.cjs cache=hit|miss|rejected|off` (test/integration/chunks.test.ts reads it).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
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
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Script } from 'node:vm';

type Env = Readonly<Record<string, string | undefined>>;
type CacheState = 'hit' | 'miss' | 'rejected' | 'off';

const MAGIC = Buffer.from('aibox-v8-cache-1');
const HEADER = MAGIC.length + 32;
const MAX_ENTRIES = 256;
const KEEP_ENTRIES = 128;

interface Loaded {
  readonly exports: unknown;
  readonly script: Script;
  readonly key: string;
  readonly state: CacheState;
}

/** `$XDG_CACHE_HOME/aibox/code-cache` (relative XDG values are ignored, as the spec says). */
export function codeCacheDir(env: Env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(base, 'aibox', 'code-cache');
}

/** A directory that only this user can write, and not a symlink. */
function privateDir(path: string, uid: number): boolean {
  const st = lstatSync(path);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
}

/** The cache dir, created if missing, or undefined when it cannot be trusted or used. */
function openCacheDir(dir: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return privateDir(dir, uid) && privateDir(dirname(dir), uid) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The payload of a cache entry, or undefined when absent, not ours, or corrupt. */
function readEntry(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
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

function writeEntry(dir: string, key: string, data: Buffer): void {
  const path = join(dir, `${key}.bin`);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const sum = createHash('sha256').update(data).digest();
    writeFileSync(tmp, Buffer.concat([MAGIC, sum, data]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
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

/** Loads `.cjs` chunks of one directory, each once, with the code cache. */
export class ChunkLoader {
  readonly #root: string;
  readonly #cacheDir: string | undefined;
  readonly #trace: string | undefined;
  readonly #nodeRequire: NodeJS.Require;
  readonly #loaded = new Map<string, Loaded>();
  readonly #salt: string;

  constructor(root: string, env: Env) {
    this.#root = root;
    this.#cacheDir = env.AIBOX_CODE_CACHE === 'off' ? undefined : openCacheDir(codeCacheDir(env));
    this.#trace = env.AIBOX_LOAD_TRACE || undefined;
    this.#nodeRequire = createRequire(join(root, 'loader.cjs'));
    // V8 rejects cached data made under other flags; keying by them avoids rewriting in turns.
    this.#salt = [process.version, process.arch, process.execArgv.join(' '), env.NODE_OPTIONS ?? ''].join(
      '\0',
    );
  }

  /** `require` for a chunk: `./x.cjs` relative to `from`'s directory, else a Node builtin. */
  #requireFrom(from: string): (spec: string) => unknown {
    return (spec: string) =>
      spec.startsWith('./') || spec.startsWith('../')
        ? this.load(resolve(dirname(from), spec))
        : (this.#nodeRequire(spec) as unknown);
  }

  /** The exports of the chunk at `path` (absolute), loading and running it on first use. */
  load(path: string): unknown {
    const done = this.#loaded.get(path);
    if (done) return done.exports;
    const source = readFileSync(path, 'utf8');
    const key = createHash('sha256').update(this.#salt).update('\0').update(source).digest('hex');
    const cached = this.#cacheDir ? readEntry(join(this.#cacheDir, `${key}.bin`)) : undefined;
    const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
    const script = new Script(wrapped, { filename: path, ...(cached ? { cachedData: cached } : {}) });
    const state: CacheState = !this.#cacheDir
      ? 'off'
      : !cached
        ? 'miss'
        : script.cachedDataRejected
          ? 'rejected'
          : 'hit';
    const module = { exports: {} as unknown };
    // Registered before running, so a cycle sees the partial exports (as Node's require does).
    const entry = { exports: module.exports, script, key, state };
    this.#loaded.set(path, entry);
    const fn = script.runInThisContext() as (...a: unknown[]) => void;
    fn(module.exports, this.#requireFrom(path), module, path, dirname(path));
    this.#loaded.set(path, { ...entry, exports: module.exports });
    if (this.#trace) {
      try {
        appendFileSync(this.#trace, `chunks/${basename(path)} cache=${state}\n`);
      } catch {
        /* diagnostics only */
      }
    }
    return module.exports;
  }

  /** The exports of `name` in the chunk directory. */
  require(name: string): unknown {
    return this.load(join(this.#root, name));
  }

  /** Write cache entries for the chunks compiled from source this run. Call after the command ran. */
  save(): void {
    const dir = this.#cacheDir;
    if (!dir) return;
    let wrote = false;
    for (const { script, key, state } of this.#loaded.values()) {
      if (state === 'hit') continue;
      writeEntry(dir, key, script.createCachedData());
      wrote = true;
    }
    if (wrote) prune(dir);
  }
}
