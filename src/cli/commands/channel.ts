/** `aiboxctl channel show` and `aiboxctl channel repair`: flag mapping and rendering. */
import type { Command } from 'commander';
import { MAX_CHANNEL_SEQUENCE } from '../../channel/channel.js';
import { renderChannel } from '../../channel/render.js';
import { fileChannelState } from '../../channel/state-file.js';
import { channelRepository } from '../../channel/store.js';
import { readTrustedChannel } from '../../channel/trusted.js';
import { dataDir } from '../../config/load.js';
import { AiboxError } from '../../core/errors.js';
import { runChannelRepair } from '../../pipeline/channel-repair.js';
import { loadTrust } from '../../signing/keyring.js';
import type { Context, RegisterCommands } from '../command.js';
import { runDeps } from '../compose.js';
import { EXIT } from '../exit.js';
import { renderRepair } from '../render-repair.js';

const collect = (v: string, prev: string[]) => [...prev, v];

async function channelShowCommand(ctx: Context, flags: { key: string[] }) {
  const loaded = await ctx.config();
  const target = await ctx.target();
  const now = ctx.now();
  const trust = await loadTrust({ keyFlags: flags.key, loaded, env: ctx.env, cwd: ctx.cwd });
  const repo = channelRepository(target.host, target.project);
  const tc = await readTrustedChannel(
    target.client,
    target.host,
    target.project,
    trust,
    now,
    fileChannelState(dataDir({ ...ctx.env })),
  );
  const text = [
    renderChannel(tc.read.channel, {
      now,
      digest: tc.read.digest,
      location: `${repo.registry}/${repo.repository}:current`,
      signatureValid: tc.signatureValid,
    }),
    tc.signatureValid ? `signature: valid (signed by ${tc.signer})` : 'signature: INVALID',
    ...tc.problems.map((p) => `PROBLEM: ${p}`),
    ...tc.warnings.map((w) => `WARNING: ${w}`),
  ].join('\n');
  return {
    data: {
      channel: tc.read.channel,
      digest: tc.read.digest,
      signatureValid: tc.signatureValid,
      problems: tc.problems,
      warnings: tc.warnings,
    },
    text,
    exitCode: tc.problems.length || tc.warnings.length ? EXIT.FAILURE : EXIT.OK,
  };
}

/** `--from-sequence` as a sequence number, refused before anything else runs. */
export function parseSequence(s: string): number {
  const n = /^[1-9][0-9]{0,9}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CHANNEL_SEQUENCE) {
    throw new AiboxError({
      code: 'USAGE',
      message: `--from-sequence must be a channel sequence number (1 to ${MAX_CHANNEL_SEQUENCE}), got ${JSON.stringify(s)}`,
      hint: "the history entries are the seq-<N> tags of the channel repository: 'aiboxctl tags channel'",
    });
  }
  return n;
}

async function channelRepairCommand(
  ctx: Context,
  flags: { fromSequence: string; yes: boolean; key?: string },
) {
  const fromSequence = parseSequence(flags.fromSequence);
  const r = await runChannelRepair(await runDeps(ctx, flags.key), { fromSequence, apply: flags.yes });
  return {
    data: {
      channel: r.channel,
      from: r.plan.from,
      current: r.plan.current,
      last: r.plan.last,
      next: r.plan.next,
      skipped: r.plan.skipped,
      published: r.published ?? null,
    },
    text: renderRepair(r),
  };
}

export const registerChannelCommands: RegisterCommands = (program: Command, run) => {
  const channel = program
    .command('channel')
    .description('the signed release channel developers trust instead of latest')
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl channel show --key cosign.pub\n  $ aiboxctl channel repair --from-sequence 41 --yes',
    );
  channel
    .command('show')
    .description('print the current channel document and verify its signature and freshness')
    .option('--key <pub>', 'trusted public key (repeatable; default: signing.trustedKeys)', collect, [])
    .addHelpText('after', '\nExample:\n  $ aiboxctl channel show --key cosign.pub --json')
    .action(run((ctx, flags: { key: string[] }) => channelShowCommand(ctx, flags)));
  channel
    .command('repair')
    .description(
      'recover from a tampered or lost channel:current: verify history entry N (channel:seq-N) and re-publish its content as a new, higher sequence, signed (floors kept)',
    )
    .requiredOption('--from-sequence <N>', 'the signed history entry to restore')
    .option('--yes', 'publish (without it: only show what would be published)', false)
    .option('--key <key>', 'signing key for the channel (default: signing.key)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl channel repair --from-sequence 41            # show the plan\n  $ aiboxctl channel repair --from-sequence 41 --yes --json',
    )
    .action(
      run((ctx, flags: { fromSequence: string; yes: boolean; key?: string }) =>
        channelRepairCommand(ctx, flags),
      ),
    );
};
