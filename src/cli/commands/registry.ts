/** `aiboxctl registry up|down|status`: the embedded local registry (CNCF distribution on 127.0.0.1). */
import type { Command } from 'commander';
import { embeddedDataDir } from '../../config/load.js';
import { registryDown, registryStatus, registryUp } from '../../registry/embedded.js';
import type { Context, RegisterCommands } from '../command.js';

async function embeddedDir(ctx: Context): Promise<{ dir: string; port: number }> {
  const loaded = await ctx.config();
  return { dir: embeddedDataDir(loaded, { ...ctx.env }), port: loaded.config.embedded.port };
}

export const registerRegistryCommands: RegisterCommands = (program: Command, run) => {
  const registry = program
    .command('registry')
    .description('run the embedded local registry (CNCF distribution on 127.0.0.1)')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl registry up          # start it (idempotent) and print its address
  $ aiboxctl registry status --json
  $ aiboxctl registry down        # stop the registry aibox started`,
    );

  registry
    .command('up')
    .description('start the embedded registry if it is not running, and print its address')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry up\n  127.0.0.1:5000')
    .action(
      run(async (ctx) => {
        const { dir, port } = await embeddedDir(ctx);
        const up = await registryUp({ dataDir: dir, port, exec: ctx.exec, logger: ctx.logger });
        return {
          data: {
            host: up.host,
            url: up.url,
            pid: up.pid,
            port: up.port,
            ...(up.requestedPort !== undefined ? { requestedPort: up.requestedPort } : {}),
            alreadyRunning: up.alreadyRunning,
            dataDir: dir,
          },
          text: up.host,
        };
      }),
    );

  registry
    .command('down')
    .description('stop the embedded registry (only the process aibox started)')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry down')
    .action(
      run(async (ctx) => {
        const { dir } = await embeddedDir(ctx);
        const down = await registryDown({ dataDir: dir });
        return {
          data: { ...down, dataDir: dir },
          text: down.stopped
            ? `stopped the embedded registry (pid ${down.pid})`
            : 'the embedded registry is not running',
        };
      }),
    );

  registry
    .command('status')
    .description('show whether the embedded registry runs, where, and its storage directory')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry status --json')
    .action(
      run(async (ctx) => {
        const { dir } = await embeddedDir(ctx);
        const st = await registryStatus({ dataDir: dir });
        return {
          data: st,
          text: st.running
            ? `running at ${st.host} (pid ${st.pid}), storage ${st.dataDir}${st.requestedPort !== undefined ? `\nport ${st.requestedPort} (embedded.port) was in use by another process; it runs on ${st.port} instead` : ''}`
            : `not running (storage ${st.dataDir})`,
          exitCode: st.running ? 0 : 1,
        };
      }),
    );
};
