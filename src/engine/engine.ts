/**
 * The `Engine` port: the container-engine operations workflows use (build, push, pull, inspect,
 * run, rm). `Podman` (the podman CLI through adapters/exec) implements it; tests may pass a fake
 * without casts. Workflows are typed against this interface, never against `Podman`.
 */
import type {
  BuildOptions,
  ContainerInfo,
  EngineIdentity,
  ImageInfo,
  ImportOptions,
  PullOptions,
  PushOptions,
  RunOptions,
  RunResult,
  SandboxExecOptions,
  SandboxRunOptions,
} from './podman.js';

export type {
  BuildOptions,
  ContainerInfo,
  EngineIdentity,
  ImageInfo,
  ImportOptions,
  PullOptions,
  PushOptions,
  RunOptions,
  RunResult,
  SandboxExecOptions,
  SandboxRunOptions,
};

export interface Engine {
  build(opts: BuildOptions): Promise<{ imageId: string }>;
  /** Push a local image; returns the digest the registry serves for it. */
  push(localRef: string, destRef: string, opts?: PushOptions): Promise<{ digest: string }>;
  pull(ref: string, opts?: PullOptions): Promise<{ imageId: string }>;
  tag(src: string, dst: string): Promise<void>;
  inspectImage(ref: string): Promise<ImageInfo>;
  imageExists(ref: string): Promise<boolean>;
  run(opts: RunOptions): Promise<RunResult>;
  rm(container: string, opts?: { readonly force?: boolean; readonly time?: number }): Promise<void>;
  rmi(refs: readonly string[], opts?: { readonly force?: boolean }): Promise<void>;
}

/**
 * What running developer sandboxes needs (`aibox start`/`stop`/`status`), beside `Engine`: a port
 * of its own so the pipeline's engine doubles need not grow. `Podman` implements both.
 */
export interface SandboxEngine {
  /** Remove a container (`aibox stop`); `time` = seconds for a graceful stop. */
  rm(container: string, opts?: { readonly force?: boolean; readonly time?: number }): Promise<void>;
  /** Rootless or rootful, and the developer's uid/gid (decides the user mapping). */
  identity(): EngineIdentity;
  /**
   * Run a sandbox attached to this process's terminal/streams; the command's exit code. With
   * `reportNameInUse`, `nameInUse: true` when a container of that name exists (nothing ran, nothing printed).
   */
  runAttached(opts: SandboxRunOptions): Promise<{ exitCode: number; nameInUse?: boolean }>;
  /** A new process in a running sandbox (attach), on this process's terminal/streams. */
  execAttached(container: string, opts: SandboxExecOptions): Promise<{ exitCode: number }>;
  /** Containers carrying every given label (`key=value`, or `key` present). */
  listContainers(labels: Readonly<Record<string, string | true>>): Promise<ContainerInfo[]>;
}

/** Creating an image from a root filesystem tarball (the local profile's Debian base). */
export interface ImageImporter {
  importImage(opts: ImportOptions): Promise<{ imageId: string }>;
}
