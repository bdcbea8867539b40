/** `aiboxctl rebuild` (runbook §1 as one command) and `aiboxctl promote` (CI fan-in): flag mapping and rendering. */
import type { Command } from 'commander';
import { renderTable } from '../../pipeline/progress.js';
import { failureLine } from '../../pipeline/record.js';
import { runPromote, runRebuild } from '../../pipeline/run.js';
import type { Context, RegisterCommands } from '../command.js';
import { runDeps } from '../compose.js';
import { EXIT } from '../exit.js';
import { table } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface RebuildFlags {
  date?: string;
  variant: string[];
  promote: boolean;
  replace: boolean;
  allowUnscanned: boolean;
  key?: string;
  revision?: string;
}

async function rebuildCommand(ctx: Context, flags: RebuildFlags) {
  const run = await runRebuild(await runDeps(ctx, flags.key), {
    date: flags.date,
    variants: flags.variant,
    promote: flags.promote,
    replace: flags.replace,
    allowUnscanned: flags.allowUnscanned,
    revision: flags.revision ?? ctx.env.GITHUB_SHA ?? ctx.env.CI_COMMIT_SHA ?? 'unknown',
  });
  const r = run.record;
  const promoted = r.promoted
    ? `, latest promoted, channel sequence ${r.channel?.sequence}`
    : flags.promote
      ? ''
      : ' (not promoted: --no-promote)';
  const fail = failureLine(r);
  // What to do next (CVE triage, --replace) must be seen by a person reading the log; FAILED stays last.
  const lines = [
    renderTable(r),
    '',
    `run ${r.runId}: ${r.result}${promoted}`,
    `record: ${run.recordPath}`,
    ...run.hints.map((h) => `hint (${h.variant}): ${h.hint}`),
    ...(fail ? [fail] : []),
  ];
  return { data: r, text: lines.join('\n'), exitCode: r.result === 'success' ? EXIT.OK : EXIT.FAILURE };
}

interface PromoteFlags {
  date?: string;
  variant: string[];
  key?: string;
  allowUnscanned: boolean;
}

async function promoteCommand(ctx: Context, flags: PromoteFlags) {
  const pr = await runPromote(await runDeps(ctx, flags.key), {
    date: flags.date,
    variants: flags.variant,
    allowUnscanned: flags.allowUnscanned,
  });
  return {
    data: {
      date: pr.date,
      promoted: pr.variants,
      channel: { sequence: pr.channel.sequence, digest: pr.channel.digest },
      ...(pr.completed !== undefined ? { completed: pr.completed } : {}),
    },
    text: [
      ...(pr.completed !== undefined
        ? [`completed the interrupted promotion of channel sequence ${pr.completed} first`]
        : []),
      table(
        ['VARIANT', 'TAG', 'DIGEST'],
        Object.entries(pr.variants).map(([v, x]) => [v, x.tag, x.digest]),
      ),
      `latest promoted; channel sequence ${pr.channel.sequence} (${pr.channel.digest})`,
    ].join('\n'),
  };
}

export const registerRebuildCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('rebuild')
    .description(
      'the weekly pipeline: build, scan, stage, tag, sign and verify every variant, then promote latest and publish the channel',
    )
    .option('--date <YYYY-MM-DD>', 'date of the tags (default: today, UTC)')
    .option(
      '--variant <name>',
      'only this variant (repeatable); its base variant must be published for the date',
      collect,
      [],
    )
    .option('--no-promote', 'do not move latest (CI fan-out; run `aiboxctl promote` after)')
    .option('--replace', 'overwrite an existing date tag that holds another image', false)
    .option(
      '--allow-unscanned',
      'allow scan.scanner: none (local use only; images are labelled dev.aibox.scan=skipped)',
      false,
    )
    .option('--key <key>', 'signing key: file, env://VAR or vault://… (default: signing.key)')
    .option('--revision <rev>', 'source revision label (default: $GITHUB_SHA or $CI_COMMIT_SHA)')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl rebuild                                   # all variants for today, then promote
  $ aiboxctl rebuild --variant java --date 2026-02-22 --no-promote
  $ COSIGN_PASSWORD=… aiboxctl --config profiles/local/aibox.yaml rebuild --allow-unscanned --key cosign.key`,
    )
    .action(run((ctx, flags: RebuildFlags) => rebuildCommand(ctx, flags)));

  program
    .command('promote')
    .description(
      'check every variant of a date (present, signed by a trusted key, scanned), then move latest and publish the signed channel',
    )
    .option('--date <YYYY-MM-DD>', 'date of the tags to promote (default: today, UTC)')
    .option('--variant <name>', 'only these variants (repeatable)', collect, [])
    .option('--key <key>', 'signing key for the channel (default: signing.key)')
    .option(
      '--allow-unscanned',
      'promote images whose signature records no passed scan (recorded in the channel entry)',
      false,
    )
    .addHelpText('after', '\nExample:\n  $ aiboxctl promote --date 2026-02-22')
    .action(run((ctx, flags: PromoteFlags) => promoteCommand(ctx, flags)));
};
