/**
 * The embedded default registry: CNCF distribution (`docker-registry serve CONFIG`) on 127.0.0.1,
 * storing everything under one data dir (config.yml, registry.log, state.json, storage/). Edge
 * module: fs, /proc, signals and a `/v2/` probe. Linux only (ownership is checked via /proc).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { processAlive, spawnDaemon as defaultSpawnDaemon, type Exec } from '../adapters/exec.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { probeV2 } from './probe.js';
import { registryConfigYaml } from './config.js';

export const DEFAULT_REGISTRY_BINARY = 'docker-registry';

/** What `registryUp` records so later commands can find, verify and stop the process. */
export interface RegistryState {
  readonly pid: number;
  readonly port: number;
  readonly host: string;
  readonly configPath: string;
  readonly binary: string;
  readonly startedAt: string;
  /** The port asked for (config `embedded.port`) when it was taken and another was picked. */
  readonly requestedPort?: number;
}

export interface RegistryUpOptions {
  readonly dataDir: string;
  /** 0 = pick a free port */
  readonly port: number;
  /** Used to check that the registry binary is installed before starting it. */
  readonly exec?: Exec | undefined;
  readonly logger?: Logger | undefined;
  /** default `docker-registry` (CNCF distribution) */
  readonly binary?: string | undefined;
  /** How long to wait for `/v2/` to answer; default 15 s. */
  readonly timeoutMs?: number | undefined;
  readonly spawnDaemon?: typeof defaultSpawnDaemon | undefined;
}

export interface RegistryUpResult {
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly url: string;
  readonly pid: number;
  readonly port: number;
  /** Set when the configured port was taken by another process and a free one was picked. */
  readonly requestedPort?: number;
  readonly alreadyRunning: boolean;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface RegistryStatus {
  readonly running: boolean;
  readonly dataDir: string;
  readonly host?: string;
  readonly url?: string;
  readonly pid?: number;
  readonly port?: number;
  /** The configured port, when it was taken and the registry runs on another (`port`). */
  readonly requestedPort?: number;
  readonly startedAt?: string;
  /** running and `/v2/` answered */
  readonly responding?: boolean;
}

/** Files the embedded registry keeps in its data dir. */
export function registryFiles(dataDir: string): {
  config: string;
  log: string;
  state: string;
  storage: string;
  lock: string;
} {
  return {
    config: join(dataDir, 'config.yml'),
    log: join(dataDir, 'registry.log'),
    state: join(dataDir, 'state.json'),
    storage: join(dataDir, 'storage'),
    lock: join(dataDir, '.up.lock'),
  };
}

// ------------------------------------------------------------------ process checks

async function readState(path: string): Promise<RegistryState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<RegistryState>;
    if (
      typeof v.pid === 'number' &&
      Number.isInteger(v.pid) &&
      v.pid > 0 &&
      typeof v.port === 'number' &&
      typeof v.host === 'string' &&
      typeof v.configPath === 'string' &&
      typeof v.binary === 'string' &&
      typeof v.startedAt === 'string' &&
      (v.requestedPort === undefined || typeof v.requestedPort === 'number')
    ) {
      return v as RegistryState;
    }
  } catch {
    /* corrupt: treated as stale */
  }
  return undefined;
}

