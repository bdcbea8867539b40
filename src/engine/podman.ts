/**
 * Podman adapter: every call goes through `Exec` with an args array. Host quirks (runtime, cgroup
 * manager, ulimits, storage roots) come from `EngineSettings` — never hard-coded here. JSON from
 * podman is parsed into declared types at this boundary.
 */
import { LABELS } from '../core/labels.js';
import type { Engine, SandboxEngine } from './engine.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exec, ExecOptions, ExecResult } from '../adapters/exec.js';
import type { EngineSettings } from '../config/schema.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { NameInUseWatch } from './name-in-use.js';
import { referenceHost, tlsVerifyFor } from './tls.js';

/** Every image and container aibox (or a test) creates carries this label, so one filter cleans up. */
export const MANAGED_LABEL = LABELS.managed;
/** Optional label grouping everything one run (pipeline, test file) created. */
export const RUN_ID_LABEL = LABELS.runId;

export interface BuildOptions {
  readonly contextDir: string;
  /** default: Containerfile/Dockerfile in contextDir (podman's rule) */
  readonly containerfile?: string | undefined;
  /** The Containerfile's text, instead of a file (emergency patches): written to a private temp file. */
  readonly containerfileText?: string | undefined;
  /**
   * The image's `created` (RFC 3339; `--timestamp`, whole seconds): the config's `created` then equals the
   * `org.opencontainers.image.created` label the pipeline sets, one value per image (issue 9 §4).
   */
  readonly created?: string | undefined;
  readonly tags: readonly string[];
  readonly buildArgs?: Readonly<Record<string, string>> | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  readonly pull?: 'never' | 'missing' | 'always' | undefined;
  /** false: do not commit intermediate layers or use the layer cache (`--layers=false`) */
  readonly layers?: boolean | undefined;
  /** TLS verification when the build pulls its FROM image (default: podman's) */
  readonly tlsVerify?: boolean | undefined;
  readonly runId?: string | undefined;
  /** one line of build output at a time (STEP lines, RUN output) */
  readonly onProgress?: ((line: string) => void) | undefined;
}

export interface ImportOptions {
  /** A tar stream of the root filesystem. */
  readonly input: NodeJS.ReadableStream;
  /** Name of the image to create, e.g. localhost/aibox-local-base:host. */
  readonly reference: string;
  /** Containerfile instructions to apply, e.g. `CMD ["/bin/bash"]`, `LABEL k=v`. */
  readonly changes?: readonly string[];
  readonly timeoutMs?: number;
}

export interface PullOptions {
  readonly tlsVerify?: boolean | undefined;
  /** Podman's progress lines (for a terminal); without it the pull is quiet. */
  readonly onProgress?: ((line: string) => void) | undefined;
}

export interface PushOptions {
  /** default: engine.tlsVerify, else auto by host (off for loopback) */
  readonly tlsVerify?: boolean | undefined;
  readonly format?: 'oci' | 'v2s2' | undefined;
}

export interface RunOptions {
  readonly image: string;
  readonly name?: string | undefined;
  readonly args?: readonly string[] | undefined;
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly runId?: string | undefined;
  readonly rm?: boolean | undefined;
  readonly detach?: boolean | undefined;
  readonly interactive?: boolean | undefined;
  /** `host:container[:opts]` */
  readonly volumes?: readonly string[] | undefined;
}

