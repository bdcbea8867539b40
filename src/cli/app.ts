/**
 * The CLI runner shared by `aiboxctl` and `aibox`: global options, command registration,
 * outcome printing, and the single place where errors become exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { AiboxError } from '../core/errors.js';
import type { GlobalOptions, ProgramContexts, RegisterCommands, Run } from './command.js';
import { createContext, createDevContext, type ContextDeps } from './context.js';
import { EXIT, EXIT_MEANING, type ExitName } from './exit.js';
import { printError, printOutcome } from './output.js';
import { VERSION } from './version.js';

export type ProgramName = 'aiboxctl' | 'aibox';

export interface CliDeps<C = ProgramContexts['aiboxctl']> extends ContextDeps {
  /** Override how a Context is made (tests). */
  readonly makeContext?: (global: GlobalOptions, deps: ContextDeps) => C;
  /** Wrap help at this width instead of the terminal's (generated docs). */
  readonly helpWidth?: number;
}

/** Each program builds its own context: aiboxctl the platform one, aibox the developer one. */
const contexts: {
  readonly [N in ProgramName]: (global: GlobalOptions, deps: ContextDeps) => ProgramContexts[N];
} = {
  aiboxctl: createContext,
  aibox: createDevContext,
};

const descriptions: Record<ProgramName, string> = {
  aiboxctl:
    'Platform and CI tool for aibox images: build, scan, sign, publish, promote, inspect.\n' +
    "Every command works against --registry, the config file's registry, or the embedded local registry.",
  aibox: 'Developer tool for aibox sandboxes: set up, update, check and start your sandbox container.',
};

/** The "Exit codes" section of --help, from the one table in exit.ts (as docs/exit-codes.md is). */
export function exitCodesHelp(): string {
  const rows = (Object.keys(EXIT) as ExitName[]).map(
    (name) => `  ${String(EXIT[name]).padEnd(3)} ${EXIT_MEANING[name]}`,
  );
  return `\nExit codes:\n${rows.join('\n')}`;
}

/** Build the commander program with global options; `register` adds the commands. */
export function buildProgram<N extends ProgramName>(
  name: N,
  registers: readonly RegisterCommands<ProgramContexts[N]>[],
  deps: CliDeps<ProgramContexts[N]>,
  state: { exitCode: number },
): Command {
  const program = new Command(name);
  program
    .description(descriptions[name])
    .version(VERSION, '-V, --version', 'print the version and exit')
    .option('--json', 'print the result as one JSON document on stdout', false)
    .option('--debug', 'log every subprocess and HTTP request to stderr', false)
    .addOption(
      new Option(
        '--config <file>',
        name === 'aibox'
          ? 'developer config file (default: $XDG_CONFIG_HOME/aibox/config.yaml)'
          : 'platform config file (default: $AIBOX_CONFIG, then ./aibox.yaml)',
      ),
    )
    .showHelpAfterError('(add --help for usage and examples)')
    .configureOutput({
      writeOut: (s) => {
        deps.io.out(s);
      },
      writeErr: (s) => {
        deps.io.err(s);
      },
    })
    .exitOverride()
    .addHelpText('after', exitCodesHelp());
  if (name === 'aiboxctl') {
    program.option(
      '--registry <host/project>',
      'registry and project to use, e.g. 127.0.0.1:5000/aibox (overrides the config)',
    );
  }
  program.configureHelp({ showGlobalOptions: true });

  const run: Run<ProgramContexts[N]> =
    (action) =>
    async (...args) => {
      const cmd = args[args.length - 1] as Command;
      const g = cmd.optsWithGlobals<{
        json?: boolean;
        debug?: boolean;
        config?: string;
        registry?: string;
      }>();
      const global: GlobalOptions = {
        json: Boolean(g.json),
        debug: Boolean(g.debug),
        config: g.config,
        registry: g.registry,
      };
      const ctx = (deps.makeContext ?? contexts[name])(global, deps);
      try {
        const outcome = await action(ctx, ...args);
        printOutcome(outcome, global.json, deps.io);
        state.exitCode = outcome.exitCode ?? EXIT.OK;
      } catch (e: unknown) {
        state.exitCode = printError(e, global.json, deps.io, global.debug);
      } finally {
        await ctx.dispose();
      }
    };
  for (const register of registers) register(program, run);
  // Every subcommand inherits output config and exit override for usage errors.
  const width = deps.helpWidth;
  const output = {
    writeOut: (s: string) => {
      deps.io.out(s);
    },
    writeErr: (s: string) => {
      deps.io.err(s);
    },
    ...(width ? { getOutHelpWidth: () => width, getErrHelpWidth: () => width } : {}),
  };
  program.configureOutput(output);
  const inherit = (c: Command) => {
    c.configureOutput(output);
    c.exitOverride();
    c.showHelpAfterError('(add --help for usage and examples)');
    c.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);
  return program;
}

/** Run a CLI with argv (without node and script), returning the exit code. */
export async function runCli<N extends ProgramName>(
  name: N,
  registers: readonly RegisterCommands<ProgramContexts[N]>[],
  argv: readonly string[],
  deps: CliDeps<ProgramContexts[N]>,
): Promise<number> {
  const state = { exitCode: EXIT.OK as number };
  const program = buildProgram(name, registers, deps, state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e: unknown) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.OK;
      // commander has printed its message on stderr; --json still gets the one envelope on stdout.
      if (argv.includes('--json')) {
        const message = e.message.replace(/^error: /, '');
        printError(new AiboxError({ code: 'USAGE', message }), true, { out: deps.io.out, err: () => {} });
      }
      return EXIT.USAGE;
    }
    return printError(
      e instanceof Error ? e : new AiboxError({ code: 'INTERNAL', message: String(e) }),
      argv.includes('--json'),
      deps.io,
    );
  }
  return state.exitCode;
}
