/**
 * Text rendering of a channel for `aiboxctl channel show` (pure: values in, string out).
 */
import { checkChannel, type Channel } from './channel.js';

export interface RenderChannelOptions {
  readonly now: Date | number;
  /** Manifest digest of the channel artifact, when known. */
  readonly digest?: string;
  /** Where it was read from, e.g. harbor.internal/aibox/channel:current. */
  readonly location?: string;
  /** Whether the channel's signature verified with the trusted keys: never "valid" without it. */
  readonly signatureValid: boolean;
}

function pad(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function daysBetween(from: number, to: number): string {
  const d = (to - from) / 86_400_000;
  const abs = Math.abs(d);
  const text = abs < 1 ? `${Math.round(abs * 24)} h` : `${Math.floor(abs)} d`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** Human-readable summary: header, validity, one row per variant with its security floor. */
export function renderChannel(channel: Channel, opts: RenderChannelOptions): string {
  const now = typeof opts.now === 'number' ? opts.now : opts.now.getTime();
  const lines: string[] = [];
  if (opts.location) lines.push(`Channel:   ${opts.location}`);
  if (opts.digest) lines.push(`Digest:    ${opts.digest}`);
  lines.push(`Sequence:  ${channel.sequence}`);
  lines.push(`Issued:    ${channel.issuedAt}`);
  const expires = Date.parse(channel.expiresAt);
  lines.push(
    `Expires:   ${channel.expiresAt} (${expires > now ? daysBetween(now, expires) : `EXPIRED ${daysBetween(now, expires)}`})`,
  );
  const check = checkChannel(channel, { now });
  const problems = [
    ...(opts.signatureValid ? [] : ['SIGNATURE_INVALID']),
    ...(check.ok ? [] : check.problems.map((p) => p.code)),
  ];
  lines.push(`Status:    ${problems.length === 0 ? 'valid' : problems.join(', ')}`);
  lines.push('');
  const rows: string[][] = [['VARIANT', 'TAG', 'DIGEST', 'CREATED', 'SECURITY FLOOR']];
  for (const name of Object.keys(channel.variants).sort()) {
    const v = channel.variants[name];
    if (!v) continue;
    let floor = '-';
    if (v.minImageCreated !== null) {
      floor = `${v.mandatoryUpdate ? 'mandatory' : 'advisory'} >= ${v.minImageDate}`;
      if (v.cve) floor += ` (${v.cve.id}, CVSS ${v.cve.cvss.toFixed(1)})`;
    }
    rows.push([name, v.tag, v.digest.slice(0, 19), v.created, floor]);
  }
  lines.push(...pad(rows));
  // Key announcements (docs/keys.md): what clients add and retire when they next apply this channel.
  const keys = channel.keys;
  if (keys) {
    lines.push('');
    for (const k of keys.add) {
      lines.push(
        `Key added:   ${k.keyId} (${k.name}) from ${k.notBefore}${k.notAfter ? ` until ${k.notAfter}` : ''}`,
      );
    }
    for (const k of keys.retire) lines.push(`Key retired: ${k.keyId} from ${k.effective}`);
  }
  return `${lines.join('\n')}\n`;
}
