/**
 * Test double for the `Engine` port, for fast workflow tests on the in-memory registry: `build` reads the
 * Containerfile, resolves its `FROM` (with `ARG` defaults and the build args), requires that base in its local
 * storage (pulled from the store, or put there by `addLocalImage`), and makes an OCI image of the base's layers
 * plus one layer derived from the Containerfile and build args, with the given labels in its config. `push`
 * uploads it to the `ImageStore` (so a failing store fails the push, as a failing registry fails
 * `podman push`), `pull` downloads from it. Deterministic: the same inputs give the same digests.
 */
import { readFile } from 'node:fs/promises';
import type {
  BuildOptions,
  ContainerInfo,
  Engine,
  EngineIdentity,
  ImageInfo,
  PushOptions,
  RunOptions,
  RunResult,
  SandboxEngine,
  SandboxExecOptions,
  SandboxRunOptions,
} from '../../src/engine/engine.js';
import { AiboxError } from '../../src/core/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/reference.js';
import type { ImageStore } from '../../src/oci/store.js';

interface LocalImage {
  readonly config: Uint8Array;
  /** Manifest annotations (`podman build --annotation`, kept by an OCI push). */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly layers: readonly Uint8Array[];
  /** The digest of the manifest this image was pulled by or pushed as (registry digest), when known. */
  readonly digest: string;
  readonly labels: Readonly<Record<string, string>>;
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const te = new TextEncoder();

export interface FakeEngineCall {
  readonly op:
    | 'build'
    | 'push'
    | 'pull'
    | 'rmi'
    | 'inspectImage'
    | 'imageExists'
    | 'runAttached'
    | 'execAttached'
    | 'listContainers'
    | 'rm';
  readonly ref: string;
}

/**
 * Build/push/pull against an ImageStore; sandboxes are recorded containers (a `runAttached` leaves a
 * running container when `keepRunning` is set, as an open shell does); everything else is a no-op.
 */
export class FakeEngine implements Engine, SandboxEngine {
  readonly #store: ImageStore;
  readonly #images = new Map<string, LocalImage>();
  readonly calls: FakeEngineCall[] = [];
  /** Variant names (dev.aibox.variant label) whose build fails, as a broken RUN step would. */
  failBuild = new Set<string>();

  /** Sandbox containers by name (what `podman ps --all` would list). */
  readonly containers = new Map<string, ContainerInfo>();
  /** Every sandbox run and exec, in order. */
  readonly sandboxRuns: SandboxRunOptions[] = [];
  readonly sandboxExecs: { container: string; opts: SandboxExecOptions }[] = [];
  /** The exit code a sandbox command returns (default 0). */
  commandExitCode: (args: readonly string[]) => number = () => 0;
  /** Leave the container of a `runAttached` running (the developer's shell is still open). */
  keepRunning = false;
  identityValue: EngineIdentity = { rootless: true, uid: 1000, gid: 1000 };
  /** Throw this from every sandbox call (podman missing, broken). */
  sandboxFailure: AiboxError | undefined;

  constructor(store: ImageStore) {
    this.#store = store;
  }

  /** Put an image into local storage (the local profile's debootstrap base). */
  addLocalImage(name: string, content: string): string {
    const img = makeImage([], te.encode(content), { 'dev.aibox.local-base': 'true' });
    this.#images.set(name, img);
    return img.digest;
  }

  async build(opts: BuildOptions): Promise<{ imageId: string }> {
    this.calls.push({ op: 'build', ref: opts.tags.join(',') });
    const variant = opts.labels?.['dev.aibox.variant'] ?? '';
    if (this.failBuild.has(variant)) {
      throw new AiboxError({
        code: 'PROCESS_FAILED',
        message: `podman build of ${opts.tags[0] ?? '?'} failed: RUN exited with 1 (fake)`,
      });
    }
    const text =
      opts.containerfileText ??
      (await readFile(opts.containerfile ?? `${opts.contextDir}/Containerfile`, 'utf8'));
    const from = resolveFrom(text, opts.buildArgs ?? {});
    const base = this.#local(from);
    if (!base) {
      throw new AiboxError({
        code: 'PROCESS_FAILED',
        message: `podman build: FROM ${from}: image not known (pull: ${opts.pull ?? 'missing'})`,
      });
    }
    const layer = te.encode(JSON.stringify([text, opts.buildArgs ?? {}, from]));
    const img = makeImage(base.layers, layer, { ...(opts.labels ?? {}) }, opts.created, opts.annotations);
    for (const t of opts.tags) this.#images.set(t, img);
    return { imageId: img.digest.slice('sha256:'.length) };
  }

