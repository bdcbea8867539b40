/**
 * The composition root of `aibox start` / `stop` (and the fleet report of start/check/update): builds
 * the Podman adapter from the developer config, resolves the workspace, binds the preflight and the
 * fleet sender, and hands them to src/sandbox/start.ts as ports.
 */
import { stat, realpath } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fleetSender } from '../adapters/fleet-http.js';
import { AiboxError } from '../core/errors.js';
import { Podman } from '../engine/podman.js';
import {
  failureReport,
  fleetClientId,
  fleetSettings,
  reportFromPreflight,
  type FleetEvent,
  type FleetReport,
} from '../fleet/report.js';
import { preflight, type Preflight, type PreflightDeps } from '../sandbox/preflight.js';
import type { StartDeps } from '../sandbox/start.js';
import type { DevContext } from './command.js';
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

/** The sandbox engine: Podman with the developer config's engine settings (host quirks). */
export async function sandboxEngine(ctx: DevContext): Promise<Podman> {
  const { config } = await ctx.config();
  return new Podman(config.engine, ctx.exec, ctx.logger);
}

/** The variant to use: --variant, else the developer config's. */
export async function variantOf(ctx: DevContext, flag: string | undefined): Promise<string> {
  return flag ?? (await ctx.config()).config.variant;
}

/** The fleet sink for this command's event, or undefined when no fleet URL is configured. */
export async function fleetReporter(
  ctx: DevContext,
  event: FleetEvent,
  variant: string,
): Promise<((pf: Preflight | undefined) => Promise<void>) | undefined> {
  const settings = fleetSettings((await ctx.config()).config);
  if (!settings) return undefined;
  const send = fleetSender(settings, { logger: ctx.logger });
  const context = () => ({
    clientId: fleetClientId(hostname(), userInfo().username),
    aiboxVersion: VERSION,
    now: ctx.now(),
  });
  return (pf) => {
    const report: FleetReport = pf
      ? reportFromPreflight(event, variant, pf, context())
      : failureReport(event, variant, context());
    return send(report);
  };
}

/** The deps of `aibox start`: the engine, the preflight bound to the variant, the fleet report, stderr lines. */
export async function startDeps(ctx: DevContext, variant: string, engine: Podman): Promise<StartDeps> {
  const report = await fleetReporter(ctx, 'start', variant);
  return {
    engine,
    preflight: async () => preflight(await preflightDeps(ctx, engine), { variant, online: true }),
    report,
    say: (line) => ctx.io.err(`${line}\n`),
  };
}

/** The preflight's ports (slice devcli's PreflightDeps; bound here once merged). */
async function preflightDeps(_ctx: DevContext, _engine: Podman): Promise<PreflightDeps> {
  throw new AiboxError({ code: 'INTERNAL', message: 'aibox start: preflight deps not wired yet (slice devcli)' });
}

/** Whether stdin and stdout are both terminals (an interactive shell gets a TTY then). */
export function onTerminal(): boolean {
  return process.stdin.isTTY && process.stdout.isTTY;
}
