/**
 * The exact user-facing lines of runbook §5 ("Verification in `aibox start`"), rendered from a
 * verification result. Pure; `aibox start` prints these verbatim.
 */
import { day } from './trust.js';
import type { VerifiedSignature } from './verify.js';

/** `Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)` */
export function signatureValidLine(v: Pick<VerifiedSignature, 'signer' | 'signedAt'>): string {
  const when = v.signedAt ? `, ${day(v.signedAt)}` : '';
  return `Verifying image signature... valid (signed by ${v.signer}${when})`;
}

/** The three-line ERROR block of runbook §5; `displayName` is e.g. `aibox-base:24.04-20260221`. */
export function signatureFailedMessage(displayName: string): string {
  return [
    `ERROR: Image signature verification failed for ${displayName}.`,
    'This image may have been tampered with. Contact the platform team.',
    "Run 'aibox update' to pull a fresh image from Harbor.",
  ].join('\n');
}

/** The most recent verified signature (by payload timestamp), for the one-line summary. */
export function newestSignature(vs: readonly VerifiedSignature[]): VerifiedSignature | undefined {
  return [...vs].sort((a, b) => (b.signedAt?.getTime() ?? 0) - (a.signedAt?.getTime() ?? 0))[0];
}
