/** `aibox check`: THE preflight of `aibox start`, without launching (exit 0, 3 for the floor, 12 for the signature). */
import { sanitize } from '../../core/redact.js';
import { preflight, preflightLines } from '../../sandbox/preflight.js';
import type { DevContext, RegisterCommands } from '../command.js';
import { createDevDeps } from '../dev-deps.js';
import { fleetHook } from '../compose-sandbox.js';

export const registerDevCheckCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('check')
    .description(
      'verify the local sandbox image as `aibox start` does: its signature (from the cache, offline-capable) and the security floor',
    )
    .option('--variant <variant>', "image variant (default: the config's variant)")
    .option('--offline', 'do not contact the registry: use the cached channel and signatures', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 the image may start, 3 SECURITY UPDATE REQUIRED (below the floor), 12 signature verification failed.

Examples:
  $ aibox check
  Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)
  $ aibox check --variant java --json`,
    )
    .action(
      run(async (ctx, opts: { variant?: string; offline: boolean }) => {
        const deps = await createDevDeps(ctx);
        const variant = opts.variant ?? deps.config.variant;
        const fleet = await fleetHook(ctx, 'check', variant);
        const p = await preflight(deps, { variant, online: !opts.offline }).catch(fleet.fail);
        await fleet.preflight(p);
        if (!p.ok) throw p.error;
        for (const w of p.warnings) ctx.io.err(`${sanitize(w)}\n`);
        const data = {
          variant,
          image: p.image,
          signer: p.signer,
          signedAt: p.signedAt,
          floor: p.floor,
          floorMet: true,
          offline: p.offline,
          channelSequence: p.channelSequence,
          warnings: p.warnings,
        };
        return { data, text: preflightLines(p).join('\n') };
      }),
    );
};
