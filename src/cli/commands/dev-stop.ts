/** `aibox stop`: stop and remove the sandbox of a variant and workspace. */
import type { DevContext, RegisterCommands } from '../command.js';
import { resolveWorkspace, sandboxEngine, variantOf } from '../compose-sandbox.js';
import { stopSandbox } from '../../sandbox/start.js';

export const registerDevStopCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('stop')
    .description('stop and remove the sandbox of a variant and workspace (its workspace files stay)')
    .option('--variant <name>', "image variant (default: the config's variant)")
    .option('--workspace <dir>', 'its workspace directory (default: the current directory)')
    .addHelpText(
      'after',
      `
Examples:
  $ aibox stop
  $ aibox stop --variant java --workspace ~/src/shop`,
    )
    .action(
      run(async (ctx, flags: { variant?: string; workspace?: string }) => {
        const variant = await variantOf(ctx, flags.variant);
        const workspace = await resolveWorkspace(ctx, flags.workspace);
        const r = await stopSandbox(await sandboxEngine(ctx), { variant, workspace });
        return {
          data: { ...r, variant, workspace },
          text: r.stopped
            ? `Stopped sandbox ${r.container}.`
            : `No sandbox for ${variant} in ${workspace} (${r.container}); nothing to stop.`,
        };
      }),
    );
};
