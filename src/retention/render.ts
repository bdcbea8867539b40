/**
 * Human output of `aiboxctl retention plan` / `apply` (pure): one row per judged tag (signature and
 * referrers tags are counted with their subject's deletion), a summary per repository, the bytes.
 * `--json` prints the plan itself.
 */
import { table } from '../core/table.js';
import type { ApplyResult } from './apply.js';
import type { RetentionPlan } from './plan.js';

function bytes(n: number): string {
  return n >= 1024 * 1024
    ? `${(n / 1024 / 1024).toFixed(1)} MiB`
    : n >= 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${n} B`;
}

/** The plan as a table: repository, tag, keep/delete, reason, where its age came from. */
export function renderPlan(plan: RetentionPlan): string {
  const rows = plan.tags
    .filter((t) => t.kind !== 'signature' && t.kind !== 'referrers')
    .map((t) => [
      t.repository,
      t.tag,
      t.action === 'delete' ? (t.via === 'tag' ? 'DELETE (tag)' : 'DELETE') : 'keep',
      t.age === 'n/a'
        ? '-'
        : t.age === 'unknown'
          ? 'age unknown'
          : `${t.time?.slice(0, 10) ?? ''} (${t.age})`,
      t.reason.text,
    ]);
  const artifacts = plan.deletions.reduce((s, d) => s + d.artifacts.length, 0);
  const summary = plan.repositories
    .filter((r) => r.tags > 0)
    .map(
      (r) =>
        `  ${r.repository}: ${r.tags} tags, keep ${r.keep}, delete ${r.delete}${r.role === 'staging' ? ' (staging)' : r.role === 'protected' ? ' (never cleaned)' : ''}`,
    );
  return [
    rows.length ? table(['REPOSITORY', 'TAG', 'ACTION', 'AGE FROM', 'REASON'], rows) : '(no tags)',
    '',
    `plan at ${plan.now}:`,
    ...summary,
    `${plan.deletions.length} manifest(s) to delete with ${artifacts} attached artifact(s)${plan.tagDeletions.length ? `, ${plan.tagDeletions.length} tag(s) alone` : ''}; ${bytes(plan.bytes)} of manifests (layer blobs are freed by the registry's garbage collection)`,
  ].join('\n');
}

/** What apply did (or, without --yes, would do). */
export function renderApply(r: ApplyResult): string {
  const count = (s: string) => r.reports.filter((x) => x.status === s).length;
  const head = renderPlan(r.plan);
  if (!r.applied) {
    return `${head}\n\ndry run: nothing was deleted. Run again with --yes to delete ${count('pending')} item(s).`;
  }
  return [
    head,
    '',
    `deleted ${count('deleted')}, already gone ${count('already-gone')}, failed ${count('failed')}`,
    ...r.errors.map((e) => `FAILED ${e.repository}@${e.digest}: ${e.message}`),
    ...(r.errors.length
      ? ['re-run `aiboxctl retention apply --yes`: it re-plans and converges (nothing kept is touched)']
      : []),
  ].join('\n');
}
