/** `aiboxctl rollback` (runbook §6) and `aiboxctl rollback --list`: flag mapping and rendering. */
import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { listRollbackCandidates, runRollback, type RollbackRun } from '../../pipeline/rollback.js';
import type { Context, RegisterCommands } from '../command.js';
import { runDeps } from '../compose.js';
import { table } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface RollbackFlags {
  to?: string;
  list: boolean;
  variant: string[];
  reason?: string;
  forceBelowFloor: boolean;
  allowUnscanned: boolean;
  yes: boolean;
  key?: string;
}

function renderRun(r: RollbackRun): string {
  const rows = r.moves.map((m) => [
    m.variant,
    m.from ? m.from.tag : '-',
    m.tag,
    m.digest,
    m.belowFloor ? `BELOW FLOOR ${m.floor ?? ''}` : (m.floor ?? '-'),
  ]);
  const head =
    r.status === 'pending'
      ? `rollback to ${r.to} (dry run: nothing moved; add --yes to roll back)`
      : r.status === 'unchanged'
        ? `already rolled back to ${r.to}: latest and channel sequence ${r.channel?.sequence} serve it`
        : `rolled back to ${r.to}: latest moved, channel sequence ${r.channel?.sequence} (${r.channel?.digest})`;
  const notice =
    r.status === 'pending'
      ? ['', 'announcement (posted to #aibox-announce with --yes):', r.announcement]
      : r.notified
        ? ['', 'posted to #aibox-announce:', r.announcement]
        : ['', `NOT posted (${r.notifyProblem ?? 'unknown'}); post this to #aibox-announce:`, r.announcement];
  return [
    ...(r.completed !== undefined
      ? [`completed the interrupted promotion of channel sequence ${r.completed} first`]
      : []),
    table(['VARIANT', 'FROM', 'TO', 'DIGEST', 'FLOOR'], rows),
    head,
    ...notice,
    ...(r.auditPath ? [`audit: ${r.auditPath}`] : []),
  ].join('\n');
}

async function rollbackCommand(ctx: Context, flags: RollbackFlags) {
  const deps = await runDeps(ctx, flags.key);
  if (flags.list) {
    const l = await listRollbackCandidates(deps, { variants: flags.variant });
    const rows = l.candidates.map((c) => [
      c.date,
      Object.values(c.tags).join(' '),
      c.current ? 'current' : '',
    ]);
    const text = [
      l.candidates.length ? table(['DATE', 'TAGS', ''], rows) : 'no rollback candidates',
      ...l.excluded.map((e) => `not a candidate: ${e.date}: ${e.reasons.join('; ')}`),
    ].join('\n');
    return { data: l, text };
  }
  if (flags.to === undefined) {
    throw new AiboxError({
      code: 'USAGE',
      message: 'rollback needs --to TAG (or --list to see the candidates)',
      hint: 'e.g. aiboxctl rollback --to 24.04-20260214 --reason "broken apt mirror" --yes',
    });
  }
  const r = await runRollback(deps, {
    to: flags.to,
    variants: flags.variant,
    reason: flags.reason ?? '',
    forceBelowFloor: flags.forceBelowFloor,
    allowUnscanned: flags.allowUnscanned,
    apply: flags.yes,
  });
  return { data: r, text: renderRun(r) };
}

export const registerRollbackCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('rollback')
    .description(
      'runbook §6: move latest of every variant back to a known-good date (signed, at or above the floor) and publish a new channel sequence; announces on #aibox-announce',
    )
    .option('--to <tag>', 'the known-good date tag (e.g. 24.04-20260214) or its date')
    .option('--list', 'show the dates a rollback may target', false)
    .option('--variant <name>', 'only these variants (repeatable; default: all)', collect, [])
    .option('--reason <text>', 'why (the announcement\'s "due to …"; required)')
    .option(
      '--force-below-floor',
      'allow targets older than a security floor (marked and signed in the channel; the floor stays)',
      false,
    )
    .option('--allow-unscanned', 'accept targets whose signature records no passed scan', false)
    .option('--yes', 'roll back (without it: check everything and show the plan)', false)
    .option('--key <key>', 'signing key for the channel (default: signing.key)')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl rollback --list
  $ aiboxctl rollback --to 24.04-20260214 --reason "a broken apt mirror in the 20260221 build"
  $ aiboxctl rollback --to 24.04-20260214 --reason "a broken apt mirror in the 20260221 build" --yes --json`,
    )
    .action(run((ctx, flags: RollbackFlags) => rollbackCommand(ctx, flags)));
};
