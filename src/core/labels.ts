/**
 * Every label and annotation key aibox reads or writes, in one place. Our own keys live in one
 * namespace, `dev.aibox.*` (already in signed payloads, channel manifests and Containerfiles); the
 * others are the OCI image-spec's pre-defined annotation keys
 * (https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md).
 */
export const LABELS = {
  // OCI pre-defined annotation keys
  created: 'org.opencontainers.image.created',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
  title: 'org.opencontainers.image.title',
  // aibox: image metadata written by the pipeline
  variant: 'dev.aibox.variant',
  mandatoryUpdate: 'dev.aibox.mandatory-update',
  minImageDate: 'dev.aibox.min-image-date',
  /** The precise floor (RFC 3339): the `created` of the first image that fixed the CVE behind the floor. */
  minImageCreated: 'dev.aibox.min-image-created',
  /** The CVEs this image fixes, with their CVSS: `CVE-2026-12345:9.8,CVE-2026-23456:7.5` (see formatSecurityFixes). */
  securityFixes: 'dev.aibox.security-fixes',
  /** Emergency (targeted) builds: the digest of the variant's image the patch was applied on (`FROM` it). */
  patchedFrom: 'dev.aibox.patched-from',
  inputs: 'dev.aibox.inputs',
  /** Scan result recorded on the image and in the signed payload: `passed` or `skipped`. */
  scan: 'dev.aibox.scan',
  // aibox: everything we create carries these, so one filter finds it (and cleans up)
  managed: 'dev.aibox.managed',
  runId: 'dev.aibox.run-id',
  localBase: 'dev.aibox.local-base',
  // aibox: channel artifact manifest annotations
  channelSequence: 'dev.aibox.channel.sequence',
  channelExpires: 'dev.aibox.channel.expires',
} as const;

export type LabelKey = (typeof LABELS)[keyof typeof LABELS];

/** One CVE an image fixes, as carried in `dev.aibox.security-fixes`. */
export interface SecurityFix {
  readonly id: string;
  readonly cvss: number;
}

const FIX_RE = /^(CVE-\d{4}-\d{4,19}):(10(?:\.0)?|\d(?:\.\d)?)$/;

/** `dev.aibox.security-fixes` value: `ID:CVSS` pairs joined by commas, highest score first. */
export function formatSecurityFixes(fixes: readonly SecurityFix[]): string {
  return [...fixes]
    .sort((a, b) => b.cvss - a.cvss || a.id.localeCompare(b.id))
    .map((f) => `${f.id}:${f.cvss.toFixed(1)}`)
    .join(',');
}

/** Parse a `dev.aibox.security-fixes` value (untrusted label text); malformed items are dropped. */
export function parseSecurityFixes(value: string | undefined): SecurityFix[] {
  if (!value || value.length > 8192) return [];
  const out: SecurityFix[] = [];
  for (const item of value.split(',')) {
    const m = FIX_RE.exec(item.trim());
    if (m) out.push({ id: m[1] as string, cvss: Number(m[2]) });
  }
  return out;
}
