/**
 * Generated documentation (pure: takes the program and source text, returns markdown). The exit-code
 * table comes from `exit.ts`, the command reference from the commander tree itself, so neither can
 * drift from the code: `scripts/gen-docs.mjs` writes them, `__tests__/docs.test.ts` fails when the
 * committed files are stale.
 */
import type { Command } from 'commander';
import { runCli, type ProgramName } from './app.js';
import type { ProgramContexts, RegisterCommands } from './command.js';
import { EXIT, EXIT_BY_CODE, EXIT_MEANING, type ExitName } from './exit.js';

/** Help is wrapped at this width in the docs, whatever the terminal that runs the generator. */
export const DOCS_HELP_WIDTH = 100;

const BEGIN = (name: string) => `<!-- BEGIN GENERATED ${name} (npm run gen; do not edit) -->`;
const END = (name: string) => `<!-- END GENERATED ${name} -->`;

/** Every member of the `ErrorCode` union in the text of src/core/errors.ts, in source order. */
export function errorCodesIn(errorsTs: string): string[] {
  const union = /export type ErrorCode =([\s\S]*?);/.exec(errorsTs)?.[1];
  if (!union) throw new Error('src/core/errors.ts: no `export type ErrorCode = …;` union found');
  return [...union.replace(/\/\/.*$/gm, '').matchAll(/'([A-Z0-9_]+)'/g)].flatMap((m) => (m[1] ? [m[1]] : []));
}

/** The exit-code table: code, meaning, and every error code that exits with it. */
export function exitCodeTable(errorCodes: readonly string[]): string {
  const byExit = new Map<number, string[]>();
  for (const code of errorCodes) {
    const exit = (EXIT_BY_CODE as Record<string, number | undefined>)[code] ?? EXIT.FAILURE;
    byExit.set(exit, [...(byExit.get(exit) ?? []), code]);
  }
  const rows = (Object.keys(EXIT) as ExitName[]).map((name) => {
    const codes = byExit.get(EXIT[name]) ?? [];
    return `| ${EXIT[name]} | ${EXIT_MEANING[name]} | ${codes.length ? codes.map((c) => `\`${c}\``).join(', ') : '—'} |`;
  });
  return ['| exit | meaning | error codes |', '|---|---|---|', ...rows].join('\n');
}

/** Replace the generated block `name` in a markdown text (the block must exist once). */
export function replaceGenerated(text: string, name: string, body: string): string {
  const b = text.indexOf(BEGIN(name));
  const e = text.indexOf(END(name));
  if (b < 0 || e < b) throw new Error(`no generated block "${name}" (${BEGIN(name)} … ${END(name)})`);
  return `${text.slice(0, b)}${BEGIN(name)}\n${body}\n${text.slice(e)}`;
}

function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

async function helpOf<N extends ProgramName>(
  name: N,
  registers: readonly RegisterCommands<ProgramContexts[N]>[],
  path: readonly string[],
) {
  let out = '';
  const code = await runCli(name, registers, [...path, '--help'], {
    io: { out: (s) => void (out += s), err: () => {} },
    env: {},
    cwd: '/',
    helpWidth: DOCS_HELP_WIDTH,
  });
  if (code !== 0) throw new Error(`${name} ${path.join(' ')} --help exited ${code}`);
  return out.trimEnd();
}

/** docs/cli.md: every command of both programs with its full --help (options, defaults, examples). */
export async function renderCliReference(
  programs: readonly {
    name: ProgramName;
    help: (path: readonly string[]) => Promise<string>;
    build: () => Command;
  }[],
): Promise<string> {
  const parts = [
    '# Command reference',
    '',
    BEGIN('cli'),
    '',
    'Generated from the commander tree by `npm run gen` (`scripts/gen-docs.mjs`); a test fails when',
    'this file is stale. Exit codes: [exit-codes.md](exit-codes.md).',
  ];
  for (const p of programs) {
    const all = paths(p.build());
    parts.push('', `## ${p.name}`, '');
    for (const path of all)
      parts.push(
        `${'  '.repeat(path.length - 1)}- [\`${p.name} ${path.join(' ')}\`](#${anchor(p.name, path)})`,
      );
    parts.push('', '```text', await p.help([]), '```');
    for (const path of all) {
      parts.push('', `### ${p.name} ${path.join(' ')}`, '');
      parts.push('```text', await p.help(path), '```');
    }
  }
  parts.push('', END('cli'), '');
  return parts.join('\n');
}

// GitHub's heading anchors: lowercase, spaces to '-', punctuation other than '-' dropped.
function anchor(name: string, path: readonly string[]): string {
  return `${name} ${path.join(' ')}`
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/**
 * Every generated file's exact committed text, keyed by path from the repo root. `read` returns a
 * committed file's text (the generator keeps the hand-written prose around the generated blocks).
 */
export async function renderDocs(
  read: (path: string) => string,
  ctlRegisters: readonly RegisterCommands[],
  devRegisters: readonly RegisterCommands<ProgramContexts['aibox']>[],
): Promise<Record<string, string>> {
  const { buildProgram } = await import('./app.js');
  const io = { out: () => {}, err: () => {} };
  const state = { exitCode: 0 };
  return {
    'docs/exit-codes.md': replaceGenerated(
      read('docs/exit-codes.md'),
      'exit-codes',
      exitCodeTable(errorCodesIn(read('src/core/errors.ts'))),
    ),
    'docs/cli.md': await renderCliReference([
      {
        name: 'aiboxctl',
        help: (path) => helpOf('aiboxctl', ctlRegisters, path),
        build: () => buildProgram('aiboxctl', ctlRegisters, { io, env: {}, cwd: '/' }, state),
      },
      {
        name: 'aibox',
        help: (path) => helpOf('aibox', devRegisters, path),
        build: () => buildProgram('aibox', devRegisters, { io, env: {}, cwd: '/' }, state),
      },
    ]),
  };
}
