/**
 * The `Engine` port: the container-engine operations workflows use (build, push, pull, inspect,
 * run, rm). `Podman` (the podman CLI through adapters/exec) implements it; tests may pass a fake
 * without casts. Workflows are typed against this interface, never against `Podman`.
 */
import type {
  BuildOptions,
  ImageInfo,
  ImportOptions,
  PullOptions,
  PushOptions,
  RunOptions,
  RunResult,
} from './podman.js';

export type { BuildOptions, ImageInfo, ImportOptions, PullOptions, PushOptions, RunOptions, RunResult };

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

/** Creating an image from a root filesystem tarball (the local profile's Debian base). */
export interface ImageImporter {
  importImage(opts: ImportOptions): Promise<{ imageId: string }>;
}
