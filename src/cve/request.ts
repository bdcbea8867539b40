/**
 * The input of `aiboxctl cve rebuild`, checked before anything starts (pure): CVE ids, the CVSS score, package
 * names and variants. Each bad value is a USAGE error naming it; nothing is built, published or floored.
 */
import { AiboxError } from '../core/errors.js';

export interface EmergencyInput {
  /** Upper-case CVE ids, in the order given, without duplicates. */
  readonly cves: readonly string[];
  /** The operator's CVSS score for the named CVEs, when given (else each CVE's score from the scan). */
  readonly cvss: number | undefined;
  readonly packages: readonly string[];
  readonly variants: readonly string[];
}

const CVE_RE = /^CVE-\d{4}-\d{4,19}$/i;
const CVSS_RE = /^(?:10(?:\.0+)?|\d(?:\.\d+)?)$/;
/** Debian policy §5.6.1: lower case letters, digits, + - . ; at least two characters, starting alphanumeric. */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]{1,127}$/;

function usage(message: string, hint: string, details?: Record<string, unknown>): AiboxError {
  return new AiboxError({ code: 'USAGE', message, hint, ...(details ? { details } : {}) });
}

/** A CVE id as typed (any case) → upper case; throws USAGE naming it. */
export function parseCveId(text: string): string {
  const t = text.trim();
  if (!CVE_RE.test(t)) {
    throw usage(
      `invalid --cve "${text}": a CVE id is CVE-YYYY-NNNN (a year and 4 to 19 digits)`,
      'Example: --cve CVE-2026-12345',
      { cve: text },
    );
  }
  return t.toUpperCase();
}

/** A CVSS base score as typed: a number from 0.0 to 10.0; throws USAGE naming it. */
export function parseCvss(text: string | number): number {
  const t = typeof text === 'number' ? String(text) : text.trim();
  const n = Number(t);
  if (!CVSS_RE.test(t) || !Number.isFinite(n) || n < 0 || n > 10) {
    throw usage(
      `invalid --cvss "${String(text)}": a CVSS score is a number from 0.0 to 10.0`,
      'Example: --cvss 9.8 (the NVD base score of the CVE)',
      { cvss: String(text) },
    );
  }
  return Math.round(n * 10) / 10;
}

/** A Debian package name; throws USAGE naming it. */
export function parsePackage(text: string): string {
  if (!PACKAGE_RE.test(text)) {
    throw usage(
      `invalid --package "${text}": a Debian package name is lower-case letters, digits, "+", "-" and "."`,
      'Example: --package openssl --package libssl3t64',
      { package: text },
    );
  }
  return text;
}

/** Check every flag of `cve rebuild` against the configured variants. */
export function parseEmergencyInput(
  flags: {
    readonly cves: readonly string[];
    readonly cvss?: string | number | undefined;
    readonly packages: readonly string[];
    readonly variants: readonly string[];
  },
  configured: readonly string[],
): EmergencyInput {
  if (flags.cves.length === 0) {
    throw usage('cve rebuild needs at least one --cve', 'Example: aiboxctl cve rebuild --cve CVE-2026-12345');
  }
  const cves = [...new Set(flags.cves.map(parseCveId))];
  const packages = [...new Set(flags.packages.map(parsePackage))];
  for (const v of flags.variants) {
    if (!configured.includes(v)) {
      throw usage(
        `unknown variant "${v}" (allowed: ${configured.join(', ')})`,
        'Variants come from the "variants" map of the config file',
        { variant: v },
      );
    }
  }
  return {
    cves,
    cvss: flags.cvss === undefined ? undefined : parseCvss(flags.cvss),
    packages,
    variants: [...new Set(flags.variants)],
  };
}
