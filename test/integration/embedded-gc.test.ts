/**
 * `aiboxctl gc run` on the real embedded registry (CNCF distribution): a deleted image's blobs are reclaimed and
 * counted, kept and untagged (staged) manifests survive, the registry is stopped during the run and started again
 * on the same port, the pipeline lock serialises it against a running pipeline, and --delete-untagged removes the
 * untagged manifest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createExec, type Exec } from '../../src/adapters/exec.js';
import { isAiboxError } from '../../src/core/errors.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { acquirePipelineLock } from '../../src/pipeline/lock.js';
import { registryDown, registryStatus, registryUp } from '../../src/registry/embedded.js';
import { directoryBytes, runEmbeddedGc } from '../../src/registry/gc.js';

let dir: string;
let client: RegistryClient;
let host: string;
const enc = (s: string) => new TextEncoder().encode(s);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-gc-'));
  const up = await registryUp({ dataDir: join(dir, 'registry'), port: 0, exec: createExec() });
  host = up.host;
  client = createRegistryClient({ env: {}, retries: 1 });
});
afterEach(async () => {
  await registryDown({ dataDir: join(dir, 'registry') });
  await rm(dir, { recursive: true, force: true });
});

/** Push an image whose one layer is `size` unique bytes; tagged, or by digest only (as staging pushes). */
async function push(repo: string, name: string, size: number, tag?: string) {
  const ref = { registry: host, repository: repo };
  const cfg = await client.pushBlob(ref, enc(JSON.stringify({ architecture: 'amd64', os: 'linux', name })));
  const layer = await client.pushBlob(ref, enc(name.padEnd(size, '#')));
  const bytes = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: layer.digest, size: layer.size }],
    }),
  );
  const put = await client.putManifest(
    tag ? { ...ref, tag } : { ...ref, digest: `sha256:${await sha(bytes)}` },
    bytes,
    MediaTypes.OCI_MANIFEST,
  );
  return { ...ref, digest: put.digest, layer: layer.digest };
}
async function sha(b: Uint8Array) {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(b).digest('hex');
}

const lockDir = () => join(dir, 'data', 'locks');
const gc = (o: { deleteUntagged?: boolean } = {}) =>
  runEmbeddedGc({
    dataDir: join(dir, 'registry'),
    port: 0,
    project: 'aibox',
    exec: createExec(),
    lock: (scope) => acquirePipelineLock(lockDir(), scope, 'gc-test', new Date()),
    ...o,
  });

