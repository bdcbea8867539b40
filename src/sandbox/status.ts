/**
 * `aibox status` (issue 10 §5): one view of the developer's sandbox image: the variant, the local image (tag, digest,
 * created), the latest in the channel, the floor and whether it is met, the signature state, the channel's sequence
 * and expiry, the trusted keys, and the running sandboxes. Runs THE preflight (so it says exactly what `check` and
 * `start` would), then reads what the preflight left in the developer state.
 */
import type { AiboxError } from '../core/errors.js';
import { signatureValidLine } from '../signing/messages.js';
import { displayBase, preflight, type PreflightDeps } from './preflight.js';
import { openCachedChannel } from './material.js';
import { currentTrust } from './verified-channel.js';

export interface StatusReport {
  readonly variant: string;
  readonly local: { tag: string; digest: string; created: string; ref: string } | null;
  readonly latest: { tag: string; digest: string; created: string } | null;
  readonly floor: {
    minImageCreated: string;
    cve: string | null;
    cvss: number | null;
    met: boolean | null;
  } | null;
  readonly signature: { state: 'valid' | 'invalid' | 'unknown'; line: string };
  readonly channel: { sequence: number; expiresAt: string; offline: boolean } | null;
  readonly trustedKeys: readonly { name: string; fingerprint: string; notAfter: string | null }[];
  /** Running sandboxes; null when the engine cannot list them. */
  readonly sandboxes: readonly { name: string; image: string }[] | null;
  readonly problem: { kind: string; code: string } | null;
  readonly warnings: readonly string[];
}

export interface StatusDeps extends PreflightDeps {
  readonly listSandboxes?: (() => Promise<readonly { name: string; image: string }[]>) | undefined;
}

/** Gather the status of one variant (never throws for a failed check: that is part of the report). */
export async function sandboxStatus(
  deps: StatusDeps,
  opts: { variant: string; online: boolean },
): Promise<StatusReport> {
  const p = await preflight(deps, opts);
  const state = await deps.state.read();
  const channel = state.channel ? (await openCachedChannel(state.channel)).channel : undefined;
  const entry = channel?.variants[opts.variant];
  const floor = state.floors[opts.variant];
  const image = p.image;
  const error: AiboxError | undefined = p.ok ? undefined : p.error;
  const met = image && floor ? Date.parse(image.created) >= Date.parse(floor.minImageCreated) : null;
  const signature: StatusReport['signature'] = p.ok
    ? {
        state: 'valid',
        line: signatureValidLine({ signer: p.signer, signedAt: p.signedAt ? new Date(p.signedAt) : null }),
      }
    : p.kind === 'signature'
      ? { state: 'invalid', line: `Image signature verification FAILED for ${image?.displayName ?? '?'}` }
      : p.kind === 'floor'
        ? { state: 'valid', line: 'Image signature valid' }
        : { state: 'unknown', line: error?.message.split('\n')[0] ?? 'unknown' };
  return {
    variant: opts.variant,
    local: image ? { tag: image.tag, digest: image.digest, created: image.created, ref: image.ref } : null,
    latest: entry ? { tag: entry.tag, digest: entry.digest, created: entry.created } : null,
    floor: floor
      ? {
          minImageCreated: floor.minImageCreated,
          cve: floor.cve?.id ?? null,
          cvss: floor.cve?.cvss ?? null,
          met,
        }
      : null,
    signature,
    channel: channel
      ? { sequence: channel.sequence, expiresAt: channel.expiresAt, offline: p.ok ? p.offline : !opts.online }
      : null,
    trustedKeys: currentTrust(state, deps.trustedKeys).map((k) => ({
      name: k.name,
      fingerprint: k.publicKey.fingerprint,
      notAfter: k.notAfter?.toISOString() ?? null,
    })),
    sandboxes: deps.listSandboxes ? await deps.listSandboxes() : null,
    problem: p.ok ? null : { kind: p.kind, code: p.error.code },
    warnings: p.ok ? p.warnings : [],
  };
}

/** The human table of a status report. */
export function renderStatus(r: StatusReport): string {
  const name = displayBase(r.variant);
  const rows: [string, string][] = [
    ['Variant', r.variant],
    [
      'Local image',
      r.local ? `${name}:${r.local.tag} ${r.local.digest} (created ${r.local.created})` : 'none',
    ],
    ['Latest in channel', r.latest ? `${name}:${r.latest.tag} ${r.latest.digest}` : '—'],
    [
      'Security floor',
      r.floor
        ? `${r.floor.minImageCreated}${r.floor.cve ? ` (${r.floor.cve}, CVSS ${r.floor.cvss?.toFixed(1) ?? '?'})` : ''}: ${r.floor.met === null ? 'unknown' : r.floor.met ? 'met' : 'NOT MET'}`
        : 'none',
    ],
    ['Signature', r.signature.line],
    [
      'Channel',
      r.channel
        ? `sequence ${r.channel.sequence}, expires ${r.channel.expiresAt}${r.channel.offline ? ' (offline: cached)' : ''}`
        : '—',
    ],
    ['Trusted keys', r.trustedKeys.map((k) => `${k.name} ${k.fingerprint}`).join('; ') || 'none'],
    [
      'Running sandboxes',
      r.sandboxes === null ? '—' : r.sandboxes.map((s) => `${s.name} (${s.image})`).join(', ') || 'none',
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`).join('\n');
}
