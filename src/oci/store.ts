/**
 * The `ImageStore` port: the registry operations workflows use. `RegistryClient` (OCI distribution
 * over HTTP) implements it; `MemoryImageStore` (in-memory, digest-verified, with distribution 2.8's
 * quirks selectable) implements it for fast workflow tests. Workflows are typed against this
 * interface, never against a concrete class (regclient's `scheme.API`, sigstore-js's bundler deps).
 */
import type { Descriptor } from './manifest.js';
import type { Reference } from './reference.js';

export type RefWithDigest = Reference & { readonly digest: string };

export interface Referrers {
  readonly descriptors: Descriptor[];
  /** Where they came from: the referrers API, the `<alg>-<hex>` tag schema, or nowhere. */
  readonly source: 'api' | 'tag-schema' | 'none';
}

/** Manifests, blobs, tags, referrers and deletes on one or more registries. */
export interface ImageStore {
  /** Resolve a tag or digest to a descriptor, or null when absent. */
  headManifest(ref: Reference): Promise<Descriptor | null>;
  /** Fetch a manifest (bytes digest-verified); throws NOT_FOUND when absent. */
  getManifest(ref: Reference): Promise<{ descriptor: Descriptor; bytes: Uint8Array }>;
  /** Store manifest bytes exactly, under ref's tag or digest. */
  putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  /** Delete by digest (distribution) or tag (where supported); throws when the registry refuses. */
  deleteManifest(ref: Reference): Promise<void>;
  headBlob(ref: Reference, digest: string): Promise<Descriptor | null>;
  /** Fetch a blob (digest-verified), refusing more than maxBytes. */
  getBlob(ref: Reference, digest: string, opts?: { maxBytes?: number }): Promise<Uint8Array>;
  pushBlob(ref: Reference, data: Uint8Array, opts?: { mediaType?: string }): Promise<Descriptor>;
  /**
   * Streaming forms for large layers (optional: a store without them is copied through
   * getBlob/pushBlob, which is fine for the small blobs of tests).
   */
  getBlobStream?(ref: Reference, digest: string): Promise<NodeJS.ReadableStream>;
  pushBlobStream?(
    ref: Reference,
    stream: NodeJS.ReadableStream,
    digest: string,
    size: number,
  ): Promise<Descriptor>;
  /** Cross-repository mount; false when the registry would not mount (caller uploads instead). */
  mountBlob(ref: Reference, fromRepository: string, digest: string): Promise<boolean>;
  /** Every tag of a repository, sorted. */
  listTags(ref: Reference): Promise<string[]>;
  /** Every repository on a registry, sorted. */
  catalog(registry: string): Promise<string[]>;
  /** Artifacts whose subject is ref.digest. */
  referrers(ref: RefWithDigest, opts?: { artifactType?: string }): Promise<Referrers>;
}
