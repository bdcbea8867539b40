/**
 * Wires command files into the two programs and binds them to the real process. Only the command
 * file(s) the invocation needs are loaded (each is its own bundle chunk), so `aiboxctl verify`
 * does not pay for compiling the pipeline, scanners or Harbor client.
 */
import { runCli } from './app.js';
import type { ContextDeps } from './context.js';
import type { DevContext, RegisterCommands } from './command.js';
import { processStreams } from './output.js';

type Loader = () => Promise<RegisterCommands>;

/** Command files of `aiboxctl`, in help order. */
const ctlModules: Record<string, Loader> = {
  registry: () => import('./commands/registry.js').then((m) => m.registerRegistryCommands),
  tags: () => import('./commands/tags.js').then((m) => m.registerTagsCommands),
  inspect: () => import('./commands/inspect.js').then((m) => m.registerInspectCommands),
  keys: () => import('./commands/keys.js').then((m) => m.registerKeysCommands),
  signing: () => import('./commands/signing.js').then((m) => m.registerSigningCommands),
  scan: () => import('./commands/scan.js').then((m) => m.registerScanCommands),
  rebuild: () => import('./commands/rebuild.js').then((m) => m.registerRebuildCommands),
  status: () => import('./commands/status.js').then((m) => m.registerStatusCommands),
  channel: () => import('./commands/channel.js').then((m) => m.registerChannelCommands),
  notify: () => import('./commands/notify.js').then((m) => m.registerNotifyCommands),
  cve: () => import('./commands/cve.js').then((m) => m.registerCveCommands),
};

/** Which command file defines each top-level `aiboxctl` command. */
const ctlOwners: Record<string, keyof typeof ctlModules> = {
  registry: 'registry',
  tags: 'tags',
  inspect: 'inspect',
  keys: 'keys',
  sign: 'signing',
  verify: 'signing',
  'verify-blob': 'signing',
  scan: 'scan',
  rebuild: 'rebuild',
  promote: 'rebuild',
  status: 'status',
  channel: 'channel',
  'local-base': 'notify',
  notify: 'notify',
  cve: 'cve',
};

/** Global options that take a value (so their value is not mistaken for the command name). */
const valued = new Set(['--config', '--registry']);

/** The first argument that names a command, skipping global options and their values. */
export function commandName(argv: readonly string[]): string | undefined {
  let skipValue = false;
  for (const a of argv) {
    if (skipValue) skipValue = false;
    else if (valued.has(a)) skipValue = true;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** The command files needed for argv: the owner of the command, or all of them (help, typos). */
export async function ctlCommandsFor(argv: readonly string[]): Promise<RegisterCommands[]> {
  const name = commandName(argv);
  const owner = name !== undefined && name !== 'help' ? ctlOwners[name] : undefined;
  const load = owner ? ctlModules[owner] : undefined;
  const loaders = load ? [load] : Object.values(ctlModules);
  return Promise.all(loaders.map((l) => l()));
}

/** Command files of `aibox` (developer commands arrive in a later issue). */
export const devCommands: readonly RegisterCommands<DevContext>[] = [];

// A closed pipe (`aiboxctl tags base | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

function processDeps(): ContextDeps {
  return {
    io: processStreams,
    env: process.env,
    cwd: process.cwd(),
    interactive: process.stderr.isTTY,
  };
}

export async function mainCtl(argv: readonly string[]): Promise<number> {
  return runCli('aiboxctl', await ctlCommandsFor(argv), argv, processDeps());
}

export function mainDev(argv: readonly string[]): Promise<number> {
  return runCli('aibox', devCommands, argv, processDeps());
}
