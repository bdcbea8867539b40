/**
 * The composition root of `aibox start` / `stop`, and of the fleet report that start, check and
 * update send: builds the Podman adapter from the developer config, resolves the workspace, binds
 * the preflight (its ports from dev-deps.ts) and the fleet sender, and hands them to the workflows.
 */
import { realpath, stat } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { Podman } from '../engine/podman.js';
import {
  fleetClientId,
  fleetSettings,
  reportFromError,
  reportFromPreflight,
  reportFromUpdate,
  type FleetContext,
  type FleetEvent,
  type FleetReport,
  type FleetUpdateOutcome,
} from '../fleet/report.js';
import { preflight, type Preflight } from '../sandbox/preflight.js';
import { listSandboxes, type StartDeps } from '../sandbox/start.js';
import { LABELS } from '../core/labels.js';
import type { DevContext } from './command.js';
import { createDevDeps } from './dev-deps.js';
import { VERSION } from './version.js';

/** The workspace directory, absolute and with symlinks resolved (one sandbox per real directory). */
export async function resolveWorkspace(ctx: DevContext, dir: string | undefined): Promise<string> {
  const path = resolve(ctx.cwd, dir ?? '.');
  try {
    const real = await realpath(path);
    if (!(await stat(real)).isDirectory()) throw new Error('not a directory');
    return real;
  } catch (e: unknown) {
    throw new AiboxError({
      code: 'USAGE',
      message: `workspace ${path} is not a directory: ${(e as Error).message}`,
      hint: 'Pass --workspace DIR with an existing directory (default: the current directory)',
      cause: e,
    });
  }
}

/** The sandbox engine: Podman with the developer config's engine settings (the host quirks). */
export async function sandboxEngine(ctx: DevContext): Promise<Podman> {
  const { config } = await ctx.config();
  return new Podman(config.engine, ctx.exec, ctx.logger);
}

/** Running sandboxes for `aibox status`: name, and the image tag they run (`aibox-base:24.04-…`). */
export async function runningSandboxes(ctx: DevContext): Promise<{ name: string; image: string }[]> {
  const all = await listSandboxes(await sandboxEngine(ctx));
  return all
    .filter((c) => c.running)
    .map((c) => {
      const variant = c.labels[LABELS.variant];
      const tag = c.labels[LABELS.sandboxTag];
      return { name: c.name, image: variant && tag ? `aibox-${variant}:${tag}` : c.image };
    });
}

/** The variant to use: --variant, else the developer config's. */
export async function variantOf(ctx: DevContext, flag: string | undefined): Promise<string> {
  return flag ?? (await ctx.config()).config.variant;
}

/** The one fleet report of a command, by what it ended with; each call resolves within the sender's budget. */
export interface FleetHook {
  // function-typed properties, not methods: `.catch(fleet.fail)` passes them detached
  readonly preflight: (pf: Preflight) => Promise<void>;
  readonly update: (r: FleetUpdateOutcome) => Promise<void>;
  readonly error: (e: unknown) => Promise<void>;
  /** For `.catch(fleet.fail)`: report the error, then rethrow it. */
  readonly fail: (e: unknown) => Promise<never>;
}

const NO_FLEET: FleetHook = {
  preflight: () => Promise.resolve(),
  update: () => Promise.resolve(),
  error: () => Promise.resolve(),
  fail: (e) => Promise.reject(e instanceof Error ? e : new Error(String(e))),
};

/** The fleet hook of this command (a no-op when the developer config has no `fleet.url`). */
export async function fleetHook(ctx: DevContext, event: FleetEvent, variant: string): Promise<FleetHook> {
  const settings = fleetSettings((await ctx.config()).config);
  if (!settings) return NO_FLEET;
  // node:http and the sender load only when a fleet URL is configured (check's start-up cost).
  const { fleetSender } = await import('../adapters/fleet-http.js');
  const send = fleetSender(settings, { logger: ctx.logger });
  const fc = (): FleetContext => ({
    clientId: fleetClientId(hostname(), userInfo().username),
    aiboxVersion: VERSION,
    now: ctx.now(),
  });
  const out = (r: FleetReport) => send(r);
  const error = (e: unknown) =>
    out(reportFromError(event, variant, e instanceof AiboxError ? e.code : undefined, fc()));
  return {
    preflight: (pf) => out(reportFromPreflight(event, variant, pf, fc())),
    update: (r) => out(reportFromUpdate(r, fc())),
    error,
    fail: async (e) => {
      await error(e);
      throw e;
    },
  };
}

/** The deps of `aibox start`: the engine, the preflight bound to the variant, the fleet report, stderr lines. */
export async function startDeps(
  ctx: DevContext,
  variant: string,
): Promise<{ deps: StartDeps; fleet: FleetHook }> {
  const devDeps = await createDevDeps(ctx);
  const fleet = await fleetHook(ctx, 'start', variant);
  return {
    deps: {
      engine: new Podman(devDeps.config.engine, ctx.exec, ctx.logger),
      preflight: () => preflight(devDeps, { variant, online: true }),
      report: (pf) => fleet.preflight(pf),
      reportError: (e) => fleet.error(e),
      say: (line) => ctx.io.err(`${line}\n`),
    },
    fleet,
  };
}

/** Whether stdin and stdout are both terminals (the sandbox gets a TTY then). */
export function onTerminal(): boolean {
  return process.stdin.isTTY && process.stdout.isTTY;
}
