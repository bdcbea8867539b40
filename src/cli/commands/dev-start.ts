/** `aibox start` and `aibox stop`: the verified, floor-gated sandbox of a variant and workspace. */
import type { DevContext, RegisterCommands } from '../command.js';
import { onTerminal, resolveWorkspace, sandboxEngine, startDeps, variantOf } from '../compose-sandbox.js';
import { startSandbox, stopSandbox } from '../../sandbox/start.js';

interface SandboxFlags {
  readonly variant?: string;
  readonly workspace?: string;
}

export const registerDevStartCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('start')
    .description('verify the local image (signature, security floor), then open the sandbox or run CMD in it')
    .option('--variant <name>', 'image variant (default: the config variant, e.g. base)')
    .option('--workspace <dir>', 'directory mounted at /workspace (default: the current directory)')
    .argument('[cmd...]', 'command to run in the sandbox (after --); default: an interactive shell')
    .addHelpText(
      'after',
      `
Runs the same preflight as 'aibox check' first: a signature failure exits 12 and a security floor
refusal exits 3, with nothing started. One sandbox per variant and workspace; when it is already
running, start attaches to it. Without CMD on a terminal: an interactive shell. With CMD: its exit code.

Examples:
  $ aibox start
  $ aibox start --variant java --workspace ~/src/shop
  $ aibox start -- make test`,
    )
    .action(
      run(async (ctx, cmd: string[], flags: SandboxFlags) => {
        const variant = await variantOf(ctx, flags.variant);
        const workspace = await resolveWorkspace(ctx, flags.workspace);
        const engine = await sandboxEngine(ctx);
        const r = await startSandbox(await startDeps(ctx, variant, engine), {
          variant,
          workspace,
          command: cmd,
          tty: onTerminal(),
        });
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

  program
    .command('stop')
    .description('stop and remove the sandbox of a variant and workspace')
    .option('--variant <name>', 'image variant (default: the config variant, e.g. base)')
    .option('--workspace <dir>', 'its workspace directory (default: the current directory)')
    .addHelpText(
      'after',
      `
Examples:
  $ aibox stop
  $ aibox stop --variant java --workspace ~/src/shop`,
    )
    .action(
      run(async (ctx, flags: SandboxFlags) => {
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
