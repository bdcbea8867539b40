/**
 * MemoryImageStore: an in-memory `ImageStore` for fast workflow tests, faithful to what
 * `RegistryClient` shows its callers when it talks to CNCF distribution 2.8 (observed behaviour in
 * /work/shared/reference/oci-distribution.md). Content-addressed and digest-verified like a
 * registry; the quirks of distribution 2.8 are the defaults and can be switched per instance; a
 * `beforeCall`/`afterCall` hook injects faults at any call and a call log records every call.
 * `test/integration/store.contract.ts` runs one suite against this store and against a real
 * docker-registry, so the two cannot drift (regclient's `reg`/`ocidir` backends share theirs).
 * Pure apart from `node:crypto` hashing: no filesystem, network, environment or process access.
 */
import { AiboxError } from '../core/errors.js';
import { parseDigest, sha256Digest, verifyDigest } from './digest.js';
import { formatOciErrors } from './errors.js';
import { parseManifest, type Descriptor, type ParsedManifest } from './manifest.js';
import { formatReference, manifestTarget, type Reference } from './reference.js';
import type { ImageStore, RefWithDigest, Referrers } from './store.js';

/** The port's operations, as named in the call log and passed to the fault hooks. */
export type StoreOp =
  | 'headManifest'
  | 'getManifest'
  | 'putManifest'
  | 'deleteManifest'
  | 'headBlob'
  | 'getBlob'
  | 'pushBlob'
  | 'mountBlob'
  | 'listTags'
  | 'catalog'
  | 'referrers';

/** One entry of the call log: the operation and its target (`host/repo:tag`, `host/repo@digest`, `host`). */
export interface StoreCall {
  readonly op: StoreOp;
  readonly ref: string;
}

/**
 * Called before every operation, with its 1-based position among all calls (`n`) and among calls
 * of the same operation (`nOfOp`). Throw to fail the call before it has any effect.
 */
export type CallHook = (op: StoreOp, ref: string, n: number, nOfOp: number) => void;

export interface MemoryStoreOptions {
  /** `storage.delete.enabled`; false gives distribution's 405 UNSUPPORTED on every delete. Default true (as aibox configures distribution). */
  readonly deleteEnabled?: boolean;
  /** Whether a tag alone can be deleted (Harbor can; distribution 2.8 cannot). Default false. */
  readonly tagDelete?: boolean;
  /** Whether `GET /v2/<name>/referrers/<digest>` exists (distribution 2.8: no, so the `sha256-<hex>` tag schema is used). Default false. */
  readonly referrersApi?: boolean;
  /** Fault injection before each call (throw to fail it; nothing changes). */
  readonly beforeCall?: CallHook;
  /** Fault injection after each call took effect (throw to lose its answer, as a dropped connection does). */
  readonly afterCall?: CallHook;
}

interface StoredManifest {
  readonly bytes: Uint8Array;
  readonly mediaType: string;
  readonly parsed: ParsedManifest;
}

interface Repo {
  /** Digests of blobs linked into this repository (pushed or mounted). */
  readonly blobs: Set<string>;
  readonly manifests: Map<string, StoredManifest>;
  readonly tags: Map<string, string>;
  /** distribution lists tags of a repository once it has had a tag (before that: 404 NAME_UNKNOWN). */
  hadTags: boolean;
}

interface Registry {
  /** Content-addressed blob storage shared by the registry's repositories. */
  readonly blobs: Map<string, Uint8Array>;
  readonly repos: Map<string, Repo>;
}

const DEFAULT_MAX_BLOB = 512 * 1024 * 1024;

/** A hook that fails the k-th call of any operation (1-based), with `error` or a REGISTRY_UNREACHABLE. */
export function failNthCall(k: number, error?: () => Error): CallHook {
  return (op, ref, n) => {
    if (n === k) throw error?.() ?? injected(op, ref);
  };
}

/** A hook that fails the k-th call of one operation (1-based), e.g. the 2nd putManifest. */
export function failNthOp(target: StoreOp, k: number, error?: () => Error): CallHook {
  return (op, ref, _n, nOfOp) => {
    if (op === target && nOfOp === k) throw error?.() ?? injected(op, ref);
  };
}

