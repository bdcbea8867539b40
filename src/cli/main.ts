/** Wires command files into the two programs and binds them to the real process. */
import { runCli, type CliDeps } from './app.js';
import type { RegisterCommands } from './command.js';
import { processStreams } from './output.js';
import { registerRegistryCommands } from './commands/registry.js';
import { registerPipelineCommands } from './commands/pipeline.js';
import { registerScanCommands } from './commands/scan.js';
import { registerSigningCommands } from './commands/signing.js';

/** Command files of `aiboxctl`, in help order. */
export const ctlCommands: readonly RegisterCommands[] = [
  registerRegistryCommands,
  registerSigningCommands,
  registerScanCommands,
  registerPipelineCommands,
];
/** Command files of `aibox`. */
export const devCommands: readonly RegisterCommands[] = [];

// A closed pipe (`aiboxctl tags base | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

function processDeps(): CliDeps {
  return {
    io: processStreams,
    env: process.env,
    cwd: process.cwd(),
    interactive: Boolean(process.stderr.isTTY),
  };
}

export function mainCtl(argv: readonly string[]): Promise<number> {
  return runCli('aiboxctl', ctlCommands, argv, processDeps());
}

export function mainDev(argv: readonly string[]): Promise<number> {
  return runCli('aibox', devCommands, argv, processDeps());
}
