/** Text of `aiboxctl channel repair` (pure: the workflow's plain result in, lines out). */
import type { ChannelRepairRun } from '../pipeline/channel-repair.js';

/** What the repair found, what it publishes (or published), one fact per line. */
export function renderRepair(r: ChannelRepairRun): string {
  const p = r.plan;
  const cur =
    p.current.state === 'absent'
      ? 'absent'
      : p.current.state === 'verified'
        ? `sequence ${p.current.sequence} (${p.current.digest}), signature valid`
        : `${p.current.digest}: NOT TRUSTED: ${p.current.reason}`;
  const lines = [
    `channel:        ${r.channel}`,
    `current:        ${cur}`,
    `last published: ${p.last ? `sequence ${p.last.sequence} (${p.last.digest}, ${p.last.source})` : 'unknown'}`,
    `from:           sequence ${p.from.sequence} (${p.from.digest}, ${p.from.source === 'history' ? `history seq-${p.from.sequence}` : 'current'}), signature valid`,
    `publishes:      sequence ${p.next.sequence}, expires ${p.next.expiresAt}, variants ${Object.keys(p.next.variants).sort().join(', ')}`,
    ...Object.entries(p.next.variants)
      .sort(([a], [b]) => (a < b ? -1 : 1)) // keys are unique: code-unit order, as `.sort()` on the keys
      .map(([name, v]) => {
        const floor = v.minImageCreated
          ? `${v.mandatoryUpdate ? 'mandatory' : 'advisory'} >= ${v.minImageDate}`
          : '-';
        return `  ${name}  ${v.tag}  ${v.digest}  floor ${floor}`;
      }),
    ...p.skipped.map((s) => `skipped history entry ${s}`),
    r.published
      ? `published channel sequence ${r.published.sequence} (${r.published.digest}); current and seq-${r.published.sequence} point at it`
      : 'dry run: nothing published; re-run with --yes to publish it',
  ];
  return lines.join('\n');
}
