/**
 * The pure core of `aibox start`/`stop`: the sandbox's name (variant + a hash of the workspace), its
 * labels, the user mapping, the run and attach options, and what to do about a container that is
 * already there. Plain values in, plain values out; the workflow (start.ts) does the I/O.
 */
import { AiboxError } from '../core/errors.js';
import { LABELS } from '../core/labels.js';
import type {
  ContainerInfo,
  EngineIdentity,
  SandboxExecOptions,
  SandboxRunOptions,
} from '../engine/engine.js';
import { sha256Digest } from '../oci/digest.js';
import { belowFloor, securityUpdateRequired } from './floor.js';
import type { PreflightImage, VariantFloor } from './preflight.js';

/** Where the workspace appears inside every sandbox. */
export const WORKSPACE_MOUNT = '/workspace';

/** The login shell an attach opens: bash when the image has it, else sh. */
export const ATTACH_SHELL: readonly string[] = [
  '/bin/sh',
  '-c',
  'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi',
];

/**
 * `aibox-<variant>-<workspace basename>-<12 hex of sha256(workspace path)>`: one sandbox per variant and
 * workspace, readable in `podman ps`, and two workspaces with the same basename never collide.
 */
export function sandboxName(variant: string, workspace: string): string {
  const hash = sha256Digest(new TextEncoder().encode(workspace)).slice(
    'sha256:'.length,
    'sha256:'.length + 12,
  );
  const base = workspace.split('/').filter(Boolean).pop() ?? 'root';
  const slug =
    base
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 24)
      .replace(/[-_.]+$/, '') || 'root';
  return `aibox-${variant}-${slug}-${hash}`;
}

/** The labels a sandbox container carries (the adapter adds dev.aibox.managed). */
export function sandboxLabels(
  name: string,
  image: PreflightImage,
  workspace: string,
): Record<string, string> {
  return {
    [LABELS.sandbox]: name,
    [LABELS.variant]: image.variant,
    [LABELS.sandboxDigest]: image.digest,
    [LABELS.sandboxTag]: image.tag,
    [LABELS.sandboxImageCreated]: image.created,
    [LABELS.sandboxWorkspace]: workspace,
  };
}

/** How the sandbox's user maps to the developer: keep-id when rootless; `--user` for a non-root developer on rootful podman; root keeps the image's non-root user. */
export function userMapping(id: EngineIdentity): { keepId?: true; user?: string } {
  if (id.rootless) return { keepId: true };
  if (id.uid !== 0) return { user: `${id.uid}:${id.gid}` };
  return {};
}

export interface LaunchInput {
  readonly name: string;
  readonly image: PreflightImage;
  /** absolute, resolved workspace path on the host */
  readonly workspace: string;
  /** CMD …; empty = the image's shell */
  readonly command: readonly string[];
  /** stdin and stdout are terminals */
  readonly tty: boolean;
  readonly identity: EngineIdentity;
}

/** The `podman run` of a new sandbox: named, labelled, workspace at /workspace, removed when its command ends. */
export function runOptions(input: LaunchInput): SandboxRunOptions {
  if (/[:,\n]/.test(input.workspace) || !input.workspace.startsWith('/')) {
    throw new AiboxError({
      code: 'USAGE',
      message: `workspace "${input.workspace}" cannot be mounted: the path must be absolute and free of ':' , ',' and newlines`,
      hint: 'Pass --workspace with a directory whose path has none of these characters (or a symlink to it)',
    });
  }
  return {
    image: input.image.ref,
    name: input.name,
    labels: sandboxLabels(input.name, input.image, input.workspace),
    volumes: [`${input.workspace}:${WORKSPACE_MOUNT}`],
    workdir: WORKSPACE_MOUNT,
    args: input.command,
    tty: input.tty,
    interactive: true,
    rm: true,
    ...userMapping(input.identity),
  };
}

/** The `podman exec` that attaches to a running sandbox: CMD, or a login shell. */
export function attachOptions(command: readonly string[], tty: boolean): SandboxExecOptions {
  return {
    args: command.length > 0 ? command : ATTACH_SHELL,
    tty,
    interactive: true,
    workdir: WORKSPACE_MOUNT,
  };
}

export type LaunchDecision =
  /** nothing there (or only a stopped leftover, to remove first): run a new sandbox */
  | { readonly kind: 'run'; readonly removeFirst?: string }
  /** running from the image the preflight verified: attach */
  | { readonly kind: 'attach'; readonly container: string }
  /** running from an older image that still meets the floor: attach, and say how to switch */
  | { readonly kind: 'attach-older'; readonly container: string; readonly notice: string }
  /** running from an image below the floor: refuse to attach */
  | { readonly kind: 'refuse'; readonly error: AiboxError };

/** What to do with what `podman ps --all` found for this sandbox's name. */
export function decideLaunch(
  existing: readonly ContainerInfo[],
  name: string,
  image: PreflightImage,
  floor: VariantFloor | null,
  stopHint: string,
): LaunchDecision {
  const mine = existing.find((c) => c.name === name) ?? existing[0];
  if (!mine) return { kind: 'run' };
  if (!mine.running) return { kind: 'run', removeFirst: mine.name };
  const digest = mine.labels[LABELS.sandboxDigest];
  if (digest === image.digest) return { kind: 'attach', container: mine.name };
  const created = mine.labels[LABELS.sandboxImageCreated] ?? '';
  const tag = mine.labels[LABELS.sandboxTag] ?? digest ?? 'an unknown image';
  if (floor && belowFloor(created, floor)) {
    return {
      kind: 'refuse',
      error: new AiboxError({
        code: 'POLICY_REFUSED',
        message: securityUpdateRequired(floor),
        hint: `Sandbox ${mine.name} runs ${tag}, below the security floor; stop it with '${stopHint}', then 'aibox start' again`,
        details: { container: mine.name, runningTag: tag, runningDigest: digest ?? null, floor },
      }),
    };
  }
  return {
    kind: 'attach-older',
    container: mine.name,
    notice:
      `Sandbox ${mine.name} is running an older image (${tag}); the current one is ${image.tag}.\n` +
      `Attaching to the running sandbox. To switch: '${stopHint}', then 'aibox start'.`,
  };
}