describe('gc run (embedded registry)', () => {
  it('reclaims a deleted image, keeps tagged and staged ones, restarts the registry on the same port', async () => {
    const kept = await push('aibox/base', 'kept', 200_000, '24.04-20260221');
    const gone = await push('aibox/base', 'gone', 300_000, '24.04-20260101');
    const staged = await push('aibox/base', 'staged', 100_000);
    await client.deleteManifest({ registry: host, repository: 'aibox/base', digest: gone.digest });
    const pidBefore = (await registryStatus({ dataDir: join(dir, 'registry') })).pid;

    const r = await gc();
    expect(r.deleteUntagged).toBe(false);
    expect(r.bytesReclaimed).toBeGreaterThanOrEqual(300_000);
    expect(r.bytesReclaimed).toBe(r.bytesBefore - r.bytesAfter);
    expect(r.bytesAfter).toBe(await directoryBytes(join(dir, 'registry', 'storage')));
    expect(r.blobsEligible).toBeGreaterThanOrEqual(2);
    expect(r.restarted).toBe(true);
    expect(r.host).toBe(host);

    const st = await registryStatus({ dataDir: join(dir, 'registry') });
    expect(st).toMatchObject({ running: true, host, responding: true });
    expect(st.pid).not.toBe(pidBefore);
    // Kept: tagged image and the untagged (staged) manifest with their blobs.
    expect(
      (await client.headManifest({ registry: host, repository: 'aibox/base', tag: '24.04-20260221' }))
        ?.digest,
    ).toBe(kept.digest);
    expect(await client.headBlob({ registry: host, repository: 'aibox/base' }, kept.layer)).toBeTruthy();
    expect(
      await client.headManifest({ registry: host, repository: 'aibox/base', digest: staged.digest }),
    ).not.toBeNull();
    expect(await client.headBlob({ registry: host, repository: 'aibox/base' }, staged.layer)).toBeTruthy();
    expect(await client.headBlob({ registry: host, repository: 'aibox/base' }, gone.layer)).toBeFalsy();
  });

  it('--delete-untagged also removes the untagged manifest and its blobs', async () => {
    const staged = await push('aibox/base', 'staged', 150_000);
    await push('aibox/base', 'kept', 1000, 'latest');
    const r = await gc({ deleteUntagged: true });
    expect(r.bytesReclaimed).toBeGreaterThanOrEqual(150_000);
    expect(await client.headBlob({ registry: host, repository: 'aibox/base' }, staged.layer)).toBeFalsy();
  });

  it('while garbage-collect runs the registry is down and cannot be started on demand; it is up again after', async () => {
    await push('aibox/base', 'kept', 1000, 'latest');
    const real = createExec();
    let during: { running: boolean; startError: unknown } | undefined;
    const exec: Exec = async (file, args, opts) => {
      if (args[0] === 'garbage-collect') {
        const st = await registryStatus({ dataDir: join(dir, 'registry') });
        // What a pipeline or a command starting the registry on demand would do meanwhile.
        const startError = await registryUp({ dataDir: join(dir, 'registry'), port: 0, timeoutMs: 1 }).then(
          () => null,
          (e: unknown) => e,
        );
        during = { running: st.running, startError };
      }
      return real(file, args, opts);
    };
    const r = await runEmbeddedGc({
      dataDir: join(dir, 'registry'),
      port: 0,
      project: 'aibox',
      exec,
      lock: (scope) => acquirePipelineLock(lockDir(), scope, 'gc-test', new Date()),
    });
    expect(during?.running).toBe(false);
    expect(isAiboxError(during?.startError, 'TIMEOUT')).toBe(true);
    expect((during?.startError as Error).message).toMatch(
      /another aibox process is starting the embedded registry/,
    );
    expect(r.restarted).toBe(true);
    expect(await registryStatus({ dataDir: join(dir, 'registry') })).toMatchObject({ running: true, host });
  });

  it('garbage-collect failing: REGISTRY_ERROR with a hint, the registry is running again, the lock released', async () => {
    await push('aibox/base', 'kept', 1000, 'latest');
    const real = createExec();
    const exec: Exec = async (file, args, opts) =>
      args[0] === 'garbage-collect'
        ? real(file, ['garbage-collect', '/nonexistent/config.yml'], opts)
        : real(file, args, opts);
    const err = await runEmbeddedGc({
      dataDir: join(dir, 'registry'),
      port: 0,
      project: 'aibox',
      exec,
      lock: (scope) => acquirePipelineLock(lockDir(), scope, 'gc-test', new Date()),
    }).catch((e: unknown) => e);
    expect(isAiboxError(err, 'REGISTRY_ERROR')).toBe(true);
    expect((err as { hint?: string }).hint).toMatch(/started again/);
    expect(await registryStatus({ dataDir: join(dir, 'registry') })).toMatchObject({
      running: true,
      host,
      responding: true,
    });
    // The lock is free: a pipeline can take it.
    const l = await acquirePipelineLock(lockDir(), `${host}/aibox`, 'next', new Date());
    await l.release();
  });

  it('an empty registry (nothing ever pushed): nothing to collect, the registry is not touched', async () => {
    const before = await registryStatus({ dataDir: join(dir, 'registry') });
    const r = await gc();
    expect(r).toMatchObject({ bytesReclaimed: 0, restarted: false, blobsEligible: 0 });
    expect((await registryStatus({ dataDir: join(dir, 'registry') })).pid).toBe(before.pid);
  });

  it('refuses while a pipeline holds the lock, and leaves the registry running untouched', async () => {
    const gone = await push('aibox/base', 'gone', 100_000, 'x');
    await client.deleteManifest({ registry: host, repository: 'aibox/base', digest: gone.digest });
    const before = await registryStatus({ dataDir: join(dir, 'registry') });
    const held = await acquirePipelineLock(lockDir(), `${host}/aibox`, 'rebuild-123', new Date());
    try {
      const err = await gc().catch((e: unknown) => e);
      expect(isAiboxError(err, 'LOCKED')).toBe(true);
      expect((err as Error).message).toMatch(/run rebuild-123/);
      expect((await registryStatus({ dataDir: join(dir, 'registry') })).pid).toBe(before.pid);
      expect(await client.headBlob({ registry: host, repository: 'aibox/base' }, gone.layer)).toBeTruthy();
    } finally {
      await held.release();
    }
  });
});
