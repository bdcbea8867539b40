/** `aibox status`: variant, local and latest image, floor, signature, channel, trusted keys, running sandboxes. */
import { sandboxStatus, renderStatus } from '../../sandbox/status.js';
import type { DevContext, RegisterCommands } from '../command.js';
import { createDevDeps } from '../dev-deps.js';
import { runningSandboxes } from '../compose-sandbox.js';

export const registerDevStatusCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('status')
    .description(
      'show the sandbox image, the channel, the security floor, the signature state and the trusted keys',
    )
    .option('--variant <variant>', "image variant (default: the config's variant)")
    .option('--offline', 'do not contact the registry: report from the cache', false)
    .addHelpText('after', '\nExamples:\n  $ aibox status\n  $ aibox status --json')
    .action(
      run(async (ctx, opts: { variant?: string; offline: boolean }) => {
        const deps = await createDevDeps(ctx);
        const r = await sandboxStatus(
          { ...deps, listSandboxes: () => runningSandboxes(ctx) },
          {
            variant: opts.variant ?? deps.config.variant,
            online: !opts.offline,
          },
        );
        return { data: r, text: renderStatus(r) };
      }),
    );
};
