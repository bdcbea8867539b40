/**
 * `keys generate|public|status|rotate`: flag mapping onto src/signing (keyfiles, keyring, trust)
 * and rendering; `rotate` lives in keys-rotate.ts. No file access here: key files are written by `signing/keyfiles.ts`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { writeKeyPair } from '../../signing/keyfiles.js';
import { getPassword } from '../../signing/password.js';
import { keysReport, loadSigningKey } from '../../signing/keyring.js';
import type { Context, RegisterCommands } from '../command.js';
import { EXIT } from '../exit.js';
import { table } from '../output.js';
import { registerKeysRotate } from './keys-rotate.js';

const collect = (v: string, prev: string[]) => [...prev, v];

function writePair(ctx: Context, dir: string, force: boolean) {
  const password = () => getPassword({ env: ctx.env, confirm: true, purpose: 'the new private key' });
  return writeKeyPair({ dir: resolve(ctx.cwd, dir), force, password });
}

export const registerKeysCommands: RegisterCommands = (program: Command, run) => {
  const keys = program
    .command('keys')
    .description('cosign-compatible signing keys: generate, inspect, rotate');
  keys.addHelpText(
    'after',
    `
Examples:
  $ COSIGN_PASSWORD=... aiboxctl keys generate --output-dir ./keys
  $ aiboxctl keys status`,
  );

  keys
    .command('generate')
    .description(
      'write an encrypted cosign.key (0600) and cosign.pub; password from COSIGN_PASSWORD or a prompt',
    )
    .option('--output-dir <dir>', 'directory for cosign.key and cosign.pub', '.')
    .option('--force', 'overwrite existing key files (never through a symlink)', false)
    .addHelpText('after', '\nExample:\n  $ COSIGN_PASSWORD=... aiboxctl keys generate --output-dir ./keys')
    .action(
      run(async (ctx, opts: { outputDir: string; force: boolean }) => {
        const w = await writePair(ctx, opts.outputDir, opts.force);
        return {
          data: { privateKey: w.privateKey, publicKey: w.publicKey, fingerprint: w.fingerprint },
          text: `Private key written to ${w.privateKey}\nPublic key written to ${w.publicKey}\nFingerprint: ${w.fingerprint}`,
        };
      }),
    );

  keys
    .command('public')
    .description('print the public key of a private key (file, env://VAR or vault://…)')
    .requiredOption('--key <key>', 'private key')
    .addHelpText(
      'after',
      '\nExample:\n  $ COSIGN_PASSWORD=... aiboxctl keys public --key cosign.key > cosign.pub',
    )
    .action(
      run(async (ctx, opts: { key: string }) => {
        const k = await loadSigningKey({
          spec: opts.key,
          loaded: await ctx.config(),
          env: ctx.env,
          cwd: ctx.cwd,
        });
        const { pem, fingerprint, algorithm } = k.publicKey;
        return { data: { publicKey: pem, fingerprint, algorithm }, text: pem };
      }),
    );

  keys
    .command('status')
    .description(
      "each trusted key's fingerprint, age and when rotation is due (warns 30 days ahead; exit 1 if a key is retired or not yet valid)",
    )
    .option(
      '--key <pub>',
      'public key to report on instead of signing.trustedKeys (repeatable)',
      collect,
      [] as string[],
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ aiboxctl keys status                 # the trust store in signing.trustedKeys\n  $ aiboxctl keys status --json',
    )
    .action(
      run(async (ctx, opts: { key: string[] }) => {
        const loaded = await ctx.config();
        const r = await keysReport({
          keyFlags: opts.key,
          loaded,
          env: ctx.env,
          cwd: ctx.cwd,
          now: ctx.now(),
        });
        for (const s of r.keys) if (s.state !== 'ok') ctx.logger.warn(`key ${s.name}: ${s.message}`);
        const rows = r.keys.map((s) => [
          s.name,
          s.fingerprint.slice(0, 23),
          s.ageDays === null ? 'unknown' : `${s.ageDays}d`,
          s.rotationDue ? s.rotationDue.slice(0, 10) : '-',
          s.state,
        ]);
        return {
          data: r,
          text: table(['NAME', 'FINGERPRINT', 'AGE', 'ROTATION DUE', 'STATE'], rows),
          exitCode: r.ok ? EXIT.OK : EXIT.FAILURE,
        };
      }),
    );

  registerKeysRotate(keys, run);
};
