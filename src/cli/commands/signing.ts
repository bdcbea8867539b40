/**
 * Signing commands: `keys generate|public|status|rotate`, `sign`, `verify`, `verify-blob`.
 * Mostly flag mapping onto src/signing; output shapes follow cosign where users compare them.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { decodeBase64Strict } from '../../signing/encoding.js';
import { generateKeyPair, verifyBytes, ecdsaDerProblem } from '../../signing/keys.js';
import { newestSignature, signatureValidLine } from '../../signing/messages.js';
import { parseAnnotationFlags } from '../../signing/payload.js';
import { getPassword } from '../../signing/password.js';
import { loadSigningKey as loadKeyFromConfig, loadTrust } from '../../signing/keyring.js';
import { day, keyStatus, rotationSteps } from '../../signing/trust.js';
import { verificationError } from '../../signing/verify.js';
import { signImage, verifyImage } from '../../signing/workflows.js';
import type { Context, RegisterCommands } from '../command.js';
import { table } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function sourceOpts(ctx: Context): Promise<{ env: Context['env']; baseDir: string }> {
  const loaded = await ctx.config();
  return { env: ctx.env, baseDir: loaded.dir };
}

async function loadSigningKey(ctx: Context, spec: string | undefined) {
  return loadKeyFromConfig({ spec, loaded: await ctx.config(), env: ctx.env, cwd: ctx.cwd });
}

async function writeKeyPair(ctx: Context, dir: string, force: boolean) {
  const keyPath = join(dir, 'cosign.key');
  const pubPath = join(dir, 'cosign.pub');
  if (!force) {
    for (const p of [keyPath, pubPath]) {
      if (await exists(p))
        throw new AiboxError({
          code: 'USAGE',
          message: `${p} already exists; refusing to overwrite it`,
          hint: 'Pass --force to replace it, or --output-dir to write elsewhere',
        });
    }
  }
  const password = await getPassword({ env: ctx.env, confirm: true, purpose: 'the new private key' });
  const pair = await generateKeyPair(password);
  await mkdir(dir, { recursive: true });
  await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag: force ? 'w' : 'wx' });
  await chmod(keyPath, 0o600);
  await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644, flag: force ? 'w' : 'wx' });
  return { keyPath, pubPath, fingerprint: pair.fingerprint, publicKey: pair.publicKeyPem };
}

async function trustedKeys(ctx: Context, keyFlags: readonly string[]) {
  return loadTrust({ keyFlags, loaded: await ctx.config(), env: ctx.env, cwd: ctx.cwd });
}

export const registerSigningCommands: RegisterCommands = (program: Command, run) => {
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
    .option('--force', 'overwrite existing key files', false)
    .addHelpText('after', '\nExample:\n  $ COSIGN_PASSWORD=... aiboxctl keys generate --output-dir ./keys')
    .action(
      run(async (ctx, opts: { outputDir: string; force: boolean }) => {
        const w = await writeKeyPair(ctx, resolve(ctx.cwd, opts.outputDir), opts.force);
        return {
          data: { privateKey: w.keyPath, publicKey: w.pubPath, fingerprint: w.fingerprint },
          text: `Private key written to ${w.keyPath}\nPublic key written to ${w.pubPath}\nFingerprint: ${w.fingerprint}`,
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
        const k = await loadSigningKey(ctx, opts.key);
        return {
          data: {
            publicKey: k.publicKey.pem,
            fingerprint: k.publicKey.fingerprint,
            algorithm: k.publicKey.algorithm,
          },
          text: k.publicKey.pem,
        };
      }),
    );

  keys
    .command('status')
    .description("each trusted key's fingerprint, age and when rotation is due (warns 30 days ahead)")
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
        const list = await trustedKeys(ctx, opts.key);
        const now = ctx.now();
        const statuses = list.map((k) => keyStatus(k, now, loaded.config.signing.rotationDays));
        for (const s of statuses) if (s.state !== 'ok') ctx.logger.warn(`key ${s.name}: ${s.message}`);
        const rows = statuses.map((s) => [
          s.name,
          s.fingerprint.slice(0, 23),
          s.ageDays === null ? '-' : `${s.ageDays}d`,
          s.rotationDue ? s.rotationDue.slice(0, 10) : '-',
          s.state,
        ]);
        return {
          data: { rotationDays: loaded.config.signing.rotationDays, keys: statuses },
          text: table(['NAME', 'FINGERPRINT', 'AGE', 'ROTATION DUE', 'STATE'], rows),
        };
      }),
    );

  keys
    .command('rotate')
    .description('generate the next key pair and print the rotation steps (dual-sign, publish, retire)')
    .option('--output-dir <dir>', 'directory for the new pair (default ./cosign-YYYY-MM-DD)')
    .option('--force', 'overwrite existing key files', false)
    .addHelpText('after', '\nExample:\n  $ COSIGN_PASSWORD=... aiboxctl keys rotate --output-dir ./keys-2027')
    .action(
      run(async (ctx, opts: { outputDir?: string; force: boolean }) => {
        const now = ctx.now();
        const dir = resolve(ctx.cwd, opts.outputDir ?? `cosign-${day(now)}`);
        const w = await writeKeyPair(ctx, dir, opts.force);
        const loaded = await ctx.config();
        const current = loaded.config.signing.trustedKeys.at(-1)?.name ?? null;
        const steps = rotationSteps({
          newPrivateKeyPath: w.keyPath,
          newPublicKeyPath: w.pubPath,
          newFingerprint: w.fingerprint,
          oldKeyName: current,
          now,
        });
        return {
          data: { privateKey: w.keyPath, publicKey: w.pubPath, fingerprint: w.fingerprint, steps },
          text: [
            `New key pair written to ${dir} (fingerprint ${w.fingerprint}).`,
            'Next steps:',
            ...steps.map((s, i) => `  ${i + 1}. ${s}`),
          ].join('\n'),
        };
      }),
    );

  program
    .command('sign')
    .description(
      "sign an image's digest in cosign's format (appends a layer to the sha256-<hex>.sig manifest)",
    )
    .option('--key <key>', 'private key: file, env://VAR or vault://<mount>/<path> (default: signing.key)')
    .option(
      '-a, --annotation <key=value>',
      'annotation recorded in the payload (repeatable)',
      collect,
      [] as string[],
    )
    .argument('<image>', 'image to sign (tag or digest)')
    .addHelpText('after', '\nExample:\n  $ aiboxctl sign --key cosign.key -a git=abc123 base:24.04-20260221')
    .action(
      run(async (ctx, image: string, opts: { key?: string; annotation: string[] }) => {
        const annotations = parseAnnotationFlags(opts.annotation);
        const key = await loadSigningKey(ctx, opts.key);
        const loaded = await ctx.config();
        const ref = await ctx.resolveImage(image, { defaultTag: 'latest' });
        const r = await signImage({
          client: await ctx.registry(),
          ref,
          key,
          signer: loaded.config.signing.identity,
          annotations,
          now: ctx.now(),
          logger: ctx.logger,
        });
        const text = r.appended
          ? `Signed ${r.image} (${r.digest}) as ${r.signer}; signature stored at ${r.repository}:${r.signatureTag}`
          : `${r.image} (${r.digest}) already carries a signature by this key; nothing appended`;
        return { data: r, text };
      }),
    );

  program
    .command('verify')
    .description(
      'verify image signatures like `cosign verify --key` (exit 10 no signatures, 11 image tag not found, 12 no matching signature)',
    )
    .option(
      '--key <pub>',
      'trusted public key (repeatable; default: signing.trustedKeys)',
      collect,
      [] as string[],
    )
    .option(
      '-a, --annotation <key=value>',
      'require this annotation in the payload (repeatable)',
      collect,
      [] as string[],
    )
    .option('--no-bundles', 'do not look for cosign v3 Sigstore bundles attached as referrers')
    .argument('<image>', 'image to verify (tag or digest)')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl verify --key cosign.pub base:latest\n  $ aiboxctl --json verify --key old.pub --key new.pub base:latest   # cosign JSON array',
    )
    .action(
      run(async (ctx, image: string, opts: { key: string[]; annotation: string[]; bundles: boolean }) => {
        const keys = await trustedKeys(ctx, opts.key);
        const annotations = parseAnnotationFlags(opts.annotation);
        const ref = await ctx.resolveImage(image, { defaultTag: 'latest' });
        const r = await verifyImage({
          client: await ctx.registry(),
          ref,
          trustedKeys: keys,
          now: ctx.now(),
          annotations,
          bundles: opts.bundles,
          logger: ctx.logger,
        });
        const shown = `${r.repository}@${r.digest}`;
        for (const x of r.rejected) ctx.logger.debug(`${x.source} ${x.index}: ${x.reason}`);
        if (!r.ok) throw verificationError(r, shown);
        const best = newestSignature(r.verified)!;
        const lines = [
          signatureValidLine(best),
          `Verified ${r.verified.length} signature(s) for ${shown}:`,
          ...r.verified.map(
            (v) =>
              `  ${v.source === 'bundle' ? 'bundle' : 'layer'} ${v.index}: key ${v.keyName} (${v.keyFingerprint.slice(0, 19)}…), signer ${v.signer}${v.signedAt ? `, ${v.signedAt.toISOString()}` : ''}`,
          ),
          ...(r.rejected.length > 0
            ? [`Skipped ${r.rejected.length} signature(s) that did not verify (--debug shows why)`]
            : []),
        ];
        return { data: r.verified.map((v) => JSON.parse(v.cosignJson) as unknown), text: lines.join('\n') };
      }),
    );

  program
    .command('verify-blob')
    .description('verify a signature over a file like `cosign verify-blob --key` (base64 DER signature)')
    .requiredOption('--key <pub>', 'public key')
    .requiredOption('--signature <sig>', 'file holding the base64 signature (or the base64 text itself)')
    .argument('<file>', 'the signed file')
    .addHelpText('after', '\nExample:\n  $ aiboxctl verify-blob --key cosign.pub --signature file.sig file')
    .action(
      run(async (ctx, file: string, opts: { key: string; signature: string }) => {
        const [key] = await loadTrust({
          keyFlags: [opts.key],
          loaded: await ctx.config(),
          env: ctx.env,
          cwd: ctx.cwd,
        });
        const sigPath = resolve(ctx.cwd, opts.signature);
        const sigText = ((await exists(sigPath)) ? await readFile(sigPath, 'utf8') : opts.signature).trim();
        const sig = decodeBase64Strict(sigText);
        if (!sig)
          throw new AiboxError({
            code: 'NO_MATCHING_SIGNATURE',
            message: `signature ${opts.signature} is not valid base64 (truncated or garbled)`,
          });
        const data = await readFile(resolve(ctx.cwd, file));
        if (!verifyBytes(key!.publicKey, data, sig)) {
          const der = key!.publicKey.algorithm.startsWith('ecdsa') ? ecdsaDerProblem(sig) : null;
          throw new AiboxError({
            code: 'NO_MATCHING_SIGNATURE',
            message: `invalid signature for ${file}: ${der ?? `does not verify with key ${opts.key}`}`,
          });
        }
        return { data: { verified: true, file, key: key!.publicKey.fingerprint }, text: 'Verified OK' };
      }),
    );
};
