/**
 * Wires command files into the two programs and binds them to the real process. Only the command
 * file(s) the invocation needs are loaded (each is its own bundle chunk), so `aiboxctl verify`
 * does not pay for compiling the pipeline, scanners or Harbor client.
 */
import { runCli, type CliDeps } from './app.js';
import type { RegisterCommands } from './command.js';
import { processStreams } from './output.js';

type Loader = () => Promise<RegisterCommands>;

/** Command files of `aiboxctl`, in help order. */
const ctlModules: Record<string, Loader> = {
  registry: () => import('./commands/registry.js').then((m) => m.registerRegistryCommands),
  keys: () => import('./commands/keys.js').then((m) => m.registerKeysCommands),
  signing: () => import('./commands/signing.js').then((m) => m.registerSigningCommands),
  scan: () => import('./commands/scan.js').then((m) => m.registerScanCommands),
  pipeline: () => import('./commands/pipeline.js').then((m) => m.registerPipelineCommands),
};

/** Which command file defines each top-level `aiboxctl` command. */
const ctlOwners: Record<string, keyof typeof ctlModules> = {
  registry: 'registry',
  tags: 'registry',
  inspect: 'registry',
  keys: 'keys',
  sign: 'signing',
  verify: 'signing',
  'verify-blob': 'signing',
  scan: 'scan',
  rebuild: 'pipeline',
  promote: 'pipeline',
  status: 'pipeline',
  channel: 'pipeline',
  'local-base': 'pipeline',
  notify: 'pipeline',
};

/** Global options that take a value (so their value is not mistaken for the command name). */
const valued = new Set(['--config', '--registry']);

/** The first argument that names a command, skipping global options and their values. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (valued.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** The command files needed for argv: the owner of the command, or all of them (help, typos). */
export async function ctlCommandsFor(argv: readonly string[]): Promise<RegisterCommands[]> {
  const name = commandName(argv);
  const owner = name !== undefined && name !== 'help' ? ctlOwners[name] : undefined;
  const loaders = owner ? [ctlModules[owner]!] : Object.values(ctlModules);
  return Promise.all(loaders.map((l) => l()));
}

/** Command files of `aibox` (developer commands arrive in a later issue). */
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

export async function mainCtl(argv: readonly string[]): Promise<number> {
  return runCli('aiboxctl', await ctlCommandsFor(argv), argv, processDeps());
}

export function mainDev(argv: readonly string[]): Promise<number> {
  return runCli('aibox', devCommands, argv, processDeps());
}
