/**
 * `aiboxctl retention sync-harbor`: Harbor-native retention (issue 11 item 3). Registered on slice `retention`'s
 * `retention` group by `registerRetentionHarbor(group, run)`; `registerRetentionHarborCommands` makes that group on
 * its own until the lead wires the two together.
 */
import type { Command } from 'commander';
import { RETENTION_PERMISSIONS, runSyncHarbor } from '../../retention/harbor-admin.js';
import { DEFAULT_RETENTION_CRON, RUNBOOK_RETENTION_RULES } from '../../retention/harbor-policy.js';
import type { Context, RegisterCommands, Run } from '../command.js';
import { harborDeps } from '../compose.js';

async function syncHarborCommand(ctx: Context, flags: { yes: boolean; cron?: string }) {
  const d = await harborDeps(ctx, RETENTION_PERMISSIONS);
  const r = await runSyncHarbor(d, {
    // The runbook's rules until the retention config section (slice retention) lands; then config.retention.rules.
    rules: RUNBOOK_RETENTION_RULES,
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

/** A `retention` group holding only `sync-harbor` (until slice retention's group exists). */
export const registerRetentionHarborCommands: RegisterCommands = (program, run) => {
  const existing = program.commands.find((c) => c.name() === 'retention');
  registerRetentionHarbor(
    existing ?? program.command('retention').description('retention of date tags'),
    run,
  );
};
