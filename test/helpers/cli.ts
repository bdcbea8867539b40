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
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
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

/** The `--json` envelope every command prints (src/cli/output.ts, docs/exit-codes.md). */
export interface JsonEnvelope<T = unknown> {
  readonly outcome: 'ok' | 'failed' | 'refused';
  readonly exitCode: number;
  readonly data?: T;
  readonly error?: JsonErrorBody;
}

export interface JsonErrorBody {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly details?: any;
}

/** Anything with the captured stdout: a CliResult, or `{ out }` from an in-process run. */
export type Captured = { readonly stdout: string } | { readonly out: string };

function stdoutOf(r: Captured): string {
  return 'stdout' in r ? r.stdout : r.out;
}

/** The whole envelope of a `--json` run, checked for its shape and its exit code. */
export function envelopeOf<T = any>(r: Captured & { readonly code?: number }): JsonEnvelope<T> {
  const text = stdoutOf(r);
  let doc: JsonEnvelope<T>;
  try {
    doc = JSON.parse(text) as JsonEnvelope<T>;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${text}`);
  }
  if (!['ok', 'failed', 'refused'].includes(doc.outcome) || typeof doc.exitCode !== 'number')
    throw new Error(`stdout is not the --json envelope:\n${text}`);
  if (r.code !== undefined && r.code !== doc.exitCode)
    throw new Error(`envelope exitCode ${doc.exitCode} differs from the process exit code ${r.code}`);
  return doc;
}

/**
 * The result document (`data`) of a `--json` run. Tests read `--json` output only through this
 * (and `jsonError`), so the output envelope is defined in one place.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- on purpose: the caller names the shape it reads from parsed JSON (`jsonOf<RunRecord>(r)`)
export function jsonOf<T = any>(r: Captured & { readonly code?: number }): T {
  const doc = envelopeOf<T>(r);
  if (!('data' in doc)) throw new Error(`--json run failed: ${JSON.stringify(doc.error)}`);
  return doc.data as T;
}

/** The error object of a failed `--json` run. */
export function jsonError(r: Captured & { readonly code?: number }): JsonErrorBody {
  const doc = envelopeOf(r);
  if (!doc.error) throw new Error(`--json run did not fail: ${stdoutOf(r)}`);
  return doc.error;
}
