import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli } from '../app.js';
import { ctlCommandsFor } from '../main.js';

function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

describe('aiboxctl --help', async () => {
  const registers = await ctlCommandsFor(['--help']);
  const io = { out: () => {}, err: () => {} };
  const program = buildProgram('aiboxctl', registers, { io, env: {}, cwd: '/' }, { exitCode: 0 });
  const all = paths(program);

  it('knows every command file', () => {
    expect(all.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['tags', 'sign', 'scan', 'rebuild', 'channel show']),
    );
  });

  it.each(all.map((p) => [p.join(' '), p] as const))(
    '"%s --help" teaches with an example',
    async (_name, path) => {
      let out = '';
      const code = await runCli('aiboxctl', registers, [...path, '--help'], {
        io: { out: (s) => void (out += s), err: () => {} },
        env: {},
        cwd: '/',
      });
      expect(code).toBe(0);
      expect(out).toMatch(/Examples?:\n\s+\$ (\S+=\S+ )?aiboxctl /);
    },
  );

  it('loads only the command file a command needs', async () => {
    expect(await ctlCommandsFor(['--registry', 'h:1/p', 'verify', 'x'])).toHaveLength(1);
    expect(await ctlCommandsFor(['--config', 'rebuild', 'tags'])).toHaveLength(1);
    expect((await ctlCommandsFor(['nosuchcommand'])).length).toBeGreaterThan(1);
  });
});
