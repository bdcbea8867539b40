/**
 * stdout carries results (text or one JSON document), stderr carries logs and errors.
 * Commands return an Outcome; the runner prints it, so --json is one envelope for every command:
 *
 *   {"outcome": "ok"|"failed"|"refused", "exitCode": N, "data": …}                      a result
 *   {"outcome": "failed"|"refused", "exitCode": N, "error": {code, message, hint?, details?}}  an error
 *
 * (docs/exit-codes.md). Everything printed passes through `core/redact` first: registered secrets,
 * URL user-info and credential-looking values are masked, and control characters stripped so a
 * hostile remote cannot paint lines with escape codes.
 */
import { AiboxError, describeError } from '../core/errors.js';
import { redact, sanitize, sanitizeDeep, sanitizedJson } from '../core/redact.js';
import { EXIT, exitCodeFor, outcomeFor, type OutcomeKind } from './exit.js';

export interface Outcome<T = unknown> {
  /** Machine-readable result, printed as the envelope's `data` with --json. */
  readonly data: T;
  /** Human text, printed without --json. */
  readonly text: string;
  /** Non-zero for "ran fine but a check failed" results (e.g. status with a failing check). */
  readonly exitCode?: number;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The one `--json` document shape, success and failure. */
export type Envelope =
  | { readonly outcome: OutcomeKind; readonly exitCode: number; readonly data: unknown }
  | { readonly outcome: Exclude<OutcomeKind, 'ok'>; readonly exitCode: number; readonly error: ErrorBody };

export interface Streams {
  // Function-typed properties, not methods: streams are passed around detached (`{ out: io.out }`).
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** The real process streams; a last mask of registered secrets on every write, whoever writes. */
export const processStreams: Streams = {
  out: (s) => void process.stdout.write(redact(s)),
  err: (s) => void process.stderr.write(redact(s)),
};

/** The envelope of a command's result (sanitised). */
export function outcomeEnvelope(o: Outcome): Envelope {
  const exitCode = o.exitCode ?? EXIT.OK;
  return { outcome: outcomeFor(exitCode), exitCode, data: sanitizeDeep(o.data ?? null) };
}

/** The envelope of a thrown error (sanitised; never a stack). */
export function errorEnvelope(e: unknown): Envelope {
  const exitCode = exitCodeFor(e);
  const a = e instanceof AiboxError ? e : undefined;
  const error: ErrorBody = {
    code: a?.code ?? 'INTERNAL',
    message: sanitize(describeError(e)),
    ...(a?.hint ? { hint: sanitize(a.hint) } : {}),
    ...(a?.details ? { details: sanitizeDeep(a.details) } : {}),
  };
  const outcome = outcomeFor(exitCode);
  return { outcome: outcome === 'ok' ? 'failed' : outcome, exitCode, error };
}

function printJson(doc: Envelope, io: Streams): void {
  io.out(`${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * The `--json` text of a command's result: `outcomeEnvelope`'s, serialised. A large result (a triage of 25,000
 * findings is 15 MB) is sanitised on its JSON text when that text shows nothing to sanitise, not copied first.
 */
export function outcomeJson(o: Outcome): string {
  const exitCode = o.exitCode ?? EXIT.OK;
  return sanitizedJson({ outcome: outcomeFor(exitCode), exitCode, data: o.data ?? null }, 2);
}

/** Print an outcome in the chosen format. */
export function printOutcome(o: Outcome, json: boolean, io: Streams): void {
  if (json) {
    io.out(`${outcomeJson(o)}\n`);
    return;
  }
  const text = sanitize(o.text);
  if (text) io.out(text.endsWith('\n') ? text : `${text}\n`);
}

/** Print an error: one line (plus hint) on stderr; with --json also the envelope on stdout. */
export function printError(e: unknown, json: boolean, io: Streams, debug = false): number {
  const doc = errorEnvelope(e);
  if (json) printJson(doc, io);
  if (!('error' in doc)) return doc.exitCode;
  // The runbook's exact lines (signature failure, SECURITY UPDATE REQUIRED) are printed as they are.
  io.err(e instanceof AiboxError && e.verbatim ? `${doc.error.message}\n` : `error: ${doc.error.message}\n`);
  if (doc.error.hint) io.err(`hint: ${doc.error.hint}\n`);
  if (debug && e instanceof Error && e.stack) io.err(`${sanitize(e.stack)}\n`);
  return doc.exitCode;
}

export { table } from '../core/table.js';
