/**
 * `sign`, `verify`, `verify-blob`: flag mapping onto src/signing workflows and rendering; output
 * shapes follow cosign where users compare them. Key commands are in `keys.ts`.
 */
import type { Command } from 'commander';
import { internalError } from '../../core/errors.js';
import { verifyBlobFile } from '../../signing/blob.js';
import { loadTrust, startSigningKey } from '../../signing/keyring.js';
import { newestSignature, signatureValidLine } from '../../signing/messages.js';
import { parseAnnotationFlags } from '../../signing/payload.js';
import { verificationError } from '../../signing/verify.js';
import { signImage, verifyImage } from '../../signing/workflows.js';
import type { Context, RegisterCommands } from '../command.js';

const collect = (v: string, prev: string[]) => [...prev, v];

async function trustedKeys(ctx: Context, keyFlags: readonly string[]) {
  return loadTrust({ keyFlags, loaded: await ctx.config(), env: ctx.env, cwd: ctx.cwd });
}

export const registerSigningCommands: RegisterCommands = (program: Command, run) => {
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
        const loaded = await ctx.config();
        // Key and password first (errors before side effects); scrypt then overlaps the registry.
        const { decrypting } = await startSigningKey({ spec: opts.key, loaded, env: ctx.env, cwd: ctx.cwd });
        const ref = await ctx.resolveImage(image, { defaultTag: 'latest' });
        const r = await signImage({
          client: await ctx.registry(),
          ref,
          key: decrypting,
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
      '\nExample:\n  $ aiboxctl verify --key cosign.pub base:latest\n  $ aiboxctl --json verify --key old.pub --key new.pub base:latest   # data: cosign JSON array',
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
        // `ok` means at least one signature verified, so `newest` is defined exactly when `ok`.
        const newest = newestSignature(r.verified);
        if (!r.ok || !newest) throw verificationError(r, shown);
        const lines = [
          signatureValidLine(newest),
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
        const keys = await trustedKeys(ctx, [opts.key]);
        const key = keys[0] ?? internalError(`no key loaded from --key ${opts.key}`);
        const r = await verifyBlobFile({
          file,
          signature: opts.signature,
          key: key.publicKey,
          keyName: opts.key,
          cwd: ctx.cwd,
        });
        return { data: r, text: 'Verified OK' };
      }),
    );
};