/** True only if `pid` is the registry we started: same binary name, `serve`, and our config path. */
async function isOurs(state: RegistryState): Promise<boolean> {
  if (!(await processAlive(state.pid))) return false;
  try {
    const argv = (await readFile(`/proc/${state.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    return (
      basename(argv[0] ?? '') === basename(state.binary) &&
      argv.includes('serve') &&
      argv[argv.length - 1] === state.configPath
    );
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await processAlive(pid))) return true;
    await sleep(50);
  }
  return !(await processAlive(pid));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function logTail(path: string, lines = 5): Promise<string> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-lines)
      .join(' | ');
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------ ports and locking

/** Resolves to the port once it is known to be free on 127.0.0.1 (0 → a kernel-chosen free port). */
function claimPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
        reject(
          new AiboxError({
            code: 'PORT_IN_USE',
            message: `cannot start the embedded registry: 127.0.0.1:${port} is ${e.code === 'EACCES' ? 'not allowed' : 'already in use by another process'}`,
            hint: `Choose another port with embedded.port in your aibox config, or stop what listens on ${port} (e.g. 'ss -ltnp sport = :${port}')`,
            details: { port, reason: e.code },
            cause: e,
          }),
        );
      } else reject(e);
    });
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const chosen = addr && typeof addr === 'object' ? addr.port : port;
      srv.close(() => resolve(chosen));
    });
  });
}

/**
 * The configured port, or — when another process holds it — a free loopback port (the registry is
 * ours to place; its address is recorded in state.json, and `registry status` prints it).
 */
async function claimPortOrAnother(port: number, logger: Logger): Promise<number> {
  try {
    return await claimPort(port);
  } catch (e: unknown) {
    if (port === 0 || !isAiboxError(e, 'PORT_IN_USE') || e.details?.reason !== 'EADDRINUSE') throw e;
    const other = await claimPort(0);
    logger.warn(
      `127.0.0.1:${port} (embedded.port) is in use by another process; the embedded registry uses 127.0.0.1:${other} instead`,
    );
    return other;
  }
}

// Serialises concurrent `registryUp` calls on one data dir (several CLI processes starting it on demand).
async function withLock<T>(lock: string, timeoutMs: number, f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e: unknown) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 60_000) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new AiboxError({
          code: 'TIMEOUT',
          message: `another aibox process is starting the embedded registry (lock ${lock})`,
          hint: `Retry in a moment; if no aibox process is running, remove ${lock}`,
        });
      }
      await sleep(100);
    }
  }
  try {
    return await f();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ public API

function registryConfig(storage: string, host: string): string {
  return registryConfigYaml({
    header: 'Written by aibox (embedded registry); regenerated on every start.',
    host,
    storage,
    secret: randomBytes(16).toString('hex'),
  });
}

async function waitReady(url: string, pid: number, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probeV2(url)) return;
    if (!(await processAlive(pid))) {
      throw new AiboxError({
        code: 'REGISTRY_UNREACHABLE',
        message: `the embedded registry exited during startup: ${await logTail(logFile)}`,
        hint: `See ${logFile}`,
      });
    }
    if (Date.now() > deadline) {
      throw new AiboxError({
        code: 'REGISTRY_UNREACHABLE',
        message: `the embedded registry at ${url} did not answer /v2/ within ${Math.round(timeoutMs / 1000)} s: ${await logTail(logFile)}`,
        hint: `See ${logFile}`,
      });
    }
    await sleep(100);
  }
}

/**
 * Start the embedded registry, or return the one already running for this data dir (idempotent).
 * When the configured port is taken by another process, a free loopback port is used and recorded.
 */
export async function registryUp(opts: RegistryUpOptions): Promise<RegistryUpResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const files = registryFiles(opts.dataDir);
  await mkdir(files.storage, { recursive: true });
  return withLock(files.lock, timeoutMs + 5_000, () => upLocked(opts));
}

/** registryUp's work, with the start lock held by the caller. */
async function upLocked(opts: RegistryUpOptions): Promise<RegistryUpResult> {
  const logger = opts.logger ?? silentLogger;
  const binary = opts.binary ?? DEFAULT_REGISTRY_BINARY;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const files = registryFiles(opts.dataDir);
  {
    const existing = await readState(files.state);
    if (existing && (await isOurs(existing))) {
      const url = `http://${existing.host}`;
      await waitReady(url, existing.pid, files.log, timeoutMs);
      if (opts.port !== 0 && opts.port !== (existing.requestedPort ?? existing.port)) {
        logger.warn(
          `the embedded registry already runs on port ${existing.port} (configured: ${opts.port}); run 'aiboxctl registry down' to restart it on the new port`,
        );
      }
      return {
        host: existing.host,
        url,
        pid: existing.pid,
        port: existing.port,
        ...(existing.requestedPort !== undefined ? { requestedPort: existing.requestedPort } : {}),
        alreadyRunning: true,
        dataDir: opts.dataDir,
        logFile: files.log,
      };
    }
    if (existing) logger.debug(`removing stale registry state (pid ${existing.pid} is not our registry)`);
    await rm(files.state, { force: true });

    if (opts.exec) {
      // Fails with TOOL_MISSING (and an install hint) before we write anything else.
      await opts.exec(binary, ['--version'], { timeoutMs: 10_000 }).catch((e: unknown) => {
        if (e instanceof AiboxError && e.code === 'TOOL_MISSING') {
          throw new AiboxError({
            code: 'TOOL_MISSING',
            message: `${binary} (CNCF distribution) not found on PATH`,
            hint: "Install it (Debian/Ubuntu: 'apt-get install docker-registry'), or set registry.host to an existing registry",
            cause: e,
          });
        }
        throw e;
      });
    }

    const port = await claimPortOrAnother(opts.port, logger);
    const requested = port !== opts.port && opts.port !== 0 ? { requestedPort: opts.port } : {};
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    await writeFile(files.config, registryConfig(files.storage, host));
    const spawn = opts.spawnDaemon ?? defaultSpawnDaemon;
    const { pid } = await spawn(
      binary,
      ['serve', files.config],
      { logFile: files.log, cwd: opts.dataDir },
      logger,
    );
    const state: RegistryState = {
      pid,
      port,
      host,
      configPath: files.config,
      binary,
      startedAt: new Date().toISOString(),
      ...requested,
    };
    await writeFile(files.state, `${JSON.stringify(state, null, 2)}\n`);
    try {
      await waitReady(url, pid, files.log, timeoutMs);
    } catch (e: unknown) {
      await stopPid(pid, state);
      await rm(files.state, { force: true });
      throw e;
    }
    logger.debug(`embedded registry pid ${pid} listening on ${host} (data: ${opts.dataDir})`);
    return {
      host,
      url,
      pid,
      port,
      ...requested,
      alreadyRunning: false,
      dataDir: opts.dataDir,
      logFile: files.log,
    };
  }
}

/**
 * Run `f` with the embedded registry stopped, then start it again on the same port if it was running. The start
 * lock is held throughout (refreshed, so it never looks stale), so no `registryUp` — a pipeline or a command
 * starting the registry on demand — can start it meanwhile: it waits, then times out naming the lock.
 * For maintenance that must not race a writer (distribution's garbage-collect).
 */
export async function withRegistryStopped<T>(
  opts: Omit<RegistryUpOptions, 'port'>,
  f: () => Promise<T>,
): Promise<{ readonly result: T; readonly wasRunning: boolean; readonly restarted?: RegistryUpResult }> {
  const files = registryFiles(opts.dataDir);
  await mkdir(files.storage, { recursive: true });
  // Long enough for any maintenance run: the lock is refreshed every 10 s while `f` runs.
  return withLock(files.lock, (opts.timeoutMs ?? 15_000) + 5_000, async () => {
    const keepFresh = setInterval(() => {
      const t = new Date();
      void utimes(files.lock, t, t).catch(() => {});
    }, 10_000);
    try {
      const state = await readState(files.state);
      const wasRunning = state !== undefined && (await isOurs(state));
      if (state && wasRunning) await stopPid(state.pid, state);
      await rm(files.state, { force: true });
      // Same address as before, so clients that resolved it keep working.
      const restart = () => (state && wasRunning ? upLocked({ ...opts, port: state.port }) : undefined);
      let result: T;
      try {
        result = await f();
      } catch (e: unknown) {
        await restart();
        throw e;
      }
      const restarted = await restart();
      return { result, wasRunning, ...(restarted ? { restarted } : {}) };
    } finally {
      clearInterval(keepFresh);
    }
  });
}

async function stopPid(pid: number, state: RegistryState): Promise<void> {
  if (!(await isOurs(state))) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitForExit(pid, 5_000))) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 2_000);
  }
}

