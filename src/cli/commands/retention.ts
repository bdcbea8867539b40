/**
 * `aiboxctl retention plan` and `aiboxctl retention apply`: flag mapping, one workflow call, rendering.
 * `retention sync-harbor` (slice harbor) registers itself on the same group (`registerRetentionHarbor`).
 */
import { join } from 'node:path';
import { isRfc3339 } from '../../channel/channel.js';
import { dataDir } from '../../config/load.js';
import { AiboxError } from '../../core/errors.js';
import { acquirePipelineLock } from '../../pipeline/lock.js';
import { newRunId } from '../../pipeline/records.js';
import { applyRetention, buildRetentionPlan, type RetentionDeps } from '../../retention/apply.js';
import { fileRetentionAudit } from '../../retention/audit-file.js';
import { renderApply, renderPlan } from '../../retention/render.js';
import type { Context, RegisterCommands } from '../command.js';
import { EXIT } from '../exit.js';
import { harborTagDeleter, TAG_DELETE_PERMISSIONS } from '../../retention/harbor-admin.js';
import { harborDeps } from '../compose.js';
import { registerRetentionHarbor } from './retention-harbor.js';

function parseNow(s: string | undefined, ctx: Context): Date {
  if (s === undefined) return ctx.now();
  if (!isRfc3339(s)) {
    throw new AiboxError({
      code: 'INVALID_DATE',
      message: `--now must be an RFC 3339 time such as 2026-12-01T04:00:00Z, got ${JSON.stringify(s)}`,
      hint: 'plan as of another moment: aiboxctl retention plan --now 2026-12-01T04:00:00Z',
    });
  }
  return new Date(s);
}

function parseMaxDelete(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,8})$/.test(s)) {
    throw new AiboxError({
      code: 'USAGE',
      message: `--max-delete must be a whole number of tags per repository (0 or more), got ${JSON.stringify(s)}`,
      hint: 'e.g. --max-delete 20 (the default is retention.maxDeletePercent of each repository: 50 %)',
    });
  }
  return Number(s);
}

async function retentionDeps(ctx: Context, now: Date): Promise<RetentionDeps> {
  const { config } = await ctx.config();
  const target = await ctx.target();
  return {
    store: target.client,
    host: target.host,
    project: target.project,
    config: config.retention,
    variants: config.variants,
    now: () => now,
    logger: ctx.logger,
    // On Harbor (the configured scanner is Harbor's, so the target is a Harbor project) a tag can go alone;
    // plain OCI registries delete digests only.
    ...(config.scan.scanner === 'harbor'
      ? {
          deleteTag: harborTagDeleter((await harborDeps(ctx, TAG_DELETE_PERMISSIONS)).harbor, target.project),
        }
      : {}),
  };
}

export const registerRetentionCommands: RegisterCommands = (program, run) => {
  const group = program
    .command('retention')
    .description(
      "keep the registry's tags within the retention rules, never removing what the channel, a floor or a rollback needs",
    )
    .addHelpText('after', '\nExamples:\n  $ aiboxctl retention plan\n  $ aiboxctl retention apply --yes');
  group
    .command('plan')
    .description(
      'every tag with keep/delete and its reason (rule or safety), the digests and artifacts to delete, bytes freed',
    )
    .option('--now <time>', 'plan as of this RFC 3339 time (default: now)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl retention plan\n  $ aiboxctl retention plan --now 2026-12-01T04:00:00Z --json',
    )
    .action(
      run(async (ctx, flags: { now?: string }) => {
        const { plan } = await buildRetentionPlan(await retentionDeps(ctx, parseNow(flags.now, ctx)));
        return { data: plan, text: renderPlan(plan) };
      }),
    );
  group
    .command('apply')
    .description(
      'under the pipeline lock: re-plan, then delete (digest deletes; tags go with their digest), recording each deletion in the audit log; without --yes only shows what it would delete',
    )
    .option('--yes', 'delete (without it: a dry run)', false)
    .option(
      '--max-delete <N>',
      "refuse to delete more than N tags of one repository (default: retention.maxDeletePercent, 50 % of a repository's tags)",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl retention apply                 # dry run\n  $ aiboxctl retention apply --yes --max-delete 40 --json',
    )
    .action(
      run(async (ctx, flags: { yes: boolean; maxDelete?: string }) => {
        const maxDelete = parseMaxDelete(flags.maxDelete);
        const now = ctx.now();
        const deps = await retentionDeps(ctx, now);
        const data = dataDir({ ...ctx.env });
        const runId = newRunId(now);
        const r = await applyRetention(
          {
            ...deps,
            runId,
            audit: fileRetentionAudit(data),
            lock: () => acquirePipelineLock(join(data, 'locks'), `${deps.host}/${deps.project}`, runId, now),
            progress: (line) => ctx.logger.info(line),
          },
          { yes: flags.yes, ...(maxDelete !== undefined ? { maxDelete } : {}) },
        );
        return {
          data: { applied: r.applied, plan: r.plan, reports: r.reports, errors: r.errors },
          text: renderApply(r),
          ...(r.errors.length ? { exitCode: EXIT.FAILURE } : {}),
        };
      }),
    );
  registerRetentionHarbor(group, run);
};
