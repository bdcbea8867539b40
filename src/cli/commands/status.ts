/** `aiboxctl status` (runbook §1 verification): flag mapping and rendering. */
import type { Command } from 'commander';
import { fileChannelState } from '../../channel/state-file.js';
import { dataDir } from '../../config/load.js';
import { pipelineStatus, type StatusReport } from '../../pipeline/status.js';
import { scannerFromConfig } from '../../scan/factory.js';
import { loadTrust } from '../../signing/keyring.js';
import type { Context, RegisterCommands } from '../command.js';
import { EXIT } from '../exit.js';
import { table } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

async function statusCommand(ctx: Context, flags: { key: string[]; maxAgeDays: string; scan: boolean }) {
  const loaded = await ctx.config();
  const target = await ctx.target();
  const { config } = loaded;
  const report = await pipelineStatus({
    store: target.client,
    host: target.host,
    project: target.project,
    config,
    trust: await loadTrust({ keyFlags: flags.key, loaded, env: ctx.env, cwd: ctx.cwd }),
    scanner: flags.scan
      ? scannerFromConfig(
          config.scan,
          { host: target.host, project: target.project, insecure: config.registry.insecure },
          { exec: ctx.exec, env: ctx.env, logger: ctx.logger },
        )
      : undefined,
    now: ctx.now(),
    maxAgeDays: Number(flags.maxAgeDays),
    channelState: fileChannelState(dataDir({ ...ctx.env })),
  });
  return { data: report, text: renderStatus(report), exitCode: report.ok ? EXIT.OK : EXIT.FAILURE };
}

function renderStatus(r: StatusReport): string {
  return [
    table(
      ['VARIANT', 'LATEST', 'DIGEST', 'AGE', 'SIGNATURE', 'SCAN', 'FLOOR', 'OK'],
      r.variants.map((v) => [
        v.variant,
        v.tag ?? '-',
        v.digest ? `${v.digest.slice(0, 19)}…` : '-',
        v.ageDays === null ? '-' : `${v.ageDays}d`,
        v.signature.ok
          ? `valid (${v.signature.signer ?? '?'})`
          : `INVALID${v.signature.detail ? `: ${v.signature.detail}` : ''}`,
        v.scan,
        v.floor?.mandatoryUpdate
          ? `mandatory ≥ ${v.floor.minImageCreated ?? v.floor.minImageDate}${v.floor.below ? ' (BELOW FLOOR)' : ''}`
          : 'none',
        v.ok ? 'yes' : 'NO',
      ]),
    ),
    r.channel
      ? `channel: sequence ${r.channel.sequence}, expires ${r.channel.expiresAt}${r.channelProblem ? ` — PROBLEM: ${r.channelProblem}` : ''}`
      : `channel: PROBLEM: ${r.channelProblem ?? 'missing'}`,
    ...(r.pendingPromotion
      ? [
          `WARNING: an interrupted promotion (channel sequence ${r.pendingPromotion.sequence}) is recorded at channel:pending; run 'aiboxctl promote' to complete it`,
        ]
      : []),
    ...r.channelWarnings.map((w) => `WARNING: ${w}`),
  ].join('\n');
}

export const registerStatusCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('status')
    .description(
      'runbook §1 verification: per variant the latest tag, digest, age, signature, scan result and security floor',
    )
    .option('--key <pub>', 'trusted public key (repeatable; default: signing.trustedKeys)', collect, [])
    .option('--max-age-days <n>', 'image age that fails the check (runbook §7 alert: 30)', '30')
    .option('--no-scan', 'do not ask the scanner; show the scan result recorded at signing')
    .addHelpText('after', '\nExample:\n  $ aiboxctl status --key cosign.pub --json')
    .action(
      run((ctx, flags: { key: string[]; maxAgeDays: string; scan: boolean }) => statusCommand(ctx, flags)),
    );
};
