/** `aibox update`: the runbook §3 flow (verify channel → verify the remote digest's signature → pull → tag → cache). */
import { sanitize } from '../../core/redact.js';
import { update } from '../../sandbox/update.js';
import type { DevContext, RegisterCommands } from '../command.js';
import { createDevDeps } from '../dev-deps.js';
import { fleetHook } from '../compose-sandbox.js';

export const registerDevUpdateCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('update')
    .description(
      "pull the release channel's image for your variant, verified before it is pulled; running sandboxes are not touched",
    )
    .option('--variant <variant>', "image variant (default: the config's variant)")
    .addHelpText(
      'after',
      `
Example:
  $ aibox update
  Checking for updates...
  Current image: aibox-base:24.04-20260215
  Latest image:  aibox-base:24.04-20260221
  Pulling aibox-base:24.04-20260221... done (45s)
  Verifying signature... valid
  Update complete. Changes take effect on next 'aibox start'.`,
    )
    .action(
      run(async (ctx, opts: { variant?: string }) => {
        const deps = await createDevDeps(ctx);
        const json = ctx.global.json;
        const fleet = await fleetHook(ctx, 'update', opts.variant ?? deps.config.variant);
        const r = await update(
          { ...deps, clock: () => Date.now() },
          {
            variant: opts.variant ?? deps.config.variant,
            // Lines as they happen (text mode); with --json only the envelope is printed.
            onLine: (l) => {
              if (!json) ctx.io.out(`${sanitize(l)}\n`);
            },
            // Podman's progress on a terminal only, on stderr.
            onProgress: ctx.interactive && !json ? (l) => ctx.io.err(`${sanitize(l)}\n`) : undefined,
          },
        ).catch(fleet.fail);
        await fleet.update(r);
        for (const w of r.warnings) ctx.io.err(`${sanitize(w)}\n`);
        return { data: r, text: '' };
      }),
    );
};
