/** `aibox start`: the verified, floor-gated sandbox of a variant and workspace (run, or attach). */
import type { DevContext, RegisterCommands } from '../command.js';
import { onTerminal, resolveWorkspace, startDeps, variantOf } from '../compose-sandbox.js';
import { startSandbox } from '../../sandbox/start.js';

export const registerDevStartCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('start')
    .description('verify the local image (signature, security floor), then open the sandbox or run CMD in it')
    .option('--variant <name>', "image variant (default: the config's variant)")
    .option('--workspace <dir>', 'directory mounted at /workspace (default: the current directory)')
    .argument('[cmd...]', 'command to run in the sandbox (after --); default: an interactive shell')
    .addHelpText(
      'after',
      `
Runs the preflight of 'aibox check' first: a signature failure exits 12 and a security floor refusal
exits 3, with nothing started. One sandbox per variant and workspace (the workspace at /workspace,
your user mapped in); when it is already running, start attaches to it. Without CMD: a login shell
(a terminal gets a TTY). With CMD: its output, and its exit code as aibox's.

Examples:
  $ aibox start
  Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)
  $ aibox start --variant java --workspace ~/src/shop
  $ aibox start -- make test`,
    )
    .action(
      run(async (ctx, cmd: string[], flags: { variant?: string; workspace?: string }) => {
        const variant = await variantOf(ctx, flags.variant);
        const workspace = await resolveWorkspace(ctx, flags.workspace);
        const { deps } = await startDeps(ctx, variant);
        const r = await startSandbox(deps, { variant, workspace, command: cmd, tty: onTerminal() });
        return {
          data: {
            container: r.container,
            mode: r.mode,
            olderImage: r.olderImage,
            image: r.image,
            exitCode: r.exitCode,
          },
          text: '',
          exitCode: r.exitCode,
        };
      }),
    );
};
