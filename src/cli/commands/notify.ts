/** `aiboxctl local-base` and `aiboxctl notify pipeline-failed`: flag mapping and rendering. */
import type { Command } from 'commander';
import { ensureLocalBase } from '../../base/local-base.js';
import { AiboxError } from '../../core/errors.js';
import { Podman } from '../../engine/podman.js';
import { notifierFromConfig } from '../../notify/factory.js';
import { pipelineFailedNotice } from '../../notify/messages.js';
import type { RegisterCommands } from '../command.js';

export const registerNotifyCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('local-base')
    .description(
      "create the local profile base image (Debian 12 via debootstrap from this host's apt archive)",
    )
    .option('--force', 'rebuild even if it exists', false)
    .addHelpText('after', '\nExample:\n  $ aiboxctl --config profiles/local/aibox.yaml local-base')
    .action(
      run(async (ctx, flags: { force: boolean }) => {
        const { config } = await ctx.config();
        const b = await ensureLocalBase({
          engine: new Podman(config.engine, ctx.exec, ctx.logger),
          exec: ctx.exec,
          logger: ctx.logger,
          force: flags.force,
        });
        return {
          data: b,
          text: `${b.reference} (${b.imageId.slice(0, 12)}) ${b.created ? 'created' : 'already present'}`,
        };
      }),
    );

  const notify = program
    .command('notify')
    .description('post notices to the on-call channel (notify.slackWebhook)')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl notify pipeline-failed --run-id 42 --variant base --step scan --reason "…"',
    );
  notify
    .command('pipeline-failed')
    .description('post the failed-pipeline notice (runbook §1 failure handling)')
    .requiredOption('--run-id <id>', 'CI run id')
    .requiredOption('--variant <name>', 'variant (or "all")')
    .requiredOption('--step <step>', 'failed step')
    .requiredOption('--reason <text>', 'one-line reason')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl notify pipeline-failed --run-id 42 --variant base --step scan --reason "CRITICAL CVE-2026-12345"',
    )
    .action(
      run(async (ctx, f: { runId: string; variant: string; step: string; reason: string }) => {
        const { config } = await ctx.config();
        const notifier = notifierFromConfig(config.notify, { logger: ctx.logger });
        if (!notifier) {
          throw new AiboxError({
            code: 'CONFIG_INVALID',
            message: 'notify.slackWebhook is not configured',
            hint: 'Set notify.slackWebhook in the config',
          });
        }
        const notice = pipelineFailedNotice(f);
        await notifier.notify(notice);
        return { data: { posted: true, text: notice.text }, text: 'notice posted' };
      }),
    );
};