function injected(op: StoreOp, ref: string): AiboxError {
  return new AiboxError({
    code: 'REGISTRY_UNREACHABLE',
    message: `${op} ${ref} failed: injected fault (connection refused)`,
    hint: 'fault injected by a test through MemoryImageStore',
  });
}

/** In-memory registry(ies): manifests by digest and tag, blobs, tags, catalog, referrers, mount, delete. */
export class MemoryImageStore implements ImageStore {
  readonly #registries = new Map<string, Registry>();
  readonly #calls: StoreCall[] = [];
  readonly #perOp = new Map<StoreOp, number>();
  readonly #deleteEnabled: boolean;
  readonly #tagDelete: boolean;
  readonly #referrersApi: boolean;
  #before: CallHook | undefined;
  #after: CallHook | undefined;

  constructor(opts: MemoryStoreOptions = {}) {
    this.#deleteEnabled = opts.deleteEnabled ?? true;
    this.#tagDelete = opts.tagDelete ?? false;
    this.#referrersApi = opts.referrersApi ?? false;
    this.#before = opts.beforeCall;
    this.#after = opts.afterCall;
  }

  /** Every call so far, in order (op + target), for assertions. */
  get calls(): readonly StoreCall[] {
    return this.#calls;
  }

  /** Replace the fault hooks (undefined removes one); the call counters keep running. */
  setHooks(hooks: { beforeCall?: CallHook | undefined; afterCall?: CallHook | undefined }): void {
    this.#before = hooks.beforeCall;
    this.#after = hooks.afterCall;
  }

  /** Forget the call log and restart the counters `n`/`nOfOp` at 1. */
  resetCalls(): void {
    this.#calls.length = 0;
    this.#perOp.clear();
  }

  /** Test helper: make the registry serve other bytes for a blob (a corrupting registry or proxy). */
  corruptBlob(registry: string, digest: string, bytes: Uint8Array): void {
    const reg = this.#registries.get(registry);
    if (reg?.blobs.has(digest) !== true) internal(`corruptBlob: ${registry} has no blob ${digest}`);
    reg.blobs.set(digest, Uint8Array.from(bytes));
  }

