/**
 * Each program gets its own context: `aibox` reads the developer config and never the platform
 * config or the embedded registry; `aiboxctl` validates what the user typed before it starts
 * anything.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/app.js';
import type { DevContext, RegisterCommands } from '../../src/cli/command.js';
import { createContext, createDevContext } from '../../src/cli/context.js';

let home: string;
const io = { out: () => {}, err: () => {} };
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'aibox-context-'));
  await mkdir(join(home, 'xdg/aibox'), { recursive: true });
  await writeFile(join(home, 'xdg/aibox/config.yaml'), 'variant: java\nregistry:\n  host: harbor.test\n');
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

// A platform config that cannot be read: any use of it by `aibox` fails the run.
const env = () => ({
  HOME: home,
  XDG_CONFIG_HOME: join(home, 'xdg'),
  AIBOX_CONFIG: join(home, 'missing.yaml'),
});
const global = { json: true, debug: false };

describe('the aibox (developer) context', () => {
  it('loads $XDG_CONFIG_HOME/aibox/config.yaml and has no platform target or embedded registry', async () => {
    const ctx = createDevContext(global, { io, env: env(), cwd: home });
    const loaded = await ctx.config();
    expect(loaded.path).toBe(join(home, 'xdg/aibox/config.yaml'));
    expect(loaded.config).toMatchObject({ variant: 'java', registry: { host: 'harbor.test' } });
    expect(Object.keys(ctx)).not.toContain('target');
    expect(Object.keys(ctx)).not.toContain('resolveImage');
    await ctx.dispose();
  });

  it('is what `aibox` commands receive from the runner', async () => {
    let out = '';
    const probe: RegisterCommands<DevContext> = (program, run) => {
      program.command('probe').action(
        run(async (ctx) => {
          const { config } = await ctx.config();
          return { data: { variant: config.variant }, text: config.variant };
        }),
      );
    };
    const code = await runCli('aibox', [probe], ['probe'], {
      io: { out: (s) => void (out += s), err: () => {} },
      env: env(),
      cwd: home,
    });
    expect(code).toBe(0);
    expect(out.trim()).toBe('java');
  });
});

describe('the aiboxctl context', () => {
  it('checks references before anything starts; with --registry it needs no config', async () => {
    const ctx = createContext(global, {
      io,
      env: { HOME: home, AIBOX_CONFIG: join(home, 'missing.yaml') },
      cwd: home,
    });
    // The config is needed for the project; with none readable, the config error comes first, ...
    await expect(ctx.resolveImage('base')).rejects.toMatchObject({ code: 'CONFIG_NOT_FOUND' });
    const ok = createContext(
      { ...global, registry: '127.0.0.1:1/aibox' },
      { io, env: { HOME: home, AIBOX_CONFIG: join(home, 'missing.yaml') }, cwd: home },
    );
    // ... and with --registry the reference is checked without touching config or registry.
    await expect(ok.resolveImage('Bad//Ref')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    expect(await ok.resolveImage('base')).toEqual({ registry: '127.0.0.1:1', repository: 'aibox/base' });
    expect(await ok.resolveImage('harbor.test/p/x:1')).toEqual({
      registry: 'harbor.test',
      repository: 'p/x',
      tag: '1',
    });
  });
});