  async push(localRef: string, destRef: string, _opts?: PushOptions): Promise<{ digest: string }> {
    this.calls.push({ op: 'push', ref: destRef });
    const img = this.#images.get(localRef);
    if (!img) throw new AiboxError({ code: 'NOT_FOUND', message: `push: ${localRef}: image not known` });
    const ref = parseReference(destRef);
    const repo = { registry: ref.registry, repository: ref.repository };
    await this.#store.pushBlob(repo, img.config, { mediaType: MediaTypes.OCI_CONFIG });
    for (const l of img.layers) await this.#store.pushBlob(repo, l, { mediaType: LAYER });
    const manifest = manifestOf(img);
    const d = await this.#store.putManifest(
      ref.tag ? { ...repo, tag: ref.tag } : { ...repo, digest: sha256Digest(manifest) },
      manifest,
      MediaTypes.OCI_MANIFEST,
    );
    return { digest: d.digest };
  }

  async pull(refText: string): Promise<{ imageId: string }> {
    this.calls.push({ op: 'pull', ref: refText });
    const ref = parseReference(refText);
    const repo = { registry: ref.registry, repository: ref.repository };
    const got = await this.#store.getManifest(ref);
    const m = JSON.parse(new TextDecoder().decode(got.bytes)) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    const config = await this.#store.getBlob(repo, m.config.digest);
    const layers: Uint8Array[] = [];
    for (const l of m.layers) layers.push(await this.#store.getBlob(repo, l.digest));
    const cfg = JSON.parse(new TextDecoder().decode(config)) as {
      config?: { Labels?: Record<string, string> };
    };
    const img: LocalImage = {
      config,
      layers,
      digest: got.descriptor.digest,
      labels: cfg.config?.Labels ?? {},
    };
    this.#images.set(refText, img);
    return { imageId: sha256Digest(config).slice('sha256:'.length) };
  }

  async tag(src: string, dst: string): Promise<void> {
    const img = this.#images.get(src);
    if (img) this.#images.set(dst, img);
  }

  async inspectImage(ref: string): Promise<ImageInfo> {
    this.calls.push({ op: 'inspectImage', ref });
    const img = this.#local(ref);
    if (!img) throw new AiboxError({ code: 'NOT_FOUND', message: `image ${ref} not known` });
    return {
      id: sha256Digest(img.config).slice('sha256:'.length),
      digest: img.digest,
      created: '2026-01-01T00:00:00Z',
      labels: img.labels,
      architecture: 'amd64',
      os: 'linux',
      size: img.layers.reduce((n, l) => n + l.byteLength, 0),
      repoTags: [ref],
      repoDigests: [],
    };
  }

  async imageExists(ref: string): Promise<boolean> {
    this.calls.push({ op: 'imageExists', ref });
    return this.#local(ref) !== undefined;
  }

  async run(_opts: RunOptions): Promise<RunResult> {
    throw new AiboxError({ code: 'INTERNAL', message: 'FakeEngine.run is not used by the pipeline' });
  }

  async rm(container: string): Promise<void> {
    this.calls.push({ op: 'rm', ref: container });
    if (this.sandboxFailure) throw this.sandboxFailure;
    this.containers.delete(container);
  }

  identity(): EngineIdentity {
    return this.identityValue;
  }

  async runAttached(opts: SandboxRunOptions): Promise<{ exitCode: number; nameInUse?: boolean }> {
    this.calls.push({ op: 'runAttached', ref: opts.name });
    if (this.sandboxFailure) throw this.sandboxFailure;
    if (this.containers.has(opts.name))
      return opts.reportNameInUse ? { exitCode: 125, nameInUse: true } : { exitCode: 125 };
    this.sandboxRuns.push(opts);
    const img = this.#local(opts.image);
    const info: ContainerInfo = {
      id: sha256Digest(te.encode(opts.name)).slice(7, 71),
      name: opts.name,
      image: opts.image,
      imageId: img ? sha256Digest(img.config).slice('sha256:'.length) : '',
      state: 'running',
      running: true,
      labels: { ...(img?.labels ?? {}), ...opts.labels, 'dev.aibox.managed': 'true' },
    };
    const exitCode = this.commandExitCode(opts.args);
    if (this.keepRunning) this.containers.set(opts.name, info);
    else if (!opts.rm) this.containers.set(opts.name, { ...info, state: 'exited', running: false });
    return { exitCode };
  }

  async execAttached(container: string, opts: SandboxExecOptions): Promise<{ exitCode: number }> {
    this.calls.push({ op: 'execAttached', ref: container });
    if (this.sandboxFailure) throw this.sandboxFailure;
    this.sandboxExecs.push({ container, opts });
    return { exitCode: this.commandExitCode(opts.args) };
  }

  async listContainers(labels: Readonly<Record<string, string | true>>): Promise<ContainerInfo[]> {
    this.calls.push({ op: 'listContainers', ref: JSON.stringify(labels) });
    if (this.sandboxFailure) throw this.sandboxFailure;
    return [...this.containers.values()].filter((c) =>
      Object.entries(labels).every(([k, v]) => (v === true ? k in c.labels : c.labels[k] === v)),
    );
  }

  async rmi(refs: readonly string[]): Promise<void> {
    this.calls.push({ op: 'rmi', ref: refs.join(',') });
    for (const r of refs) this.#images.delete(r);
  }

  /** A local image by name, or by `name@digest` (what FROM pins). */
  #local(ref: string): LocalImage | undefined {
    const exact = this.#images.get(ref);
    if (exact) return exact;
    const at = ref.indexOf('@');
    if (at < 0) return undefined;
    const digest = ref.slice(at + 1);
    for (const img of this.#images.values()) if (img.digest === digest) return img;
    return undefined;
  }
}

/** `FROM x` of the last stage, with `${ARG}` from the build args or the ARG default. */
function resolveFrom(text: string, args: Readonly<Record<string, string>>): string {
  const defaults: Record<string, string> = {};
  let from: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/i.exec(line);
    if (arg) defaults[arg[1]!] = arg[2] ?? '';
    const f = /^FROM\s+(\S+)/i.exec(line);
    if (f) from = f[1];
  }
  if (!from) throw new AiboxError({ code: 'PROCESS_FAILED', message: 'Containerfile has no FROM' });
  return from.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, k: string) => args[k] ?? defaults[k] ?? '');
}

function makeImage(
  baseLayers: readonly Uint8Array[],
  layer: Uint8Array,
  labels: Record<string, string>,
  created?: string,
  annotations?: Readonly<Record<string, string>>,
): LocalImage {
  const layers = [...baseLayers, layer];
  const config = te.encode(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      // As podman: --timestamp sets the config's created; without it, the (fake) commit time.
      created: created ?? '2026-01-01T00:00:00Z',
      config: { Labels: labels },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(l)) },
    }),
  );
  const img = { config, layers, digest: '', labels, ...(annotations ? { annotations } : {}) };
  return { ...img, digest: sha256Digest(manifestOf(img)) };
}

function manifestOf(img: Pick<LocalImage, 'config' | 'layers' | 'annotations'>): Uint8Array {
  return te.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: {
        mediaType: MediaTypes.OCI_CONFIG,
        digest: sha256Digest(img.config),
        size: img.config.byteLength,
      },
      layers: img.layers.map((l) => ({ mediaType: LAYER, digest: sha256Digest(l), size: l.byteLength })),
      ...(img.annotations && Object.keys(img.annotations).length > 0 ? { annotations: img.annotations } : {}),
    }),
  );
}
