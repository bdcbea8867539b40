/**
 * Runs the bundled CLIs (dist/, built by test/global-setup.ts) as a user would, capturing
 * stdout, stderr and the exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `aiboxctl` or `aibox` with args; env is merged over a minimal, isolated environment. */
export function runBin(
  bin: 'aiboxctl' | 'aibox',
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}/dist/${bin}.cjs`, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * The result document of a `--json` run. Tests read `--json` output only through this (and
 * `jsonError`), so the output envelope is defined in one place.
 */
export function jsonOf<T = any>(r: CliResult): T {
  return JSON.parse(r.stdout) as T;
}

/** The error object of a failed `--json` run. */
export function jsonError(r: CliResult): { code: string; message: string; hint?: string; details?: unknown } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}
