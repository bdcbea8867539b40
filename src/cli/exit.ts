/**
 * Exit codes and outcomes are decided here only, from the error code (docs/exit-codes.md).
 * `outcomeFor` names the class of an exit code for the `--json` envelope: "refused" means the command
 * worked and the answer is no (a policy gate, 3; no or no matching signature, 10 and 12); "failed"
 * means it could not do its job (1, 2, and 11: the image tag to check does not exist).
 */
import { AiboxError, type ErrorCode } from '../core/errors.js';

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  POLICY: 3,
  NO_SIGNATURES: 10,
  IMAGE_TAG_NOT_FOUND: 11,
  NO_MATCHING_SIGNATURE: 12,
} as const;

export type ExitName = keyof typeof EXIT;

/** What each exit code means, for --help, docs/exit-codes.md and the README (scripts/gen-docs.mjs). */
export const EXIT_MEANING: Readonly<Record<ExitName, string>> = {
  OK: 'success',
  FAILURE: 'failure (registry, engine, I/O)',
  USAGE: 'usage or configuration error',
  POLICY: 'refused by policy',
  NO_SIGNATURES: 'no signatures found (as cosign)',
  IMAGE_TAG_NOT_FOUND: 'image tag not found (as cosign)',
  NO_MATCHING_SIGNATURE: 'no matching signature (as cosign)',
};

/** The exit code of every error code that does not exit 1 (everything else is EXIT.FAILURE). */
export const EXIT_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  USAGE: EXIT.USAGE,
  INVALID_REFERENCE: EXIT.USAGE,
  INVALID_TAG: EXIT.USAGE,
  INVALID_DIGEST: EXIT.USAGE,
  INVALID_DATE: EXIT.USAGE,
  CONFIG_INVALID: EXIT.USAGE,
  CONFIG_NOT_FOUND: EXIT.USAGE,
  POLICY_REFUSED: EXIT.POLICY,
  NO_SIGNATURES: EXIT.NO_SIGNATURES,
  IMAGE_TAG_NOT_FOUND: EXIT.IMAGE_TAG_NOT_FOUND,
  NO_MATCHING_SIGNATURE: EXIT.NO_MATCHING_SIGNATURE,
};

/** Map any thrown value to a process exit code. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof AiboxError) return EXIT_BY_CODE[e.code] ?? EXIT.FAILURE;
  return EXIT.FAILURE;
}

export type OutcomeKind = 'ok' | 'failed' | 'refused';

const REFUSED: ReadonlySet<number> = new Set([EXIT.POLICY, EXIT.NO_SIGNATURES, EXIT.NO_MATCHING_SIGNATURE]);

/** The `outcome` of the --json envelope for an exit code. */
export function outcomeFor(exitCode: number): OutcomeKind {
  if (exitCode === EXIT.OK) return 'ok';
  return REFUSED.has(exitCode) ? 'refused' : 'failed';
}
