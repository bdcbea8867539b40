/**
 * The runbook's tag scheme (pure): `<prefix>-YYYYMMDD` weekly builds, `<prefix>-YYYYMMDD-cve-<id>`
 * emergency builds, `latest`, and the cosign/referrers tags that live next to them.
 */
import { AiboxError } from '../core/errors.js';
import { invalidDate, isCalendarDay } from '../core/dates.js';
import { TAG_PATTERN } from '../oci/reference.js';

export interface ParsedTag {
  /** build date, YYYY-MM-DD */
  readonly date: string;
  /** upper-case CVE id for emergency builds, e.g. CVE-2026-12345 */
  readonly cve?: string;
}

export type TagKind = 'latest' | 'weekly' | 'emergency' | 'signature' | 'referrers' | 'other';

/** Anything with a display name (a VariantConfig) or a bare variant name. */
export type VariantLike = string | { readonly displayName: string };

const CVE = /^CVE-(\d{4})-(\d{4,})$/i;
const SIGNATURE = /^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/;
const REFERRERS = /^sha256-[0-9a-f]{64}$/;
const TAG = TAG_PATTERN;

function invalid(message: string, hint: string, details: Record<string, unknown>): AiboxError {
  return new AiboxError({ code: 'INVALID_TAG', message, hint, details });
}

/** A real calendar day with a four-digit year (rejects 2026-02-30). */
function isRealDate(y: number, m: number, d: number): boolean {
  return y >= 1000 && isCalendarDay(y, m, d);
}

/** Normalise a build date given as 'YYYY-MM-DD' or a Date (UTC day) to 'YYYY-MM-DD'; throws INVALID_DATE. */
export function toDateString(date: string | Date): string {
  if (date instanceof Date) {
    if (Number.isNaN(date.getTime())) throw invalidDate('Invalid Date', 'build date');
    const s = date.toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) throw invalidDate(s, 'build date', 'a year 1000-9999');
    return s;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw invalidDate(date, 'build date');
  return date;
}

/** Normalise a CVE id (any case) to upper case; throws INVALID_TAG naming the rule. */
export function normalizeCve(cve: string): string {
  if (!CVE.test(cve)) {
    throw invalid(
      `invalid CVE id "${cve}": must match CVE-YYYY-NNNN (4 or more digits)`,
      'Example: CVE-2026-12345',
      {
        cve,
      },
    );
  }
  return cve.toUpperCase();
}

/** Build the tag for a variant build: `24.04-20260221`, or `24.04-20260221-cve-2026-12345` for an emergency build. */
export function formatTag(opts: {
  readonly prefix: string;
  readonly date: string | Date;
  readonly cve?: string | undefined;
}): string {
  const day = toDateString(opts.date).replaceAll('-', '');
  const suffix = opts.cve === undefined ? '' : `-cve-${normalizeCve(opts.cve).slice(4).toLowerCase()}`;
  const tag = `${opts.prefix}-${day}${suffix}`;
  if (!TAG.test(tag)) {
    throw invalid(
      `invalid tag "${tag}": tags are 1-128 characters [A-Za-z0-9_.-], not starting with . or -`,
      'Fix the variant tagPrefix in the aibox config',
      { tag },
    );
  }
  return tag;
}

/** Read a variant tag back into its date (and CVE); throws INVALID_TAG naming the broken rule. */
export function parseTag(tag: string, prefix: string): ParsedTag {
  if (!tag.startsWith(`${prefix}-`)) {
    throw invalid(
      `invalid tag "${tag}": must start with "${prefix}-"`,
      `Tags of this variant look like ${prefix}-YYYYMMDD`,
      {
        tag,
        prefix,
      },
    );
  }
  const rest = tag.slice(prefix.length + 1);
  const [, digits, suffix] = /^(\d{8})(?:-(.*))?$/.exec(rest) ?? [];
  if (digits === undefined) {
    throw invalid(
      `invalid tag "${tag}": "${prefix}-" must be followed by a date YYYYMMDD`,
      `Example: ${prefix}-20260221`,
      {
        tag,
        prefix,
      },
    );
  }
  const date = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  if (!isRealDate(Number(digits.slice(0, 4)), Number(digits.slice(4, 6)), Number(digits.slice(6, 8)))) {
    throw invalid(`invalid tag "${tag}": ${digits} is not a calendar date`, `Example: ${prefix}-20260221`, {
      tag,
      prefix,
    });
  }
  if (suffix === undefined) return { date };
  const cm = /^cve-(\d{4}-\d{4,})$/.exec(suffix);
  if (!cm) {
    throw invalid(
      `invalid tag "${tag}": an emergency suffix must be "-cve-" and a lower-case CVE id (cve-YYYY-NNNN)`,
      `Example: ${prefix}-${digits}-cve-2026-12345`,
      { tag, prefix },
    );
  }
  return { date, cve: `CVE-${cm[1]}` };
}

/** Sort a repository's tags into what retention and update logic cares about. */
export function classifyTag(tag: string, prefix: string): TagKind {
  if (tag === 'latest') return 'latest';
  if (SIGNATURE.test(tag)) return 'signature';
  if (REFERRERS.test(tag)) return 'referrers';
  try {
    return parseTag(tag, prefix).cve === undefined ? 'weekly' : 'emergency';
  } catch {
    return 'other';
  }
}

/** Order two parsed tags: by date, then a weekly build before same-day emergency builds (then by CVE id). */
export function compareParsed(a: ParsedTag, b: ParsedTag): number {
  if (a.date !== b.date) return a.date < b.date ? -1 : 1;
  if ((a.cve === undefined) !== (b.cve === undefined)) return a.cve === undefined ? -1 : 1;
  return (a.cve ?? '').localeCompare(b.cve ?? '', 'en', { numeric: true });
}

/** Order two tags of one variant oldest → newest (for sort); throws INVALID_TAG for tags outside the scheme. */
export function compareTags(a: string, b: string, prefix: string): number {
  return compareParsed(parseTag(a, prefix), parseTag(b, prefix)) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The newest weekly/emergency tag among a repository's tags (others are ignored), for `aibox update`. */
export function newestTag(tags: readonly string[], prefix: string): string | undefined {
  let best: { tag: string; parsed: ParsedTag } | undefined;
  for (const tag of tags) {
    const kind = classifyTag(tag, prefix);
    if (kind !== 'weekly' && kind !== 'emergency') continue;
    const parsed = parseTag(tag, prefix);
    if (!best || compareParsed(parsed, best.parsed) > 0) best = { tag, parsed };
  }
  return best?.tag;
}

/** Human name of a variant image, as the runbook prints it: `aibox-base:24.04-20260221`. */
export function displayName(variant: VariantLike, tag: string): string {
  const name = typeof variant === 'string' ? `aibox-${variant}` : variant.displayName;
  return `${name}:${tag}`;
}

/** Repository path of a variant inside the registry: `aibox/base` (prefix with the host for a full reference). */
export function repositoryFor(project: string, variant: string): string {
  return `${project}/${variant}`;
}