export interface RunResult {
  /** set when detached (podman prints the container id) */
  readonly containerId?: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ImageInfo {
  /** image id (config digest hex, no `sha256:`) */
  readonly id: string;
  /** manifest digest in local storage (`sha256:…`); the registry digest comes from `push` */
  readonly digest: string;
  readonly created: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly architecture: string;
  readonly os: string;
  readonly size: number;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
}

/** A sandbox container, run attached to this process's terminal/streams (`aibox start`). */
export interface SandboxRunOptions {
  readonly image: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `host:container[:opts]` */
  readonly volumes: readonly string[];
  readonly workdir?: string | undefined;
  /** the command; empty = the image's CMD (the login shell) */
  readonly args: readonly string[];
  /** `--tty` (stdin and stdout are terminals) */
  readonly tty: boolean;
  /** `--interactive` (keep stdin open) */
  readonly interactive: boolean;
  /** `--userns keep-id` (rootless: the developer's uid is the same inside) */
  readonly keepId?: boolean | undefined;
  /** `--user uid:gid` (rootful, developer not root) */
  readonly user?: string | undefined;
  /** remove the container when its command ends */
  readonly rm: boolean;
  /**
   * When podman refuses the name (a container of that name exists), return `nameInUse` and print nothing of
   * podman's refusal (the caller looks the container up and attaches); otherwise podman's message is shown.
   */
  readonly reportNameInUse?: boolean | undefined;
}

/** Attaching to a running sandbox: a new process inside it (`podman exec`). */
export interface SandboxExecOptions {
  readonly args: readonly string[];
  readonly tty: boolean;
  readonly interactive: boolean;
  readonly workdir?: string | undefined;
}

/** Who runs the engine: rootless (keep-id mapping) or rootful, and the developer's uid/gid. */
export interface EngineIdentity {
  readonly rootless: boolean;
  readonly uid: number;
  readonly gid: number;
}

/** A container as `podman ps --format json` reports it, parsed at this boundary. */
export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  /** the image reference it was created from */
  readonly image: string;
  /** local image id (hex, no `sha256:`) */
  readonly imageId: string;
  /** podman's state: running, exited, created, paused, … */
  readonly state: string;
  readonly running: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PodmanVersion {
  readonly version: string;
  readonly apiVersion: string;
  readonly osArch: string;
}

function labelArgs(labels: Readonly<Record<string, string>>, flag: string): string[] {
  return Object.entries(labels).flatMap(([k, v]) => [flag, `${k}=${v}`]);
}

function str(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  throw new AiboxError({
    code: 'INTERNAL',
    message: `podman returned unexpected JSON: ${what} is not a string`,
  });
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  }
  return out;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e: unknown) {
    throw new AiboxError({ code: 'INTERNAL', message: `podman returned invalid JSON for ${what}`, cause: e });
  }
}

/** Splits streamed chunks into whole lines for progress callbacks. */
function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    },
    flush() {
      if (buf) onLine(buf);
      buf = '';
    },
  };
}

/** The one way aibox drives Podman (build, push, pull, run, inspect, clean up). */
export class Podman implements Engine, SandboxEngine {
  readonly #settings: EngineSettings;
  readonly #exec: Exec;
  readonly #logger: Logger;

  constructor(settings: EngineSettings, exec: Exec, logger: Logger = silentLogger) {
    this.#settings = settings;
    this.#exec = exec;
    this.#logger = logger;
  }

  /** Global flags from the engine settings (host quirks live in config, e.g. profiles/local/aibox.yaml). */
  globalArgs(): string[] {
    const s = this.#settings;
    return [
      ...(s.runtime ? ['--runtime', s.runtime] : []),
      ...(s.cgroupManager ? ['--cgroup-manager', s.cgroupManager] : []),
      ...(s.root ? ['--root', s.root] : []),
      ...(s.runroot ? ['--runroot', s.runroot] : []),
    ];
  }