  async headManifest(ref: Reference): Promise<Descriptor | null> {
    return this.#run('headManifest', refText(ref), () => {
      const target = manifestTarget(ref);
      const m = this.#lookupManifest(ref, target);
      if (m === undefined) return null;
      return { mediaType: m.mediaType, digest: m.digest, size: m.stored.bytes.byteLength };
    });
  }

  async getManifest(ref: Reference): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    return this.#run('getManifest', refText(ref), () => {
      const target = manifestTarget(ref);
      const m = this.#lookupManifest(ref, target);
      if (m === undefined) {
        throw httpError(
          ref.registry,
          `GET manifest ${formatReference(ref)}`,
          404,
          manifestPath(ref, target),
          [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }],
        );
      }
      const bytes = Uint8Array.from(m.stored.bytes);
      // Served bytes are checked like RegistryClient checks the wire (corruption shows up here).
      verifyDigest(bytes, ref.digest ?? m.digest);
      const descriptor: Descriptor = {
        mediaType: m.stored.parsed.mediaType,
        digest: m.digest,
        size: bytes.byteLength,
      };
      const artifactType = artifactTypeOf(m.stored.parsed);
      if (artifactType !== undefined) descriptor.artifactType = artifactType;
      return { descriptor, bytes };
    });
  }

  async putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    return this.#run('putManifest', refText(ref), () => {
      const parsed = parseManifest(bytes, mediaType);
      const digest = sha256Digest(bytes);
      if (ref.digest !== undefined) verifyDigest(bytes, ref.digest);
      const target = ref.tag ?? ref.digest ?? digest;
      const what = `PUT manifest ${formatReference({ ...ref, tag: target })}`;
      const repo = this.#repo(ref.registry, ref.repository, false);
      // distribution checks that every referenced blob (image) or manifest (index) is in this repository.
      const missing = referencedMissing(parsed, repo);
      if (missing.length > 0) {
        throw httpError(
          ref.registry,
          what,
          400,
          manifestPath(ref, target),
          missing.map((d) => ({
            code: 'MANIFEST_BLOB_UNKNOWN',
            message: 'blob unknown to registry',
            detail: d,
          })),
        );
      }
      const live = this.#repo(ref.registry, ref.repository, true);
      live.manifests.set(digest, { bytes: Uint8Array.from(bytes), mediaType, parsed });
      if (ref.tag !== undefined) {
        live.tags.set(ref.tag, digest);
        live.hadTags = true;
      }
      const d: Descriptor = { mediaType, digest, size: bytes.byteLength };
      const artifactType = artifactTypeOf(parsed);
      if (artifactType !== undefined) d.artifactType = artifactType;
      return d;
    });
  }

  async deleteManifest(ref: Reference): Promise<void> {
    return this.#run('deleteManifest', refText(ref), () => {
      if (ref.digest === undefined && !this.#tagDelete) {
        // distribution 2.8 answers a tag DELETE with 400 DIGEST_INVALID (405 when deletes are off);
        // RegistryClient refuses before sending it, with this error.
        throw new AiboxError({
          code: 'USAGE',
          message: `cannot delete ${formatReference(ref)}: manifests are deleted by digest, not by tag`,
          hint: 'resolve the tag to a digest first (every tag pointing at that digest is removed with it)',
        });
      }
      const target = ref.digest ?? ref.tag ?? '';
      const what = `DELETE manifest ${formatReference(ref.digest !== undefined ? { registry: ref.registry, repository: ref.repository, digest: ref.digest } : ref)}`;
      const path = manifestPath(ref, target);
      if (!this.#deleteEnabled) {
        const err = httpError(ref.registry, what, 405, path, [
          { code: 'UNSUPPORTED', message: 'The operation is unsupported.' },
        ]);
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${err.message}: manifest deletion is disabled or unsupported on ${ref.registry}`,
          hint: 'enable deletes on the registry (distribution: storage.delete.enabled: true)',
          ...(err.details !== undefined ? { details: err.details } : {}),
        });
      }
      const repo = this.#registries.get(ref.registry)?.repos.get(ref.repository);
      const unknown = () =>
        httpError(ref.registry, what, 404, path, [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]);
      if (ref.digest === undefined) {
        // Tag delete where the registry supports it (Harbor): only that tag goes.
        if (ref.tag === undefined || repo?.tags.delete(ref.tag) !== true) throw unknown();
        return;
      }
      const digest = ref.digest;
      if (repo?.manifests.delete(digest) !== true) throw unknown();
      // distribution removes every tag that points at the deleted digest (its blobs stay until GC).
      for (const [tag, d] of [...repo.tags]) if (d === digest) repo.tags.delete(tag);
    });
  }

  async headBlob(ref: Reference, digest: string): Promise<Descriptor | null> {
    return this.#run('headBlob', blobText(ref, digest), () => {
      parseDigest(digest);
      const data = this.#linkedBlob(ref, digest);
      if (data === undefined) return null;
      return { mediaType: 'application/octet-stream', digest, size: data.byteLength };
    });
  }

  async getBlob(ref: Reference, digest: string, opts: { maxBytes?: number } = {}): Promise<Uint8Array> {
    return this.#run('getBlob', blobText(ref, digest), () => {
      parseDigest(digest);
      const max = opts.maxBytes ?? DEFAULT_MAX_BLOB;
      const data = this.#linkedBlob(ref, digest);
      if (data === undefined) {
        throw httpError(
          ref.registry,
          `GET blob ${ref.registry}/${ref.repository}@${digest}`,
          404,
          `/v2/${ref.repository}/blobs/${digest}`,
          [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: digest }],
        );
      }
      if (data.byteLength > max) {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `blob ${ref.repository}@${digest} is ${data.byteLength} bytes or more, over the ${max}-byte limit`,
          hint: 'stream large blobs with getBlobStream instead',
        });
      }
      const bytes = Uint8Array.from(data);
      verifyDigest(bytes, digest);
      return bytes;
    });
  }

  async pushBlob(ref: Reference, data: Uint8Array, opts: { mediaType?: string } = {}): Promise<Descriptor> {
    return this.#run('pushBlob', refText(ref), () => {
      const digest = sha256Digest(data);
      const reg = this.#registry(ref.registry);
      const repo = this.#repo(ref.registry, ref.repository, true);
      // RegistryClient HEADs first and skips a blob already in the repository; an upload replaces
      // whatever the registry held under that digest.
      if (!repo.blobs.has(digest)) reg.blobs.set(digest, Uint8Array.from(data));
      repo.blobs.add(digest);
      return { mediaType: opts.mediaType ?? 'application/octet-stream', digest, size: data.byteLength };
    });
  }

  async mountBlob(ref: Reference, fromRepository: string, digest: string): Promise<boolean> {
    return this.#run('mountBlob', `${blobText(ref, digest)} from ${fromRepository}`, () => {
      parseDigest(digest);
      const from = this.#registries.get(ref.registry)?.repos.get(fromRepository);
      // distribution: 201 when the source repository has the blob, else 202 (an upload the client abandons).
      if (from?.blobs.has(digest) !== true) return false;
      this.#repo(ref.registry, ref.repository, true).blobs.add(digest);
      return true;
    });
  }

  async listTags(ref: Reference): Promise<string[]> {
    return this.#run('listTags', `${ref.registry}/${ref.repository}`, () => {
      const repo = this.#registries.get(ref.registry)?.repos.get(ref.repository);
      if (repo?.hadTags !== true) {
        throw httpError(
          ref.registry,
          `list tags of ${ref.registry}/${ref.repository}`,
          404,
          `/v2/${ref.repository}/tags/list?n=1000`,
          [
            {
              code: 'NAME_UNKNOWN',
              message: 'repository name not known to registry',
              detail: { name: ref.repository },
            },
          ],
        );
      }
      return [...repo.tags.keys()].sort();
    });
  }

  async catalog(registry: string): Promise<string[]> {
    return this.#run('catalog', registry, () => {
      const reg = this.#registries.get(registry);
      return reg === undefined ? [] : [...reg.repos.keys()].sort();
    });
  }

  async referrers(ref: RefWithDigest, opts: { artifactType?: string } = {}): Promise<Referrers> {
    return this.#run('referrers', refText(ref), () => {
      const { algorithm, hex } = parseDigest(ref.digest);
      const filter = (ds: Descriptor[]) =>
        opts.artifactType === undefined ? ds : ds.filter((d) => d.artifactType === opts.artifactType);
      const repo = this.#registries.get(ref.registry)?.repos.get(ref.repository);
      if (this.#referrersApi) {
        // https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
        const out: Descriptor[] = [];
        for (const [digest, m] of repo?.manifests ?? []) {
          const subject = m.parsed.kind === 'manifest' ? m.parsed.manifest.subject : m.parsed.index.subject;
          if (subject?.digest !== ref.digest) continue;
          out.push(referrerDescriptor(digest, m));
        }
        out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
        return { descriptors: filter(out), source: 'api' };
      }
      // https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema
      const tagDigest = repo?.tags.get(`${algorithm}-${hex}`.slice(0, 128));
      const index = tagDigest === undefined ? undefined : repo?.manifests.get(tagDigest);
      if (index === undefined || index.parsed.kind !== 'index') return { descriptors: [], source: 'none' };
      return { descriptors: filter(index.parsed.index.manifests), source: 'tag-schema' };
    });
  }

  // ---- internals -------------------------------------------------------------------------

  async #run<T>(op: StoreOp, ref: string, body: () => T): Promise<T> {
    this.#calls.push({ op, ref });
    const n = this.#calls.length;
    const nOfOp = (this.#perOp.get(op) ?? 0) + 1;
    this.#perOp.set(op, nOfOp);
    await Promise.resolve(); // answer asynchronously, as a registry does
    this.#before?.(op, ref, n, nOfOp);
    const result = body();
    this.#after?.(op, ref, n, nOfOp);
    return result;
  }

  #registry(host: string): Registry {
    let reg = this.#registries.get(host);
    if (reg === undefined) {
      reg = { blobs: new Map(), repos: new Map() };
      this.#registries.set(host, reg);
    }
    return reg;
  }

  /** The repository, created when `create` (a failed push must not make it appear in the catalog). */
  #repo(host: string, name: string, create: true): Repo;
  #repo(host: string, name: string, create: false): Repo | undefined;
  #repo(host: string, name: string, create: boolean): Repo | undefined {
    const existing = this.#registries.get(host)?.repos.get(name);
    if (existing !== undefined || !create) return existing;
    const repo: Repo = { blobs: new Set(), manifests: new Map(), tags: new Map(), hadTags: false };
    this.#registry(host).repos.set(name, repo);
    return repo;
  }

  #lookupManifest(
    ref: Reference,
    target: string,
  ): { digest: string; stored: StoredManifest; mediaType: string } | undefined {
    const repo = this.#registries.get(ref.registry)?.repos.get(ref.repository);
    if (repo === undefined) return undefined;
    const digest = ref.digest ?? repo.tags.get(target);
    if (digest === undefined) return undefined;
    const stored = repo.manifests.get(digest);
    if (stored === undefined) return undefined;
    return { digest, stored, mediaType: stored.parsed.mediaType };
  }

  #linkedBlob(ref: Reference, digest: string): Uint8Array | undefined {
    const reg = this.#registries.get(ref.registry);
    if (reg?.repos.get(ref.repository)?.blobs.has(digest) !== true) return undefined;
    return reg.blobs.get(digest);
  }
}

function referencedMissing(parsed: ParsedManifest, repo: Repo | undefined): string[] {
  const wanted =
    parsed.kind === 'manifest'
      ? [parsed.manifest.config, ...parsed.manifest.layers].filter((d) => d.urls === undefined)
      : parsed.index.manifests;
  const have = (d: Descriptor) =>
    parsed.kind === 'manifest' ? repo?.blobs.has(d.digest) === true : repo?.manifests.has(d.digest) === true;
  return [...new Set(wanted.filter((d) => !have(d)).map((d) => d.digest))];
}

function artifactTypeOf(parsed: ParsedManifest): string | undefined {
  return parsed.kind === 'manifest' ? parsed.manifest.artifactType : parsed.index.artifactType;
}

/** The descriptor the referrers API lists for a manifest (spec: artifactType falls back to config.mediaType). */
function referrerDescriptor(digest: string, m: StoredManifest): Descriptor {
  const d: Descriptor = { mediaType: m.parsed.mediaType, digest, size: m.bytes.byteLength };
  const artifactType =
    artifactTypeOf(m.parsed) ??
    (m.parsed.kind === 'manifest' ? m.parsed.manifest.config.mediaType : undefined);
  if (artifactType !== undefined) d.artifactType = artifactType;
  const annotations =
    m.parsed.kind === 'manifest' ? m.parsed.manifest.annotations : m.parsed.index.annotations;
  if (annotations !== undefined) d.annotations = { ...annotations };
  return d;
}

function manifestPath(ref: Reference, target: string): string {
  return `/v2/${ref.repository}/manifests/${target}`;
}

function refText(ref: Reference): string {
  return formatReference(ref);
}

function blobText(ref: Reference, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

function internal(message: string): never {
  throw new AiboxError({ code: 'INTERNAL', message });
}

/** The error RegistryClient's checkStatus gives for the same registry answer (same code, message shape, details). */
function httpError(
  registry: string,
  what: string,
  status: number,
  path: string,
  entries: readonly { code: string; message: string; detail?: unknown }[],
): AiboxError {
  const where = `http://${registry}${path}`;
  const detail = formatOciErrors(entries);
  const message = `${what} failed: HTTP ${status} from ${where}${detail ? ` (${detail})` : ''}`;
  const base = { message, details: { status, url: where, errors: entries.map((e) => e.code) } };
  if (status === 404) {
    return new AiboxError({
      code: 'NOT_FOUND',
      hint: 'check the repository, tag or digest exists on this registry',
      ...base,
    });
  }
  return new AiboxError({ code: 'REGISTRY_ERROR', ...base });
}
