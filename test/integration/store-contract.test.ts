/**
 * The ImageStore contract (store.contract.ts) on MemoryImageStore and on RegistryClient against a
 * real docker-registry (distribution 2.8), once with deletes enabled (as aibox configures it) and
 * once with distribution's default (deletes disabled): the fake's quirk settings must give the same
 * answers as the real thing. Then what only the fake has: fault injection and the call log.
 * Two registries for the whole file (the two delete settings); both are stopped in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiboxError } from '../../src/core/errors.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { MemoryImageStore, failNthCall, failNthOp, type StoreOp } from '../../src/oci/memory-store.js';
import type { Reference } from '../../src/oci/reference.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { storeContract } from './store.contract.js';
import { maybeUnset } from '../helpers/unset.js';

let enabled: TestRegistry;
let disabled: TestRegistry;
let client: RegistryClient;

beforeAll(async () => {
  [enabled, disabled] = await Promise.all([startRegistry(), startRegistry({ deleteEnabled: false })]);
  client = createRegistryClient({ env: {}, retries: 1 });
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await Promise.all([maybeUnset(enabled)?.stop(), maybeUnset(disabled)?.stop()]);
});

const DIST_28 = { deleteEnabled: true, tagDelete: false, referrersApi: false } as const;
const DIST_28_DEFAULT = { ...DIST_28, deleteEnabled: false } as const;

storeContract('RegistryClient on docker-registry 2.8 (delete enabled)', () => ({
  store: client,
  registry: enabled.host,
  quirks: DIST_28,
}));
storeContract('MemoryImageStore as distribution 2.8 (delete enabled)', () => ({
  store: new MemoryImageStore(DIST_28),
  registry: '127.0.0.1:5000',
  quirks: DIST_28,
}));
storeContract('RegistryClient on docker-registry 2.8 (delete disabled, the default)', () => ({
  store: client,
  registry: disabled.host,
  quirks: DIST_28_DEFAULT,
}));
storeContract('MemoryImageStore as distribution 2.8 (delete disabled)', () => ({
  store: new MemoryImageStore(DIST_28_DEFAULT),
  registry: '127.0.0.1:5000',
  quirks: DIST_28_DEFAULT,
}));
// Harbor-like settings; no real server here, so these run against the fake alone.
storeContract('MemoryImageStore with referrers API and tag delete', () => {
  const quirks = { deleteEnabled: true, tagDelete: true, referrersApi: true };
  return { store: new MemoryImageStore(quirks), registry: 'registry.test', quirks };
});

describe('MemoryImageStore fault injection and call log', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const repo: Reference = { registry: 'registry.test', repository: 'aibox/base' };

  /** A small image pushed through the port: 2 pushBlob + 1 putManifest calls. */
  async function pushImage(store: MemoryImageStore, tag: string, seed: string): Promise<string> {
    const cfg = await store.pushBlob(repo, enc(`{"seed":"${seed}"}`));
    const lay = await store.pushBlob(repo, enc(`layer ${seed}`));
    const bytes = enc(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
        layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: lay.digest, size: lay.size }],
      }),
    );
    return (await store.putManifest({ ...repo, tag }, bytes, MediaTypes.OCI_MANIFEST)).digest;
  }

  it('logs every call in order with its target', async () => {
    const store = new MemoryImageStore();
    const digest = await pushImage(store, 'v1', 'a');
    await store.listTags(repo);
    expect(store.calls.map((c) => c.op)).toEqual<StoreOp[]>([
      'pushBlob',
      'pushBlob',
      'putManifest',
      'listTags',
    ]);
    expect(store.calls[2]).toEqual({ op: 'putManifest', ref: 'registry.test/aibox/base:v1' });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    store.resetCalls();
    expect(store.calls).toEqual([]);
  });

  it('fails the k-th call, for each k, before it has any effect', async () => {
    for (let k = 1; k <= 3; k++) {
      const store = new MemoryImageStore({ beforeCall: failNthCall(k) });
      const err = await pushImage(store, 'v1', 'k').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AiboxError);
      expect((err as AiboxError).code).toBe('REGISTRY_UNREACHABLE');
      store.setHooks({});
      // Nothing was tagged: the manifest push either failed itself or never happened.
      expect(await store.headManifest({ ...repo, tag: 'v1' })).toBeNull();
      expect(store.calls).toHaveLength(k + 1);
    }
  });

  it('fails the k-th call of one operation only, with the error given', async () => {
    const store = new MemoryImageStore({
      beforeCall: failNthOp(
        'putManifest',
        2,
        () => new AiboxError({ code: 'REGISTRY_ERROR', message: 'boom' }),
      ),
    });
    await pushImage(store, 'first', 'x');
    await expect(pushImage(store, 'second', 'y')).rejects.toMatchObject({
      code: 'REGISTRY_ERROR',
      message: 'boom',
    });
    await pushImage(store, 'third', 'z');
    expect(await store.listTags(repo)).toEqual(['first', 'third']);
  });

  it('can lose the answer of a call that took effect (afterCall), as a dropped connection does', async () => {
    const store = new MemoryImageStore({ afterCall: failNthOp('putManifest', 1) });
    await expect(pushImage(store, 'v1', 'lost')).rejects.toMatchObject({ code: 'REGISTRY_UNREACHABLE' });
    expect(await store.listTags(repo)).toEqual(['v1']);
  });

  it('verifies what it serves: a corrupted blob is a DIGEST_MISMATCH, never returned', async () => {
    const store = new MemoryImageStore();
    const d = await store.pushBlob(repo, enc('good bytes'));
    store.corruptBlob(repo.registry, d.digest, enc('evil bytes'));
    await expect(store.getBlob(repo, d.digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(d.digest).toBe(sha256Digest(enc('good bytes')));
  });

  it('hands out copies: changing returned or pushed bytes does not change what is stored', async () => {
    const store = new MemoryImageStore();
    const data = enc('immutable');
    const d = await store.pushBlob(repo, data);
    data[0] = 0x58;
    const got = await store.getBlob(repo, d.digest);
    got[1] = 0x58;
    expect(new TextDecoder().decode(await store.getBlob(repo, d.digest))).toBe('immutable');
  });
});
