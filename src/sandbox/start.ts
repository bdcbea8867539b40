/**
 * `aibox start` and `aibox stop`: the preflight first (signature → exit 12, floor → exit 3, nothing
 * started), then a named sandbox per variant and workspace, or an attach to the one already running.
 * Typed against the `SandboxEngine` port; the preflight and the fleet report come in as functions.
 */
import { LABELS } from '../core/labels.js';
import type { SandboxEngine } from '../engine/engine.js';
import { signatureValidLine } from '../signing/messages.js';
import { attachOptions, decideLaunch, runOptions, sandboxName } from './launch.js';
import type { Preflight, PreflightImage } from './preflight.js';

export interface StartDeps {
  readonly engine: SandboxEngine;
  /** The preflight of `aibox check` (slice devcli), bound to the variant. */
  readonly preflight: () => Promise<Preflight>;
  /** The one fleet report of this run, once the preflight's outcome is known (never throws). */
  readonly report?: ((pf: Preflight) => Promise<void>) | undefined;
  /** The fleet report when the preflight could not run at all (registry, podman, cache errors). */
  readonly reportError?: ((e: unknown) => Promise<void>) | undefined;
  /** One line for the developer (stderr): the signature line, warnings, notices. */
  readonly say: (line: string) => void;
}

export interface StartOptions {
  readonly variant: string;
  /** absolute, resolved workspace directory */
  readonly workspace: string;
  /** `-- CMD …`; empty = an interactive shell */
  readonly command: readonly string[];
  /** stdin and stdout are terminals */
  readonly tty: boolean;
}

export interface StartResult {
  readonly container: string;
  /** 'run': a new sandbox; 'attach': into the running one (possibly an older image) */
  readonly mode: 'run' | 'attach';
  readonly olderImage: boolean;
  readonly image: PreflightImage;
  /** the command's (or shell's) exit code */
  readonly exitCode: number;
}

/** The `aibox stop` hint for a sandbox (same variant and workspace flags the developer used). */
export function stopCommand(variant: string): string {
  return variant === 'base' ? 'aibox stop' : `aibox stop --variant ${variant}`;
}

/** Preflight, then run or attach; throws the preflight's error (exit 12 / 3) with nothing started. */
export async function startSandbox(deps: StartDeps, opts: StartOptions): Promise<StartResult> {
  const name = sandboxName(opts.variant, opts.workspace);
  let pf: Preflight;
  try {
    pf = await deps.preflight();
  } catch (e: unknown) {
    await deps.reportError?.(e);
    throw e;
  }
  const reported = deps.report ? deps.report(pf) : Promise.resolve();
  try {
    if (!pf.ok) throw pf.error;
    deps.say(signatureValidLine({ signer: pf.signer, signedAt: new Date(pf.signedAt) }));
    for (const w of pf.warnings) deps.say(w);
    return await launch(deps, opts, name, pf);
  } finally {
    await reported;
  }
}

/**
 * Run the sandbox, or attach to the one already there. No `podman ps` before the common case: `podman run
 * --name` is tried directly, and only when podman refuses the name is the container looked up (attach, older
 * image, below the floor, stopped leftover) exactly as a lookup first would have decided.
 */
async function launch(
  deps: StartDeps,
  opts: StartOptions,
  name: string,
  pf: Extract<Preflight, { ok: true }>,
): Promise<StartResult> {
  const runWith = (): ReturnType<typeof runOptions> =>
    runOptions({
      name,
      image: pf.image,
      workspace: opts.workspace,
      command: opts.command,
      tty: opts.tty,
      identity: deps.engine.identity(),
    });
  let run: ReturnType<typeof runOptions> | undefined;
  try {
    run = runWith();
  } catch {
    run = undefined; // an unmountable workspace: still attach to a running sandbox; a new run throws below
  }
  if (run) {
    const r = await deps.engine.runAttached({ ...run, reportNameInUse: true });
    if (!r.nameInUse)
      return { container: name, mode: 'run', olderImage: false, image: pf.image, exitCode: r.exitCode };
  }
  const found = await deps.engine.listContainers({ [LABELS.sandbox]: name });
  const decision = decideLaunch(found, name, pf.image, pf.floor, stopCommand(opts.variant));
  switch (decision.kind) {
    case 'refuse':
      throw decision.error;
    case 'attach':
    case 'attach-older': {
      if (decision.kind === 'attach-older') deps.say(decision.notice);
      const r = await deps.engine.execAttached(decision.container, attachOptions(opts.command, opts.tty));
      return {
        container: decision.container,
        mode: 'attach',
        olderImage: decision.kind === 'attach-older',
        image: pf.image,
        exitCode: r.exitCode,
      };
    }
    case 'run': {
      const again = runWith();
      if (decision.removeFirst) await deps.engine.rm(decision.removeFirst, { force: true, time: 0 });
      // Podman's own message is shown this time (e.g. a foreign container holding the name).
      const r = await deps.engine.runAttached(again);
      return { container: name, mode: 'run', olderImage: false, image: pf.image, exitCode: r.exitCode };
    }
  }
}

export interface StopResult {
  readonly container: string;
  readonly stopped: boolean;
}

/** `aibox stop`: remove the sandbox of this variant and workspace (running or left over). */
export async function stopSandbox(
  engine: SandboxEngine,
  opts: { readonly variant: string; readonly workspace: string; readonly graceSeconds?: number },
): Promise<StopResult> {
  const name = sandboxName(opts.variant, opts.workspace);
  const found = await engine.listContainers({ [LABELS.sandbox]: name });
  if (found.length === 0) return { container: name, stopped: false };
  for (const c of found) await engine.rm(c.name, { force: true, time: opts.graceSeconds ?? 5 });
  return { container: name, stopped: true };
}

/** Every sandbox on this machine (for `aibox status`). */
export function listSandboxes(engine: SandboxEngine): ReturnType<SandboxEngine['listContainers']> {
  return engine.listContainers({ [LABELS.sandbox]: true });
}
