/** Text of `aiboxctl keys rotate --new-key` (pure: the workflow's plain result in, lines out). */
import type { KeyRotationRun } from '../pipeline/rotate.js';

/** What the rotation announces, re-signs and publishes (or would), one fact per line. */
export function renderRotation(r: KeyRotationRun): string {
  const lines = [
    `channel:   ${r.channel} (sequence ${r.base.sequence}, ${r.base.digest})`,
    `mode:      ${r.mode === 'compromised' ? 'COMPROMISED: the old key is retired now' : 'planned rotation'}`,
    `old key:   ${r.oldKey}`,
    `new key:   ${r.newKey.fingerprint} (${r.newKey.name})`,
    ...r.keys.add.map(
      (a) =>
        `announces: ${a.keyId} (${a.name}) trusted from ${a.notBefore}${a.notAfter ? ` until ${a.notAfter}` : ''}`,
    ),
    ...r.keys.retire.map((x) => `retires:   ${x.keyId} from ${x.effective}`),
    ...r.unknownAnnounced.map(
      (id) => `WARNING: the channel announced ${id}, a key this platform does not trust`,
    ),
    ...r.resign.map(
      (x) =>
        `re-sign:   ${x.variant}  ${x.image}  ${x.status === 'pending' ? 'to be signed with the new key' : x.status}${x.reason ? ` (${x.reason})` : ''}`,
    ),
  ];
  if (r.alreadyCurrent) {
    lines.push(`nothing to publish: sequence ${r.base.sequence} already announces this rotation`);
  } else if (r.published) {
    lines.push(
      `published channel sequence ${r.published.sequence} (${r.published.digest}), signed by the old and the new key; developer machines apply it on their next 'aibox check'`,
    );
  } else if (r.next) {
    lines.push(
      `dry run: nothing signed or published; re-run with --yes to publish sequence ${r.next.sequence}`,
    );
  }
  return lines.join('\n');
}
