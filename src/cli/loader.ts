/**
 * Loads the CLI bundle's CommonJS chunks (dist/chunks/*.cjs, see scripts/build.mjs) through
 * `vm.Script` with a V8 code cache, so a command does not re-parse and re-compile the same code on
 * every run (issue 8 §4: compiling the chunks was the largest single start-up cost). Node 20 has no
 * `module.enableCompileCache`, and ESM cannot take cached data, hence CommonJS chunks and this
 * small `require` of our own: `./chunk-*.cjs` specifiers load through here, everything else
 * (node builtins) through Node's `require`.
 *
 * The cache lives in `$XDG_CACHE_HOME/aibox/code-cache` and is used only when it is provably this
 * user's (src/adapters/private-cache.ts: 0700, owner-checked, O_NOFOLLOW, checksummed, atomic
 * writes, pruned). An entry is keyed by the SHA-256 of the chunk's exact source plus Node's version,
 * arch and flags; a corrupt entry reads as absent before V8 sees it (release V8 does not verify its
 * own checksum), and one made for other code or another V8 is refused by V8
 * (`script.cachedDataRejected`) and rewritten. Entries are written after the command ran, so the
 * functions compiled lazily during the run are in them. `AIBOX_STARTUP_CACHE=off` disables it.
 * `AIBOX_LOAD_TRACE=FILE` appends one line per chunk loaded, `chunks/NAME.cjs cache=hit|miss|
 * rejected|off` (test/integration/chunks.test.ts reads it).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';
import { cacheKey, PrivateCache } from '../adapters/private-cache.js';

type Env = Readonly<Record<string, string | undefined>>;
type CacheState = 'hit' | 'miss' | 'rejected' | 'off';

interface Loaded {
  readonly exports: unknown;
  readonly script: Script;
  readonly key: string;
  readonly state: CacheState;
}

/** Loads `.cjs` chunks of one directory, each once, with the code cache. */
export class ChunkLoader {
  readonly #root: string;
  readonly #cache: PrivateCache;
  readonly #trace: string | undefined;
  readonly #nodeRequire: NodeJS.Require;
  readonly #loaded = new Map<string, Loaded>();
  readonly #salt: string;

  constructor(root: string, env: Env) {
    this.#root = root;
    this.#cache = new PrivateCache(env, 'code-cache');
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
    const key = cacheKey(this.#salt, source);
    const cached = this.#cache.read(key);
    const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
    const script = new Script(wrapped, { filename: path, ...(cached ? { cachedData: cached } : {}) });
    const state: CacheState = !this.#cache.enabled
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
    if (!this.#cache.enabled) return;
    const fresh = [...this.#loaded.values()].filter((l) => l.state !== 'hit');
    this.#cache.write(fresh.map((l) => [l.key, l.script.createCachedData()] as const));
  }
}