/** Stop the embedded registry — only the process aibox started for this data dir; stale state is removed. */
export async function registryDown(opts: {
  readonly dataDir: string;
}): Promise<{ stopped: boolean; pid?: number }> {
  const files = registryFiles(opts.dataDir);
  const state = await readState(files.state);
  if (!state) {
    await rm(files.state, { force: true });
    return { stopped: false };
  }
  if (!(await isOurs(state))) {
    await rm(files.state, { force: true });
    return { stopped: false };
  }
  await stopPid(state.pid, state);
  await rm(files.state, { force: true });
  return { stopped: true, pid: state.pid };
}

/** Whether the embedded registry for this data dir runs, where, and since when. */
export async function registryStatus(opts: { readonly dataDir: string }): Promise<RegistryStatus> {
  const state = await readState(registryFiles(opts.dataDir).state);
  if (!state || !(await isOurs(state))) return { running: false, dataDir: opts.dataDir };
  const url = `http://${state.host}`;
  return {
    running: true,
    dataDir: opts.dataDir,
    host: state.host,
    url,
    pid: state.pid,
    port: state.port,
    ...(state.requestedPort !== undefined ? { requestedPort: state.requestedPort } : {}),
    startedAt: state.startedAt,
    responding: await probeV2(url),
  };
}
