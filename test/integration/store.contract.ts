/**
 * The ImageStore contract: one suite, run against every store (MemoryImageStore and RegistryClient
 * on a real docker-registry, with the same quirk settings), so the in-memory fake cannot drift from
 * what workflows see in production (regclient runs one suite on its `reg` and `ocidir` backends).
 * Behaviour pinned here is distribution 2.8's, as observed in
 * /work/shared/reference/oci-distribution.md; each case names the section it follows.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AiboxError, type ErrorCode } from '../../src/core/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes, type Descriptor } from '../../src/oci/manifest.js';
import type { Reference } from '../../src/oci/reference.js';
import type { ImageStore } from '../../src/oci/store.js';

export interface StoreQuirks {
  /** storage.delete.enabled */
  readonly deleteEnabled: boolean;
  /** a tag alone can be deleted (Harbor; never distribution 2.8) */
  readonly tagDelete: boolean;
  /** GET /v2/<name>/referrers/<digest> exists (never distribution 2.8) */
  readonly referrersApi: boolean;
}

export interface StoreHarness {
  readonly store: ImageStore;
  /** host[:port] the store serves */
  readonly registry: string;
  readonly quirks: StoreQuirks;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** What a call rejected with, as the code plus the registry's error codes from details. */
async function failure(p: Promise<unknown>): Promise<{ code: ErrorCode; errors: unknown; status: unknown }> {
  try {
    await p;
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(AiboxError);
    const err = e as AiboxError;
    return { code: err.code, errors: err.details?.errors, status: err.details?.status };
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Run the ImageStore contract against the store that `setup` returns (called once, in beforeAll). */
export function storeContract(name: string, setup: () => Promise<StoreHarness> | StoreHarness): void {
  describe(`ImageStore contract: ${name}`, () => {
    let h: StoreHarness;
    let store: ImageStore;
    beforeAll(async () => {
      h = await setup();
      store = h.store;
    });

    /** A fresh repository per case: the registry is shared by the whole file. */
    const fresh = (label: string): Reference => ({
      registry: h.registry,
      repository: `contract/${label}-${randomBytes(4).toString('hex')}`,
    });
    const at = (r: Reference, extra: { tag?: string; digest?: string }): Reference => ({ ...r, ...extra });

    /** Config + one layer pushed, and the (unpushed) manifest bytes, deliberately not canonical JSON. */
    async function image(r: Reference, seed: string, opts: { docker?: boolean } = {}) {
      const cfg = await store.pushBlob(r, enc(JSON.stringify({ architecture: 'amd64', os: 'linux', seed })));
      const lay = await store.pushBlob(r, enc(`layer-${seed}`));
      const mediaType = opts.docker ? MediaTypes.DOCKER_MANIFEST : MediaTypes.OCI_MANIFEST;
      const doc = {
        schemaVersion: 2,
        mediaType,
        config: {
          mediaType: opts.docker ? MediaTypes.DOCKER_CONFIG : MediaTypes.OCI_CONFIG,
          digest: cfg.digest,
          size: cfg.size,
        },
        layers: [
          {
            mediaType: opts.docker ? MediaTypes.DOCKER_LAYER_GZIP : MediaTypes.OCI_LAYER,
            digest: lay.digest,
            size: lay.size,
          },
        ],
      };
      // Indented with odd spacing: a store must keep the exact bytes, never re-serialise.
      const bytes = enc(`${JSON.stringify(doc, null, 3)}\n`);
      return { bytes, mediaType, digest: sha256Digest(bytes), config: cfg, layer: lay };
    }

    /** An OCI artifact whose subject is `subject` (cosign v3 bundles, SBOMs). */
    async function artifact(r: Reference, subject: Descriptor, artifactType: string, note: string) {
      const empty = await store.pushBlob(r, enc('{}'), { mediaType: MediaTypes.OCI_EMPTY });
      const body = await store.pushBlob(r, enc(`payload ${note}`));
      const doc = {
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        artifactType,
        config: { mediaType: MediaTypes.OCI_EMPTY, digest: empty.digest, size: empty.size },
        layers: [{ mediaType: 'application/octet-stream', digest: body.digest, size: body.size }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations: { 'dev.aibox.test': note },
      };
      const bytes = enc(JSON.stringify(doc));
      const d = await store.putManifest(
        at(r, { digest: sha256Digest(bytes) }),
        bytes,
        MediaTypes.OCI_MANIFEST,
      );
      return { descriptor: d, bytes };
    }

    describe('blobs', () => {
      it('pushes, heads and gets exactly the pushed bytes; a second push is a no-op', async () => {
        const r = fresh('blobs');
        const data = randomBytes(3000);
        const d = await store.pushBlob(r, data);
        expect(d).toEqual({ mediaType: 'application/octet-stream', digest: sha256Digest(data), size: 3000 });
        expect(await store.headBlob(r, d.digest)).toMatchObject({ digest: d.digest, size: 3000 });
        expect(Buffer.from(await store.getBlob(r, d.digest)).equals(data)).toBe(true);
        expect(await store.pushBlob(r, data, { mediaType: MediaTypes.OCI_LAYER })).toEqual({
          ...d,
          mediaType: MediaTypes.OCI_LAYER,
        });
      });

      it('scopes blobs to their repository: another repository does not see them (§8)', async () => {
        const r = fresh('scoped');
        const d = await store.pushBlob(r, enc('only here'));
        expect(await store.headBlob(fresh('elsewhere'), d.digest)).toBeNull();
      });

      it('answers an absent blob with null on HEAD and NOT_FOUND on GET', async () => {
        const r = fresh('absent-blob');
        await store.pushBlob(r, enc('something'));
        const missing = sha256Digest(enc('never pushed'));
        expect(await store.headBlob(r, missing)).toBeNull();
        expect((await failure(store.getBlob(r, missing))).code).toBe('NOT_FOUND');
      });

      it('refuses a blob over maxBytes and a malformed digest', async () => {
        const r = fresh('limits');
        const d = await store.pushBlob(r, randomBytes(2048));
        expect((await failure(store.getBlob(r, d.digest, { maxBytes: 1024 }))).code).toBe('REGISTRY_ERROR');
        expect((await failure(store.headBlob(r, 'sha256:NOTHEX'))).code).toBe('INVALID_DIGEST');
      });
    });

    describe('manifests', () => {
      it('stores exact bytes under a tag; HEAD and GET by tag and by digest agree', async () => {
        const r = fresh('manifest');
        const img = await image(r, 'm1');
        const put = await store.putManifest(at(r, { tag: 'v1' }), img.bytes, img.mediaType);
        expect(put).toEqual({ mediaType: img.mediaType, digest: img.digest, size: img.bytes.byteLength });
        const byTag = await store.headManifest(at(r, { tag: 'v1' }));
        const byDigest = await store.headManifest(at(r, { digest: img.digest }));
        expect(byTag).toEqual({ mediaType: img.mediaType, digest: img.digest, size: img.bytes.byteLength });
        expect(byDigest).toEqual(byTag);
        const got = await store.getManifest(at(r, { tag: 'v1' }));
        expect(Buffer.from(got.bytes).equals(Buffer.from(img.bytes))).toBe(true);
        expect(got.descriptor).toEqual(put);
      });

      it('keeps a Docker schema 2 manifest and its media type', async () => {
        const r = fresh('docker');
        const img = await image(r, 'd1', { docker: true });
        await store.putManifest(at(r, { tag: 'd' }), img.bytes, img.mediaType);
        const got = await store.getManifest(at(r, { tag: 'd' }));
        expect(got.descriptor.mediaType).toBe(MediaTypes.DOCKER_MANIFEST);
        expect(got.descriptor.digest).toBe(img.digest);
      });

      it('pushes by digest without creating a tag; tag listing of a never-tagged repository is NOT_FOUND (§2)', async () => {
        const r = fresh('by-digest');
        const img = await image(r, 'bd');
        const put = await store.putManifest(at(r, { digest: img.digest }), img.bytes, img.mediaType);
        expect(put.digest).toBe(img.digest);
        expect(await store.headManifest(at(r, { digest: img.digest }))).toMatchObject({ digest: img.digest });
        expect((await failure(store.listTags(r))).code).toBe('NOT_FOUND');
      });

      it('refuses bytes that do not match the digest they are pushed under, storing nothing', async () => {
        const r = fresh('mismatch');
        const img = await image(r, 'mm');
        const claimed = sha256Digest(enc('other bytes'));
        expect(
          (await failure(store.putManifest(at(r, { digest: claimed }), img.bytes, img.mediaType))).code,
        ).toBe('DIGEST_MISMATCH');
        expect(await store.headManifest(at(r, { digest: claimed }))).toBeNull();
        expect(await store.headManifest(at(r, { digest: img.digest }))).toBeNull();
      });

      it('refuses a media type that contradicts the body', async () => {
        const r = fresh('mediatype');
        const img = await image(r, 'mt');
        expect(
          (await failure(store.putManifest(at(r, { tag: 'x' }), img.bytes, MediaTypes.DOCKER_MANIFEST))).code,
        ).toBe('MANIFEST_INVALID');
      });

      it('refuses a manifest whose blobs are not in the repository (MANIFEST_BLOB_UNKNOWN), creating nothing', async () => {
        const r = fresh('blob-unknown');
        const img = await image(r, 'bu');
        const other = fresh('blob-unknown-other'); // the blobs exist, but in another repository
        const f = await failure(store.putManifest(at(other, { tag: 'v1' }), img.bytes, img.mediaType));
        expect(f).toMatchObject({ code: 'REGISTRY_ERROR', status: 400 });
        expect(f.errors).toEqual(['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
        expect(await store.catalog(h.registry)).not.toContain(other.repository);
        expect(await store.headManifest(at(r, { tag: 'v1' }))).toBeNull();
      });

      it('refuses an index whose child manifests are not in the repository, and accepts it once they are', async () => {
        const r = fresh('index');
        const img = await image(r, 'ix');
        const index = enc(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaTypes.OCI_INDEX,
            manifests: [
              {
                mediaType: img.mediaType,
                digest: img.digest,
                size: img.bytes.byteLength,
                platform: { architecture: 'amd64', os: 'linux' },
              },
            ],
          }),
        );
        const f = await failure(store.putManifest(at(r, { tag: 'multi' }), index, MediaTypes.OCI_INDEX));
        expect(f).toMatchObject({ code: 'REGISTRY_ERROR', status: 400, errors: ['MANIFEST_BLOB_UNKNOWN'] });
        await store.putManifest(at(r, { digest: img.digest }), img.bytes, img.mediaType);
        const d = await store.putManifest(at(r, { tag: 'multi' }), index, MediaTypes.OCI_INDEX);
        expect(await store.headManifest(at(r, { tag: 'multi' }))).toEqual({
          mediaType: MediaTypes.OCI_INDEX,
          digest: d.digest,
          size: index.byteLength,
        });
      });

      it('answers absent manifests: null on HEAD, NOT_FOUND on GET, in known and unknown repositories', async () => {
        const r = fresh('absent');
        const img = await image(r, 'ab');
        await store.putManifest(at(r, { tag: 'here' }), img.bytes, img.mediaType);
        expect(await store.headManifest(at(r, { tag: 'nosuchtag' }))).toBeNull();
        expect((await failure(store.getManifest(at(r, { tag: 'nosuchtag' })))).code).toBe('NOT_FOUND');
        const unknown = fresh('never-created');
        expect(await store.headManifest(at(unknown, { digest: img.digest }))).toBeNull();
        expect((await failure(store.getManifest(at(unknown, { digest: img.digest })))).code).toBe(
          'NOT_FOUND',
        );
        expect((await failure(store.listTags(unknown))).code).toBe('NOT_FOUND');
      });

      it('moves a tag atomically by pushing other bytes under it; other tags stay (§5)', async () => {
        const r = fresh('move');
        const a = await image(r, 'a');
        const b = await image(r, 'b');
        await store.putManifest(at(r, { tag: 'latest' }), a.bytes, a.mediaType);
        await store.putManifest(at(r, { tag: 'a' }), a.bytes, a.mediaType);
        await store.putManifest(at(r, { tag: 'latest' }), b.bytes, b.mediaType);
        expect((await store.headManifest(at(r, { tag: 'latest' })))?.digest).toBe(b.digest);
        expect((await store.headManifest(at(r, { tag: 'a' })))?.digest).toBe(a.digest);
        expect(await store.headManifest(at(r, { digest: a.digest }))).not.toBeNull();
      });
    });

    describe('tags and catalog', () => {
      it('lists every tag sorted, whatever the push order (§2: distribution returns storage order)', async () => {
        const r = fresh('tags');
        const img = await image(r, 't');
        const tags = ['v10', 'latest', 'b', 'A', 'v2', '24.04-20260221', 'a', 'v1'];
        for (const t of tags) await store.putManifest(at(r, { tag: t }), img.bytes, img.mediaType);
        expect(await store.listTags(r)).toEqual([...tags].sort());
      });

      it('lists repositories sorted, including one holding only blobs, not one whose only push failed', async () => {
        const blobsOnly = fresh('cat-blobs');
        const withImage = fresh('cat-image');
        await store.pushBlob(blobsOnly, enc('just a blob'));
        const img = await image(withImage, 'c');
        await store.putManifest(at(withImage, { tag: 'v1' }), img.bytes, img.mediaType);
        const failed = fresh('cat-failed');
        await failure(store.putManifest(at(failed, { tag: 'v1' }), img.bytes, img.mediaType));
        const all = await store.catalog(h.registry);
        expect(all).toEqual([...all].sort());
        expect(all).toEqual(expect.arrayContaining([blobsOnly.repository, withImage.repository]));
        expect(all).not.toContain(failed.repository);
      });
    });

    describe('referrers', () => {
      it('finds artifacts by subject: the API where it exists, else only the sha256-<hex> tag schema (§7)', async () => {
        const r = fresh('referrers');
        const img = await image(r, 'rf');
        const subject = await store.putManifest(at(r, { tag: 'v1' }), img.bytes, img.mediaType);
        const bundle = await artifact(r, subject, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'b1');
        const sbom = await artifact(r, subject, 'application/spdx+json', 's1');
        const ref = { ...r, digest: subject.digest };
        const first = await store.referrers(ref);
        if (h.quirks.referrersApi) {
          expect(first.source).toBe('api');
          expect(first.descriptors.map((d) => d.digest).sort()).toEqual(
            [bundle.descriptor.digest, sbom.descriptor.digest].sort(),
          );
          expect(first.descriptors.find((d) => d.digest === sbom.descriptor.digest)).toMatchObject({
            mediaType: MediaTypes.OCI_MANIFEST,
            artifactType: 'application/spdx+json',
            size: sbom.bytes.byteLength,
            annotations: { 'dev.aibox.test': 's1' },
          });
        } else {
          // distribution accepts the subject but keeps no index of it; nobody has written the tag yet.
          expect(first).toEqual({ descriptors: [], source: 'none' });
          const entries = [bundle, sbom].map((a) => ({
            mediaType: MediaTypes.OCI_MANIFEST,
            digest: a.descriptor.digest,
            size: a.bytes.byteLength,
            artifactType: a.descriptor.artifactType,
          }));
          const index = enc(
            JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OCI_INDEX, manifests: entries }),
          );
          const hex = subject.digest.slice('sha256:'.length);
          await store.putManifest(at(r, { tag: `sha256-${hex}` }), index, MediaTypes.OCI_INDEX);
          const second = await store.referrers(ref);
          expect(second).toEqual({ descriptors: entries, source: 'tag-schema' });
        }
        const filtered = await store.referrers(ref, { artifactType: 'application/spdx+json' });
        expect(filtered.descriptors.map((d) => d.digest)).toEqual([sbom.descriptor.digest]);
      });

      it('reports no referrers for an image nothing refers to', async () => {
        const r = fresh('no-referrers');
        const img = await image(r, 'nr');
        const subject = await store.putManifest(at(r, { tag: 'v1' }), img.bytes, img.mediaType);
        const got = await store.referrers({ ...r, digest: subject.digest });
        expect(got).toEqual({ descriptors: [], source: h.quirks.referrersApi ? 'api' : 'none' });
      });
    });

    describe('delete', () => {
      it('deleting a digest removes every tag on it and nothing else; blobs stay; a repeat is NOT_FOUND (§4)', async () => {
        const r = fresh('delete');
        const shared = await image(r, 'shared');
        const other = await image(r, 'other');
        for (const t of ['shared-a', 'shared-b'])
          await store.putManifest(at(r, { tag: t }), shared.bytes, shared.mediaType);
        await store.putManifest(at(r, { tag: 'keep' }), other.bytes, other.mediaType);
        const del = store.deleteManifest(at(r, { digest: shared.digest }));
        if (!h.quirks.deleteEnabled) {
          const f = await failure(del);
          expect(f).toMatchObject({ code: 'REGISTRY_ERROR', status: 405, errors: ['UNSUPPORTED'] });
          expect(await store.listTags(r)).toEqual(['keep', 'shared-a', 'shared-b']);
          return;
        }
        await del;
        expect(await store.listTags(r)).toEqual(['keep']);
        expect(await store.headManifest(at(r, { tag: 'shared-a' }))).toBeNull();
        expect(await store.headManifest(at(r, { digest: shared.digest }))).toBeNull();
        expect(await store.headBlob(r, shared.layer.digest)).not.toBeNull();
        expect((await failure(store.deleteManifest(at(r, { digest: shared.digest })))).code).toBe(
          'NOT_FOUND',
        );
      });

      it('lists no tags (not NOT_FOUND) once every tag of a repository is gone', async () => {
        if (!h.quirks.deleteEnabled) {
          const r = fresh('emptied');
          const img = await image(r, 'e');
          await store.putManifest(at(r, { tag: 'only' }), img.bytes, img.mediaType);
          expect((await failure(store.deleteManifest(at(r, { digest: img.digest })))).code).toBe(
            'REGISTRY_ERROR',
          );
          expect(await store.listTags(r)).toEqual(['only']);
          return;
        }
        const r = fresh('emptied');
        const img = await image(r, 'e');
        await store.putManifest(at(r, { tag: 'only' }), img.bytes, img.mediaType);
        await store.deleteManifest(at(r, { digest: img.digest }));
        expect(await store.listTags(r)).toEqual([]);
        expect(await store.catalog(h.registry)).toContain(r.repository);
      });

      it('deletes a tag alone only where the registry supports it; otherwise the tag stays', async () => {
        const r = fresh('tag-delete');
        const img = await image(r, 'td');
        await store.putManifest(at(r, { tag: 'a' }), img.bytes, img.mediaType);
        await store.putManifest(at(r, { tag: 'b' }), img.bytes, img.mediaType);
        if (h.quirks.tagDelete && h.quirks.deleteEnabled) {
          await store.deleteManifest(at(r, { tag: 'a' }));
          expect(await store.listTags(r)).toEqual(['b']);
          expect(await store.headManifest(at(r, { digest: img.digest }))).not.toBeNull();
          return;
        }
        // distribution 2.8 answers 400 DIGEST_INVALID (405 with deletes off); RegistryClient refuses
        // before sending, so the port reports a usage error.
        const f = await failure(store.deleteManifest(at(r, { tag: 'a' })));
        expect(f.code).toBe(h.quirks.tagDelete ? 'REGISTRY_ERROR' : 'USAGE');
        expect(await store.listTags(r)).toEqual(['a', 'b']);
      });
    });

    describe('mount', () => {
      it('mounts a blob from a repository that has it, and declines (false) from one that does not (§8)', async () => {
        const from = fresh('mount-src');
        const to = fresh('mount-dst');
        const d = await store.pushBlob(from, enc('mount me'));
        expect(await store.mountBlob(to, from.repository, d.digest)).toBe(true);
        expect(await store.headBlob(to, d.digest)).toMatchObject({ digest: d.digest, size: d.size });
        expect(Buffer.from(await store.getBlob(to, d.digest)).toString()).toBe('mount me');
        const nowhere = fresh('mount-none');
        expect(await store.mountBlob(nowhere, fresh('empty-src').repository, d.digest)).toBe(false);
        expect(await store.headBlob(nowhere, d.digest)).toBeNull();
        expect(await store.catalog(h.registry)).not.toContain(nowhere.repository);
      });
    });
  });
}
