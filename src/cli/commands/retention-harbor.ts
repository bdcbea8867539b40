/**
 * `aiboxctl retention sync-harbor`: Harbor-native retention (issue 11 item 3), registered on the `retention` group
 * (src/cli/commands/retention.ts) by `registerRetentionHarbor(group, run)`.
 */
import type { Command } from 'commander';
import { RETENTION_PERMISSIONS, runSyncHarbor } from '../../retention/harbor-admin.js';
import { DEFAULT_RETENTION_CRON } from '../../retention/harbor-policy.js';
import type { Context, Run } from '../command.js';
import { harborDeps } from '../compose.js';

async function syncHarborCommand(ctx: Context, flags: { yes: boolean; cron?: string }) {
  const d = await harborDeps(ctx, RETENTION_PERMISSIONS);
  const r = await runSyncHarbor(d, {
    rules: d.config.retention.rules,
    neverDelete: d.config.retention.excludes,
    keepChannelSequences: d.config.retention.keepChannelSequences,
    repositories: Object.keys(d.config.variants),
    cron: flags.cron ?? DEFAULT_RETENTION_CRON,
    apply: flags.yes,
  });
  const head =
    r.status === 'unchanged'
      ? `Harbor retention policy ${r.policyId} of project ${r.project} already matches the config`
      : r.status === 'pending'
        ? `Harbor retention policy of project ${r.project} would change (${r.action}; dry run: add --yes to apply):`
        : `Harbor retention policy ${r.policyId ?? '?'} of project ${r.project}: ${r.action === 'create' ? 'created' : 'updated'}:`;
  const pins = r.pinnedTags.length ? [`pinned (current channel): ${r.pinnedTags.join(', ')}`] : [];
  return {
    data: {
      project: r.project,
      policyId: r.policyId,
      action: r.action,
      status: r.status,
      diff: r.diff.lines,
      pinnedTags: r.pinnedTags,
      policy: r.policy,
    },
    text: [head, ...r.diff.lines.map((l) => `  ${l}`), ...pins].join('\n'),
  };
}

/** Add `sync-harbor` to the `retention` command group. */
export function registerRetentionHarbor(group: Command, run: Run): void {
  group
    .command('sync-harbor')
    .description(
      "create or update the Harbor project's retention policy to match the retention config (rule templates, doublestar selectors, scope: the variant repositories only, schedule); shows the diff first",
    )
    .option('--yes', 'write the policy (without it: only show the diff)', false)
    .option(
      '--cron <expr>',
      `five-field cron, UTC, for Harbor's retention run (default "${DEFAULT_RETENTION_CRON}")`,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl retention sync-harbor            # show the diff\n  $ aiboxctl retention sync-harbor --yes --json',
    )
    .action(run((ctx, flags: { yes: boolean; cron?: string }) => syncHarborCommand(ctx, flags)));
}
