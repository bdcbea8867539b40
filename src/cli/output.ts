/**
 * stdout carries results (text or one JSON document), stderr carries logs and errors.
 * Commands return an Outcome; the runner prints it, so --json is uniform across commands.
 */
import { AiboxError, describeError } from '../core/errors.js';
import { exitCodeFor } from './exit.js';

export interface Outcome<T = unknown> {
  /** Machine-readable result, printed as JSON with --json. */
  readonly data: T;
  /** Human text, printed without --json. */
  readonly text: string;
  /** Non-zero for "ran fine but a check failed" results (e.g. status with a failing check). */
  readonly exitCode?: number;
}

export interface Streams {
  out(s: string): void;
  err(s: string): void;
}

export const processStreams: Streams = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

/** Print an outcome in the chosen format. */
export function printOutcome(o: Outcome, json: boolean, io: Streams): void {
  if (json) io.out(`${JSON.stringify(o.data, null, 2)}\n`);
  else if (o.text) io.out(o.text.endsWith('\n') ? o.text : `${o.text}\n`);
}

/** Print an error: one line (plus hint) for humans, a JSON document on stdout with --json. */
export function printError(e: unknown, json: boolean, io: Streams, debug = false): number {
  const code = exitCodeFor(e);
  const message = describeError(e);
  const hint = e instanceof AiboxError ? e.hint : undefined;
  if (json) {
    io.out(
      `${JSON.stringify(
        {
          error: {
            code: e instanceof AiboxError ? e.code : 'INTERNAL',
            message,
            ...(hint ? { hint } : {}),
            ...(e instanceof AiboxError && e.details ? { details: e.details } : {}),
          },
          exitCode: code,
        },
        null,
        2,
      )}\n`,
    );
  }
  io.err(`error: ${message}\n`);
  if (hint) io.err(`hint: ${hint}\n`);
  if (debug && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
  return code;
}

export { table } from '../core/table.js';
