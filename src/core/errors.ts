/**
 * One error type for the whole project. `code` is a closed union so the CLI can map it to an
 * exit code in one place (src/cli/exit.ts); `hint` tells the user what to do next.
 */
export type ErrorCode =
  // usage / configuration (exit 2)
  | 'USAGE'
  | 'INVALID_REFERENCE'
  | 'INVALID_TAG'
  | 'INVALID_DIGEST'
  // a date given as a flag, argument or API value is not a calendar date (config files: CONFIG_INVALID)
  | 'INVALID_DATE'
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  // policy refusal (exit 3)
  | 'POLICY_REFUSED'
  // signature errors, numbered as cosign numbers them (exit 10, 11, 12)
  | 'NO_SIGNATURES'
  // the image tag itself does not exist (cosign's exit 11, "image tag not found")
  | 'IMAGE_TAG_NOT_FOUND'
  | 'NO_MATCHING_SIGNATURE'
  // everything else (exit 1)
  | 'REGISTRY_UNREACHABLE'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_ERROR'
  | 'NOT_FOUND'
  | 'DIGEST_MISMATCH'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_TOO_LARGE'
  | 'TOOL_MISSING'
  | 'PROCESS_FAILED'
  | 'KEY_INVALID'
  | 'KEY_PASSWORD'
  | 'TIMEOUT'
  | 'PORT_IN_USE'
  // a file could not be written or read (permissions, disk), or a target path is unsafe (symlink)
  | 'IO_FAILED'
  | 'UNSAFE_PATH'
  // HashiCorp Vault (key source): not reachable, refused the token, or answered something unusable
  | 'VAULT_UNREACHABLE'
  | 'VAULT_REFUSED'
  | 'VAULT_ERROR'
  // vulnerability scan could not produce a trustworthy report (the gate fails closed)
  | 'SCAN_FAILED'
  // a notice (Slack) could not be delivered
  | 'NOTIFY_FAILED'
  // the signed release-channel document is malformed, or failed a freshness/rollback check
  | 'CHANNEL_INVALID'
  | 'CHANNEL_REJECTED'
  // the signed CVE records artifact is malformed, unsigned or signed by an untrusted key
  | 'CVE_RECORDS_INVALID'
  | 'LOCKED'
  | 'INTERNAL';

export interface AiboxErrorOptions {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
  readonly cause?: unknown;
  /** Structured facts for --json output (never secrets). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class AiboxError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(opts: AiboxErrorOptions) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AiboxError';
    this.code = opts.code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** Narrowing helper for catch blocks (`catch (e: unknown)`). */
export function isAiboxError(e: unknown, code?: ErrorCode): e is AiboxError {
  return e instanceof AiboxError && (code === undefined || e.code === code);
}

/** For states the code believes impossible: fails loudly instead of continuing with bad data. */
export function internalError(message: string, cause?: unknown): never {
  throw new AiboxError({ code: 'INTERNAL', message, cause });
}

/** A short, single-line description of any thrown value, for error chains. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const code = (e as { code?: unknown }).code;
    const own =
      typeof code === 'string' && !e.message.includes(code) && !(e instanceof AiboxError)
        ? `${e.message} (${code})`
        : e.message;
    if (cause !== undefined && cause !== e) {
      const inner = describeError(cause);
      if (inner && !own.includes(inner)) return `${own}: ${inner}`;
    }
    return own;
  }
  return String(e);
}
