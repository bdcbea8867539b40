/**
 * `aiboxctl keys rotate`: without --new-key, generate the next pair and print the rotation steps; with --new-key,
 * announce it to every developer machine through the signed channel (and with --compromised, re-sign every image
 * and retire the old key now). Flag mapping onto src/pipeline/rotate.ts and rendering.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { DEFAULT_OVERLAP_DAYS, runKeyRotation } from '../../pipeline/rotate.js';
import { writeKeyPair } from '../../signing/keyfiles.js';
import { loadSigningKey } from '../../signing/keyring.js';
import { getPassword } from '../../signing/password.js';
import { day, rotationSteps } from '../../signing/trust.js';
import type { Context, Run } from '../command.js';
import { runDeps } from '../compose.js';
import { renderRotation } from '../render-rotate.js';

interface RotateFlags {
  readonly outputDir?: string;
  readonly force: boolean;
  readonly newKey?: string;
  readonly name?: string;
  readonly overlapDays: string;
  readonly compromised: boolean;
  readonly yes: boolean;
  readonly key?: string;
}

async function generate(ctx: Context, flags: RotateFlags) {
  const now = ctx.now();
  const dir = resolve(ctx.cwd, flags.outputDir ?? `cosign-${day(now)}`);
  const password = () => getPassword({ env: ctx.env, confirm: true, purpose: 'the new private key' });
  const w = await writeKeyPair({ dir, force: flags.force, password });
  const current = (await ctx.config()).config.signing.trustedKeys.at(-1)?.name ?? null;
  const steps = rotationSteps({
    newPrivateKeyPath: w.privateKey,
    newPublicKeyPath: w.publicKey,
    newFingerprint: w.fingerprint,
    oldKeyName: current,
    now,
  });
  return {
    data: { privateKey: w.privateKey, publicKey: w.publicKey, fingerprint: w.fingerprint, steps },
    text: [
      `New key pair written to ${dir} (fingerprint ${w.fingerprint}).`,
      'Next steps:',
      ...steps.map((s, i) => `  ${i + 1}. ${s}`),
    ].join('\n'),
  };
}

async function announce(ctx: Context, flags: RotateFlags & { newKey: string }) {
  const overlapDays = /^[0-9]{1,4}$/.test(flags.overlapDays) ? Number(flags.overlapDays) : NaN;
  const loaded = await ctx.config();
  // The new key's password: AIBOX_NEW_KEY_PASSWORD when set (the two keys rarely share one), else COSIGN_PASSWORD.
  const newPassword = ctx.env.AIBOX_NEW_KEY_PASSWORD;
  const env = newPassword === undefined ? ctx.env : { ...ctx.env, COSIGN_PASSWORD: newPassword };
  const r = await runKeyRotation(await runDeps(ctx, flags.key), {
    newKey: () => loadSigningKey({ spec: flags.newKey, loaded, env, cwd: ctx.cwd }),
    newKeyName: flags.name ?? `cosign-${day(ctx.now())}`,
    compromised: flags.compromised,
    overlapDays,
    apply: flags.yes,
  });
  return { data: r, text: renderRotation(r) };
}

/** Register `keys rotate` under the `keys` command. */
export function registerKeysRotate(keys: Command, run: Run): void {
  keys
    .command('rotate')
    .description(
      'generate the next key pair and print the rotation steps; with --new-key, announce it to developers through the signed channel (--compromised: re-sign every image and retire the old key now)',
    )
    .option('--output-dir <dir>', 'directory for the new pair (default ./cosign-YYYY-MM-DD)')
    .option('--force', 'overwrite existing key files (never through a symlink)', false)
    .option(
      '--new-key <key>',
      'announce this new private key (file, env://VAR or vault://…; password AIBOX_NEW_KEY_PASSWORD, else COSIGN_PASSWORD)',
    )
    .option('--name <name>', 'name of the new key in developer trust stores (default cosign-YYYY-MM-DD)')
    .option(
      '--overlap-days <n>',
      'days both keys stay trusted (planned rotation)',
      String(DEFAULT_OVERLAP_DAYS),
    )
    .option(
      '--compromised',
      're-sign every image the channel names with the new key and retire the old key now',
      false,
    )
    .option('--yes', 'publish (without it: only show what would be done)', false)
    .option('--key <key>', 'the current signing key, which signs the announcement (default: signing.key)')
    .addHelpText(
      'after',
      `
Examples:
  $ COSIGN_PASSWORD=... aiboxctl keys rotate --output-dir ./keys-2027
  $ aiboxctl keys rotate --new-key ./keys-2027/cosign.key               # show the announcement
  $ aiboxctl keys rotate --new-key ./keys-2027/cosign.key --yes
  $ aiboxctl keys rotate --new-key vault://secret/aibox/cosign-key-2027 --compromised --yes --json`,
    )
    .action(
      run(async (ctx, flags: RotateFlags) => {
        if (flags.newKey !== undefined) return announce(ctx, { ...flags, newKey: flags.newKey });
        if (flags.compromised || flags.yes || flags.name !== undefined) {
          throw new AiboxError({
            code: 'USAGE',
            message: '--compromised, --yes and --name announce a key: they need --new-key',
            hint: 'generate the pair first (aiboxctl keys rotate --output-dir DIR), then: aiboxctl keys rotate --new-key DIR/cosign.key --yes',
          });
        }
        return generate(ctx, flags);
      }),
    );
}
