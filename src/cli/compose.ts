/**
 * The composition root of the pipeline commands: builds the adapters (Podman, scanner, notifier,
 * key and trust loaders) from the Context and hands them to the workflows as ports. Command files
 * call this instead of constructing adapters themselves.
 */
import { fileChannelState } from '../channel/state-file.js';
import { dataDir } from '../config/load.js';
import { Podman } from '../engine/podman.js';
import { notifierFromConfig } from '../notify/factory.js';
import { lineProgress, ttyProgress } from '../pipeline/progress.js';
import type { RunDeps } from '../pipeline/run.js';
import { scannerFromConfig } from '../scan/factory.js';
import { loadSigningKey, loadTrust } from '../signing/keyring.js';
import type { Context } from './command.js';

/** Ports and settings for `rebuild` / `promote`, with the signing key from `--key` or the config. */
export async function runDeps(ctx: Context, keySpec: string | undefined): Promise<RunDeps> {
  const loaded = await ctx.config();
  const { config } = loaded;
  const write = (s: string) => ctx.io.err(s);
  const data = dataDir({ ...ctx.env });
  return {
    config,
    configDir: loaded.dir,
    target: async () => {
      const t = await ctx.target();
      return { store: t.client, host: t.host, project: t.project };
    },
    engine: new Podman(config.engine, ctx.exec, ctx.logger),
    scanner: (t) =>
      scannerFromConfig(
        config.scan,
        { host: t.host, project: t.project, insecure: config.registry.insecure },
        { exec: ctx.exec, env: ctx.env, logger: ctx.logger },
      ),
    // The webhook from the config, else $AIBOX_SLACK_WEBHOOK (CI secret); registered as a secret by the adapter.
    notifier: notifierFromConfig(
      { slackWebhook: config.notify.slackWebhook ?? ctx.env.AIBOX_SLACK_WEBHOOK ?? null },
      { logger: ctx.logger },
    ),
    key: {
      spec: keySpec,
      load: () => loadSigningKey({ spec: keySpec, loaded, env: ctx.env, cwd: ctx.cwd }),
    },
    trustedKeys: async () =>
      config.signing.trustedKeys.length
        ? loadTrust({ keyFlags: [], loaded, env: ctx.env, cwd: ctx.cwd })
        : [],
    dataDir: data,
    channelState: fileChannelState(data),
    logger: ctx.logger,
    now: ctx.now,
    progress: (record) =>
      ctx.interactive && !ctx.global.json ? ttyProgress(write, record) : lineProgress(write, record),
  };
}
