/**
 * The only module that spawns processes. Args are always an array (never a shell); every run is
 * logged at debug with its duration; failures carry the exit code and the tail of stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { AiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';

export interface ExecOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Bytes written to stdin, then stdin is closed. */
  readonly input?: string | Uint8Array;
  /** Stream of bytes written to stdin (alternative to `input`). */
  readonly inputStream?: NodeJS.ReadableStream;
  readonly timeoutMs?: number;
  /** Called with each stderr chunk (progress display). */
  readonly onStderr?: (chunk: string) => void;
  readonly onStdout?: (chunk: string) => void;
  /** Do not throw on non-zero exit; return the result instead. */
  readonly allowFailure?: boolean;
  /** Short name of the command for error messages, e.g. "podman build" (default: file and first arg). */
  readonly label?: string;
  /** Strings to redact from logs and errors (passwords, tokens). */
  readonly secrets?: readonly string[];
  /**
   * The child uses this process's stdin/stdout/stderr directly (an interactive sandbox shell, or a
   * command whose output is the developer's own): nothing is captured (stdout/stderr are ''), and
   * `input`/`inputStream`/`onStdout`/`onStderr` are ignored.
   */
  readonly inheritStdio?: boolean;
  /**
   * With `inheritStdio`: stdin and stdout stay this process's, but stderr is a pipe whose raw chunks go to
   * `onStderrBytes` (the caller forwards them; e.g. podman's own "name already in use" line held back).
   */
  readonly onStderrBytes?: (chunk: Buffer) => void;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Raised when a subprocess exits non-zero; carries what a user needs to diagnose it. */
export class ProcessError extends AiboxError {
  readonly exitCode: number;
  readonly stderrTail: string;
  readonly command: string;
  constructor(command: string, exitCode: number, stderrTail: string, fullCommand: string = command) {
    super({
      code: 'PROCESS_FAILED',
      message: `${command} exited with code ${exitCode}${stderrTail ? `: ${stderrTail}` : ''}`,
      hint: 'Run with --debug to see the full command line',
      details: { command: fullCommand, exitCode },
    });
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
    this.command = command;
  }
}

export type Exec = (file: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

const MAX_CAPTURE = 64 * 1024 * 1024;

function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const s of secrets ?? []) if (s) out = out.split(s).join('***');
  return out;
}

/** Last few non-empty lines of stderr, one line, for error messages. */
export function tail(text: string, lines = 3, maxChars = 600): string {
  const t = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' | ');
  return t.length > maxChars ? `…${t.slice(-maxChars)}` : t;
}

/** Quote an argv for display in logs (never executed). */
export function displayCommand(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Create an Exec bound to a logger. */
export function createExec(logger: Logger = silentLogger): Exec {
  return (file, args, opts = {}) =>
    new Promise<ExecResult>((resolve, reject) => {
      const shown = redact(displayCommand(file, args), opts.secrets);
      const started = performance.now();
      logger.debug(`Run: ${shown}`);
      let child: ChildProcessWithoutNullStreams;
      try {
        child = spawn(file, [...args], {
          cwd: opts.cwd,
          env: opts.env ? { ...process.env, ...opts.env } : process.env,
          stdio: opts.inheritStdio
            ? opts.onStderrBytes
              ? ['inherit', 'inherit', 'pipe']
              : 'inherit'
            : ['pipe', 'pipe', 'pipe'],
        }) as ChildProcessWithoutNullStreams;
      } catch (e: unknown) {
        reject(toolError(file, e));
        return;
      }
      let stdout = '';
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs);
      }
      // With inherited stdio the child's streams are this process's (child.stdout etc. are null).
      // Ctrl-C on the terminal reaches the child too (same process group): let the child decide and
      // report its exit code, rather than dying first and leaving it behind.
      const ignoreSigint = (): void => {};
      if (opts.inheritStdio) process.on('SIGINT', ignoreSigint);
      const release = (): void => {
        if (opts.inheritStdio) process.off('SIGINT', ignoreSigint);
      };
      if (opts.inheritStdio && opts.onStderrBytes) {
        const onBytes = opts.onStderrBytes;
        child.stderr.on('data', (c: Buffer) => onBytes(c));
      }
      if (!opts.inheritStdio) {
        child.stdout.setEncoding('utf8');
        child.stderr.setEncoding('utf8');
        child.stdout.on('data', (c: string) => {
          if (stdout.length < MAX_CAPTURE) stdout += c;
          opts.onStdout?.(c);
        });
        child.stderr.on('data', (c: string) => {
          if (stderr.length < MAX_CAPTURE) stderr += c;
          opts.onStderr?.(c);
        });
        child.stdin.on('error', () => {
          /* the process may exit before reading stdin; the exit code tells the story */
        });
        if (opts.inputStream) opts.inputStream.pipe(child.stdin);
        else child.stdin.end(opts.input ?? '');
      }
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        release();
        reject(toolError(file, e));
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        release();
        const durationMs = performance.now() - started;
        const exit = code ?? 128;
        logger.debug(
          `Done (${Math.round(durationMs)} ms, exit ${exit}${signal ? `, ${signal}` : ''}): ${shown}`,
        );
        if (timedOut) {
          reject(
            new AiboxError({
              code: 'TIMEOUT',
              message: `${shown} did not finish within ${opts.timeoutMs} ms and was stopped`,
            }),
          );
          return;
        }
        if (exit !== 0 && !opts.allowFailure) {
          const label = opts.label ?? [file.split('/').pop(), args[0]].filter(Boolean).join(' ');
          reject(new ProcessError(label, exit, redact(tail(stderr || stdout), opts.secrets), shown));
          return;
        }
        resolve({ code: exit, stdout, stderr, durationMs });
      });
    });
}

function toolError(file: string, e: unknown): AiboxError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') {
    return new AiboxError({
      code: 'TOOL_MISSING',
      message: `${file} not found on PATH`,
      hint: `Install ${file.split('/').pop()} (e.g. 'apt-get install ${file.split('/').pop()}'), or set its path in the aibox config`,
      cause: e,
    });
  }
  return new AiboxError({ code: 'PROCESS_FAILED', message: `could not start ${file}`, cause: e });
}

export interface DaemonOptions {
  /** stdout and stderr are appended to this file (created if missing). */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Starts a process that outlives aibox (the embedded registry): detached, output to a log file, never awaited. */
export async function spawnDaemon(
  file: string,
  args: readonly string[],
  opts: DaemonOptions,
  logger: Logger = silentLogger,
): Promise<{ pid: number }> {
  logger.debug(`Start daemon: ${displayCommand(file, args)} (log: ${opts.logFile})`);
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(file, [...args], {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (e) => reject(toolError(file, e)));
      child.once('spawn', () => resolve(child.pid ?? -1));
    });
    child.unref();
    return { pid };
  } finally {
    closeSync(fd);
  }
}

/** Whether `pid` is a live process: it exists (EPERM counts) and is not a zombie awaiting its parent. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e: unknown) {
    if ((e as { code?: string }).code !== 'EPERM') return false;
  }
  try {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