  #ulimitArgs(): string[] {
    return this.#settings.ulimits.flatMap((u) => ['--ulimit', u]);
  }

  async #run(args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    try {
      return await this.#exec(this.#settings.podman, [...this.globalArgs(), ...args], {
        label: `podman ${args[0] ?? ''}`.trim(),
        ...opts,
      });
    } catch (e: unknown) {
      if (isAiboxError(e, 'TOOL_MISSING')) {
        throw new AiboxError({
          code: 'TOOL_MISSING',
          message: `podman not found (${this.#settings.podman})`,
          hint: "Install podman (Debian/Ubuntu: 'apt-get install podman'), or set engine.podman to its path in the aibox config",
          cause: e,
        });
      }
      throw e;
    }
  }

  #managedLabels(labels?: Readonly<Record<string, string>>, runId?: string): Record<string, string> {
    return { ...labels, [MANAGED_LABEL]: 'true', ...(runId ? { [RUN_ID_LABEL]: runId } : {}) };
  }

  #tls(ref: string, explicit: boolean | undefined): boolean {
    return explicit ?? tlsVerifyFor(referenceHost(ref), this.#settings.tlsVerify);
  }

  /** Build an image from a context dir; returns the image id podman wrote to --iidfile. */
  async build(opts: BuildOptions): Promise<{ imageId: string }> {
    if (opts.tags.length === 0) {
      throw new AiboxError({
        code: 'USAGE',
        message: 'podman build needs at least one tag',
        hint: 'Pass tags: [...]',
      });
    }
    const tmp = await mkdtemp(join(tmpdir(), 'aibox-build-'));
    const iidfile = join(tmp, 'iid');
    const inline = join(tmp, 'Containerfile');
    if (opts.containerfileText !== undefined)
      await writeFile(inline, opts.containerfileText, { mode: 0o600 });
    const file = opts.containerfileText !== undefined ? inline : opts.containerfile;
    const args = [
      'build',
      ...this.#ulimitArgs(),
      '--iidfile',
      iidfile,
      ...(file ? ['--file', file] : []),
      ...(opts.created !== undefined ? ['--timestamp', String(epochSeconds(opts.created))] : []),
      ...opts.tags.flatMap((t) => ['--tag', t]),
      ...Object.entries(opts.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...labelArgs(this.#managedLabels(opts.labels, opts.runId), '--label'),
      ...labelArgs(opts.annotations ?? {}, '--annotation'),
      ...(opts.pull ? [`--pull=${opts.pull}`] : []),
      ...(opts.tlsVerify !== undefined ? [`--tls-verify=${opts.tlsVerify}`] : []),
      ...(opts.layers === false ? ['--layers=false'] : []),
      ...(this.#settings.buildNetwork ? ['--network', this.#settings.buildNetwork] : []),
      opts.contextDir,
    ];
    const progress = opts.onProgress ? lineSplitter(opts.onProgress) : undefined;
    try {
      await this.#run(args, {
        ...(progress
          ? { onStdout: (c: string) => progress.push(c), onStderr: (c: string) => progress.push(c) }
          : {}),
      });
      progress?.flush();
      const imageId = (await readFile(iidfile, 'utf8')).trim().replace(/^sha256:/, '');
      this.#logger.debug(`built ${opts.tags.join(', ')} → ${imageId.slice(0, 12)}`);
      return { imageId };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Push to a registry; the digest is the manifest digest the registry stored (from --digestfile). */
  async push(localRef: string, destRef: string, opts: PushOptions = {}): Promise<{ digest: string }> {
    const tmp = await mkdtemp(join(tmpdir(), 'aibox-push-'));
    const digestfile = join(tmp, 'digest');
    try {
      await this.#run([
        'push',
        `--tls-verify=${this.#tls(destRef, opts.tlsVerify)}`,
        '--digestfile',
        digestfile,
        ...(opts.format ? ['--format', opts.format] : []),
        localRef,
        `docker://${destRef}`,
      ]);
      const digest = (await readFile(digestfile, 'utf8')).trim();
      if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
        throw new AiboxError({
          code: 'INTERNAL',
          message: `podman push wrote an unexpected digest "${digest}"`,
        });
      }
      return { digest };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Pull an image (by digest, for verified updates); returns the local image id. */
  async pull(ref: string, opts: PullOptions = {}): Promise<{ imageId: string }> {
    // With onProgress, podman's own progress (stderr) is streamed line by line; without, --quiet.
    const progress = opts.onProgress ? lineSplitter(opts.onProgress) : undefined;
    const r = await this.#run(
      [
        'pull',
        ...(progress ? [] : ['--quiet']),
        `--tls-verify=${this.#tls(ref, opts.tlsVerify)}`,
        `docker://${ref}`,
      ],
      progress ? { onStderr: (c: string) => progress.push(c) } : undefined,
    );
    progress?.flush();
    const imageId = r.stdout.trim().split('\n').pop() ?? '';
    return { imageId };
  }

  /** Add a name to a local image. */
  async tag(src: string, dst: string): Promise<void> {
    await this.#run(['tag', src, dst]);
  }

  /** Typed `podman image inspect`; NOT_FOUND when the image is not in local storage. */
  async inspectImage(ref: string): Promise<ImageInfo> {
    const r = await this.#run(['image', 'inspect', ref], { allowFailure: true });
    if (r.code !== 0) {
      if (/image not known|no such image/i.test(r.stderr)) {
        throw new AiboxError({
          code: 'NOT_FOUND',
          message: `image ${ref} is not in local podman storage`,
          hint: "Build or pull it first (e.g. 'aibox update')",
          details: { ref },
        });
      }
      throw new AiboxError({
        code: 'PROCESS_FAILED',
        message: `podman image inspect ${ref} failed: ${r.stderr.trim()}`,
      });
    }
    const list = parseJson(r.stdout, 'image inspect');
    const d = (Array.isArray(list) ? list[0] : undefined) as Record<string, unknown> | undefined;
    if (!d)
      throw new AiboxError({ code: 'NOT_FOUND', message: `image ${ref} is not in local podman storage` });
    const config = (d.Config ?? {}) as Record<string, unknown>;
    return {
      id: str(d.Id, 'Id'),
      digest: str(d.Digest, 'Digest'),
      created: str(d.Created, 'Created'),
      labels: strMap(d.Labels ?? config.Labels),
      architecture: str(d.Architecture ?? '', 'Architecture'),
      os: str(d.Os ?? '', 'Os'),
      size: typeof d.Size === 'number' ? d.Size : 0,
      repoTags: strList(d.RepoTags),
      repoDigests: strList(d.RepoDigests),
    };
  }

  /** Whether a local image exists (no error when it does not). */
  async imageExists(ref: string): Promise<boolean> {
    const r = await this.#run(['image', 'exists', ref], { allowFailure: true });
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new AiboxError({
      code: 'PROCESS_FAILED',
      message: `podman image exists ${ref} failed: ${r.stderr.trim()}`,
    });
  }

  /** Run a container (labelled as aibox-managed); detached runs return the container id. */
  async run(opts: RunOptions): Promise<RunResult> {
    const args = [
      'run',
      ...this.#ulimitArgs(),
      ...(opts.rm ? ['--rm'] : []),
      ...(opts.detach ? ['--detach'] : []),
      ...(opts.interactive ? ['--interactive'] : []),
      ...(opts.name ? ['--name', opts.name] : []),
      ...labelArgs(this.#managedLabels(opts.labels, opts.runId), '--label'),
      ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      ...(opts.volumes ?? []).flatMap((v) => ['--volume', v]),
      opts.image,
      ...(opts.args ?? []),
    ];
    const r = await this.#run(args);
    return opts.detach
      ? { containerId: r.stdout.trim(), stdout: r.stdout, stderr: r.stderr }
      : { stdout: r.stdout, stderr: r.stderr };
  }

  /** Rootless when not running as root (podman maps the user namespace then; keep-id applies). */
  identity(): EngineIdentity {
    const uid = process.geteuid?.() ?? 0;
    return { rootless: uid !== 0, uid, gid: process.getegid?.() ?? 0 };
  }

  /**
   * Run a sandbox on this process's terminal/streams and return the command's exit code (podman
   * run passes it through; 125–127 are podman's own: see podman-run(1) "Exit Status").
   */
  async runAttached(opts: SandboxRunOptions): Promise<{ exitCode: number; nameInUse?: boolean }> {
    const args = [
      'run',
      ...this.#ulimitArgs(),
      ...(opts.rm ? ['--rm'] : []),
      ...(opts.interactive ? ['--interactive'] : []),
      ...(opts.tty ? ['--tty'] : []),
      '--name',
      opts.name,
      ...(opts.keepId ? ['--userns', 'keep-id'] : []),
      ...(opts.user ? ['--user', opts.user] : []),
      ...(opts.workdir ? ['--workdir', opts.workdir] : []),
      ...labelArgs(this.#managedLabels(opts.labels), '--label'),
      ...opts.volumes.flatMap((v) => ['--volume', v]),
      opts.image,
      ...opts.args,
    ];
    if (!opts.reportNameInUse) {
      const r = await this.#run(args, { inheritStdio: true, allowFailure: true });
      return { exitCode: r.code };
    }
    const watch = new NameInUseWatch(opts.name, (c) => process.stderr.write(c));
    const r = await this.#run(args, {
      inheritStdio: true,
      allowFailure: true,
      onStderrBytes: (c) => watch.push(c),
    });
    return watch.finish(r.code) ? { exitCode: r.code, nameInUse: true } : { exitCode: r.code };
  }

  /** A new process in a running sandbox, on this process's terminal/streams; its exit code. */
  async execAttached(container: string, opts: SandboxExecOptions): Promise<{ exitCode: number }> {
    const r = await this.#run(
      [
        'exec',
        ...(opts.interactive ? ['--interactive'] : []),
        ...(opts.tty ? ['--tty'] : []),
        ...(opts.workdir ? ['--workdir', opts.workdir] : []),
        container,
        ...opts.args,
      ],
      { inheritStdio: true, allowFailure: true },
    );
    return { exitCode: r.code };
  }

  /** Containers (running or not) carrying every given label (`key=value`, or just `key`). */
  async listContainers(labels: Readonly<Record<string, string | true>>): Promise<ContainerInfo[]> {
    const filters = Object.entries(labels).flatMap(([k, v]) => [
      '--filter',
      v === true ? `label=${k}` : `label=${k}=${v}`,
    ]);
    const r = await this.#run(['ps', '--all', ...filters, '--format', 'json']);
    const list = parseJson(r.stdout.trim() || '[]', 'ps');
    if (!Array.isArray(list)) return [];
    return list.map((raw: unknown) => {
      const c = (raw ?? {}) as Record<string, unknown>;
      const state = typeof c.State === 'string' ? c.State : 'unknown';
      return {
        id: str(c.Id, 'Id'),
        name: strList(c.Names)[0] ?? '',
        image: typeof c.Image === 'string' ? c.Image : '',
        imageId: typeof c.ImageID === 'string' ? c.ImageID.replace(/^sha256:/, '') : '',
        state,
        running: state === 'running',
        labels: strMap(c.Labels),
      };
    });
  }

  /** Run a command in a running container; returns its stdout. */
  async exec(container: string, args: readonly string[]): Promise<string> {
    return (await this.#run(['exec', container, ...args])).stdout;
  }

  /** Remove a container; `time` = seconds to wait for a graceful stop before killing (podman default 10). */
  async rm(
    container: string,
    opts: { readonly force?: boolean; readonly time?: number } = {},
  ): Promise<void> {
    await this.#run([
      'rm',
      ...(opts.force ? ['--force'] : []),
      ...(opts.time !== undefined ? [`--time=${opts.time}`] : []),
      container,
    ]);
  }

  /**
   * Create an image from a root filesystem tarball streamed on stdin (`podman import - NAME`),
   * with Containerfile instructions applied (`--change`); the image carries the managed label.
   */
  async importImage(opts: ImportOptions): Promise<{ imageId: string }> {
    const changes = [...(opts.changes ?? []), `LABEL ${MANAGED_LABEL}=true`];
    await this.#run(['import', ...changes.flatMap((c) => ['--change', c]), '-', opts.reference], {
      inputStream: opts.input,
      timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    });
    return { imageId: (await this.inspectImage(opts.reference)).id };
  }

  /** Remove local images (names or ids). */
  async rmi(refs: readonly string[], opts: { readonly force?: boolean } = {}): Promise<void> {
    if (refs.length === 0) return;
    await this.#run(['rmi', ...(opts.force ? ['--force'] : []), ...refs]);
  }

  /** Where podman keeps its images (`podman info`: graph root and storage driver). */
  async storageLocation(): Promise<{ graphRoot: string; driver: string }> {
    const r = await this.#run(['info', '--format', 'json']);
    const store = ((parseJson(r.stdout, 'info') as Record<string, unknown>).store ?? {}) as Record<
      string,
      unknown
    >;
    return {
      graphRoot: str(store.graphRoot, 'store.graphRoot'),
      driver: str(store.graphDriverName, 'store.graphDriverName'),
    };
  }

  /** Podman's client version (also a cheap "is podman installed" check). */
  async version(): Promise<PodmanVersion> {
    const r = await this.#run(['version', '--format', 'json']);
    const client = ((parseJson(r.stdout, 'version') as Record<string, unknown>).Client ?? {}) as Record<
      string,
      unknown
    >;
    return {
      version: str(client.Version, 'Client.Version'),
      apiVersion: str(client.APIVersion ?? '', 'Client.APIVersion'),
      osArch: str(client.OsArch ?? '', 'Client.OsArch'),
    };
  }
}

/** Whole epoch seconds of an RFC 3339 time, for `podman build --timestamp`; throws USAGE for anything else. */
export function epochSeconds(created: string): number {
  const t = Date.parse(created);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(created) || !Number.isFinite(t) || t < 0) {
    throw new AiboxError({
      code: 'USAGE',
      message: `invalid image created time "${created}": must be an RFC 3339 date-time after 1970`,
      hint: 'The pipeline passes the run time, e.g. 2026-02-21T09:14:03Z',
    });
  }
  return Math.floor(t / 1000);
}
