/** `aiboxctl gc schedule|status` (Harbor's GC, runbook §4) and `aiboxctl gc run` (the embedded registry's GC). */
import { join } from 'node:path';
import type { Command } from 'commander';
import { dataDir, embeddedDataDir } from '../../config/load.js';
import { acquirePipelineLock } from '../../pipeline/lock.js';
import { newRunId } from '../../pipeline/records.js';
import { runEmbeddedGc } from '../../registry/gc.js';
import { GC_PERMISSIONS, harborGcStatus, scheduleHarborGc } from '../../retention/harbor-admin.js';
import { DEFAULT_GC_CRON } from '../../retention/harbor-policy.js';
import type { Context, RegisterCommands } from '../command.js';
import { harborDeps } from '../compose.js';
import { EXIT } from '../exit.js';
import { table } from '../output.js';

interface ScheduleFlags {
  cron: string;
  keepUntagged: boolean;
  workers: string;
}

async function scheduleCommand(ctx: Context, flags: ScheduleFlags) {
  const d = await harborDeps(ctx, GC_PERMISSIONS);
  const r = await scheduleHarborGc(d.harbor, {
    cron: flags.cron,
    deleteUntagged: !flags.keepUntagged,
    workers: Number(flags.workers),
  });
  return {
    data: r,
    text: `Harbor GC schedule ${r.method === 'PUT' ? `updated (was ${JSON.stringify(r.previous)})` : 'created'}: "${r.cron}" (UTC), delete_untagged=${r.body.parameters.delete_untagged}, workers=${r.body.parameters.workers}`,
  };
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;

async function statusCommand(ctx: Context) {
  const d = await harborDeps(ctx, GC_PERMISSIONS);
  const s = await harborGcStatus(d.harbor, { project: d.project, now: ctx.now() });
  const last = s.lastSuccess
    ? `${s.lastSuccess.updated || s.lastSuccess.created} (run ${s.lastSuccess.id})`
    : 'never';
  const storage = s.storage
    ? `${gib(s.storage.used)} of ${s.storage.limit ? gib(s.storage.limit) : 'unlimited'}${s.storage.percent !== null ? ` (${s.storage.percent} %)` : ''}`
    : 'unknown (no quota in the project summary)';
  const text = [
    `schedule:             ${s.schedule ? `"${s.schedule.cron}"${s.schedule.next ? `, next ${s.schedule.next}` : ''}` : 'none'}`,
    `last success:         ${last}`,
    `consecutive failures: ${s.consecutiveFailures}`,
    `storage (${d.project}):     ${storage}`,
    '',
    table(
      ['ID', 'STATUS', 'TRIGGER', 'CREATED', 'DRY RUN'],
      s.runs.slice(0, 10).map((r) => [String(r.id), r.status, r.trigger, r.created, r.dryRun ? 'yes' : '']),
    ),
    ...s.alerts.map((a) => `ALERT: ${a}`),
  ].join('\n');
  return { data: s, text, exitCode: s.alerts.length ? EXIT.FAILURE : EXIT.OK };
}

async function runCommand(ctx: Context, flags: { deleteUntagged: boolean; dryRun: boolean }) {
  const loaded = await ctx.config();
  const data = dataDir({ ...ctx.env });
  const runId = newRunId(ctx.now());
  const r = await runEmbeddedGc({
    dataDir: embeddedDataDir(loaded, { ...ctx.env }),
    port: loaded.config.embedded.port,
    project: loaded.config.registry.project,
    exec: ctx.exec,
    logger: ctx.logger,
    lock: (scope) => acquirePipelineLock(join(data, 'locks'), scope, runId, ctx.now()),
    deleteUntagged: flags.deleteUntagged,
    dryRun: flags.dryRun,
  });
  return {
    data: r,
    text: `${r.dryRun ? 'dry run: ' : ''}reclaimed ${r.bytesReclaimed} bytes (${r.bytesBefore} → ${r.bytesAfter})${r.blobsEligible !== null ? `; ${r.blobsEligible} blobs and ${r.manifestsEligible} manifests eligible` : ''}${r.restarted ? `; registry restarted on ${r.host}` : ''}`,
  };
}

export const registerGcCommands: RegisterCommands = (program: Command, run) => {
  const gc = program
    .command('gc')
    .description(
      'garbage collection: Harbor GC schedule and health (runbook §4), or the embedded registry GC',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl gc schedule --cron "0 4 * * 1"   # Harbor\n  $ aiboxctl gc status\n  $ aiboxctl gc run --json                   # embedded registry',
    );
  gc.command('schedule')
    .description(
      "set Harbor's GC schedule (five-field cron in UTC, sent as Harbor's six fields; delete_untagged explicit)",
    )
    .option('--cron <expr>', 'five-field cron, UTC', DEFAULT_GC_CRON)
    .option(
      '--keep-untagged',
      'send delete_untagged=false (default: true, Harbor deletes untagged artifacts)',
      false,
    )
    .option('--workers <n>', 'parallel blob deletion, 1-10', '1')
    .addHelpText('after', '\nExample:\n  $ aiboxctl gc schedule --cron "0 4 * * 1"')
    .action(run((ctx, flags: ScheduleFlags) => scheduleCommand(ctx, flags)));
  gc.command('status')
    .description(
      'GC history: last success, consecutive failures (alert at 2), storage vs project quota (alert > 80 %)',
    )
    .addHelpText('after', '\nExample:\n  $ aiboxctl gc status --json')
    .action(run((ctx) => statusCommand(ctx)));
  gc.command('run')
    .description(
      "the embedded registry's garbage-collect: under the pipeline lock, registry stopped and restarted after; prints bytes reclaimed",
    )
    .option(
      '--delete-untagged',
      'also delete untagged manifests (and with them untagged OCI referrers)',
      false,
    )
    .option('--dry-run', 'report what would be deleted', false)
    .addHelpText('after', '\nExample:\n  $ aiboxctl gc run --json')
    .action(run((ctx, flags: { deleteUntagged: boolean; dryRun: boolean }) => runCommand(ctx, flags)));
};
