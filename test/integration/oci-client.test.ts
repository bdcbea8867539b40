/**
 * RegistryClient against a real CNCF distribution registry (docker-registry 2.8) on loopback.
 * One registry per file (plus an htpasswd one for Basic auth); every process is stopped in afterAll.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiboxError, isAiboxError } from '../../src/core/errors.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { staticCredentials } from '../../src/oci/credentials.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import type { Reference } from '../../src/oci/reference.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const enc = (s: string) => new TextEncoder().encode(s);

let reg: TestRegistry;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {}, retries: 1 });
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
});

const repo = (repository: string, extra: Partial<Reference> = {}): Reference => ({
  registry: reg.host,
  repository,
  ...extra,
});

/** Push a config + one layer and return an OCI (or Docker v2) manifest's bytes. */
async function pushImage(repository: string, seed: string, docker = false): Promise<Uint8Array> {
  const config = enc(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = enc(`layer-${seed}`);
  const cfg = await client.pushBlob(repo(repository), config);
  const lay = await client.pushBlob(repo(repository), layer);
  const manifest = docker
    ? {
        schemaVersion: 2,
        mediaType: MediaTypes.DOCKER_MANIFEST,
        config: { mediaType: MediaTypes.DOCKER_CONFIG, digest: cfg.digest, size: cfg.size },
        layers: [{ mediaType: MediaTypes.DOCKER_LAYER_GZIP, digest: lay.digest, size: lay.size }],
      }
    : {
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
        layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: lay.digest, size: lay.size }],
      };
  return enc(JSON.stringify(manifest));
}

describe('blobs', () => {
  it('uploads monolithically, skips a present blob, and reads it back verified', async () => {
    const data = enc('hello blob');
    const d = await client.pushBlob(repo('t/blobs'), data);
    expect(d.digest).toBe(sha256Digest(data));
    expect(await client.headBlob(repo('t/blobs'), d.digest)).toMatchObject({
      digest: d.digest,
      size: data.byteLength,
    });
    expect(Buffer.from(await client.getBlob(repo('t/blobs'), d.digest)).toString()).toBe('hello blob');
    expect(await client.pushBlob(repo('t/blobs'), data)).toEqual(d);
    expect(await client.headBlob(repo('t/blobs'), sha256Digest(enc('absent')))).toBeNull();
  });

  it('uploads in chunks with Content-Range and streams it back verified', async () => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
    const digest = sha256Digest(data);
    const stream = Readable.from([
      data.subarray(0, 70_000),
      data.subarray(70_000, 190_000),
      data.subarray(190_000),
    ]);
    const d = await client.pushBlobStream(repo('t/chunked'), stream, digest, data.length, {
      chunkSize: 64 * 1024,
    });
    expect(d).toMatchObject({ digest, size: data.length });
    const chunks: Buffer[] = [];
    for await (const c of (await client.getBlobStream(repo('t/chunked'), digest)) as AsyncIterable<Buffer>)
      chunks.push(c);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('refuses a stream whose bytes do not match the announced digest, committing nothing', async () => {
    const wrong = sha256Digest(enc('something else'));
    const err = await client
      .pushBlobStream(repo('t/chunked'), Readable.from([Buffer.from('actual bytes')]), wrong, 12)
      .catch((e: unknown) => e);
    expect(isAiboxError(err, 'DIGEST_MISMATCH')).toBe(true);
    expect(await client.headBlob(repo('t/chunked'), wrong)).toBeNull();
  });

  it('mounts across repositories (201) and reports 202 as not mounted', async () => {
    const d = await client.pushBlob(repo('t/mount-src'), enc('mount me'));
    expect(await client.mountBlob(repo('t/mount-dst'), 't/mount-src', d.digest)).toBe(true);
    expect(await client.headBlob(repo('t/mount-dst'), d.digest)).not.toBeNull();
    const absent = sha256Digest(enc('never pushed'));
    expect(await client.mountBlob(repo('t/mount-dst2'), 't/mount-src', absent)).toBe(false);
  });
});

describe('manifests', () => {
  it('pushes OCI and Docker v2 manifests and an index; HEAD/GET by tag and digest agree', async () => {
    const oci = await pushImage('t/app', 'oci');
    const dock = await pushImage('t/app', 'docker', true);
    const d1 = await client.putManifest(repo('t/app', { tag: 'v1' }), oci, MediaTypes.OCI_MANIFEST);
    const d2 = await client.putManifest(repo('t/app', { tag: 'docker1' }), dock, MediaTypes.DOCKER_MANIFEST);
    expect(d1.digest).toBe(sha256Digest(oci));
    const index = enc(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_INDEX,
        manifests: [{ ...d1, platform: { architecture: 'amd64', os: 'linux' } }],
      }),
    );
    const di = await client.putManifest(repo('t/app', { tag: 'multi' }), index, MediaTypes.OCI_INDEX);

    for (const [tag, d, bytes] of [
      ['v1', d1, oci],
      ['docker1', d2, dock],
      ['multi', di, index],
    ] as const) {
      expect(await client.headManifest(repo('t/app', { tag }))).toEqual({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
      });
      expect(await client.headManifest(repo('t/app', { digest: d.digest }))).toMatchObject({
        digest: d.digest,
      });
      const byTag = await client.getManifest(repo('t/app', { tag }));
      expect(Buffer.from(byTag.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(byTag.descriptor).toMatchObject({
        digest: d.digest,
        mediaType: d.mediaType,
        size: bytes.byteLength,
      });
      const byDigest = await client.getManifest(repo('t/app', { digest: d.digest }));
      expect(byDigest.descriptor.digest).toBe(d.digest);
    }
    expect(await client.headManifest(repo('t/app', { tag: 'nope' }))).toBeNull();
    const err = await client.getManifest(repo('t/app', { tag: 'nope' })).catch((e: unknown) => e);
    expect(isAiboxError(err, 'NOT_FOUND')).toBe(true);
    expect((err as AiboxError).message).toMatch(/MANIFEST_UNKNOWN/);
  });

  it('moves a tag atomically by PUTting the exact bytes of another manifest', async () => {
    const a = await pushImage('t/move', 'a');
    const b = await pushImage('t/move', 'b');
    const da = await client.putManifest(repo('t/move', { tag: 'a' }), a, MediaTypes.OCI_MANIFEST);
    const db = await client.putManifest(repo('t/move', { tag: 'latest' }), b, MediaTypes.OCI_MANIFEST);
    expect((await client.headManifest(repo('t/move', { tag: 'latest' })))?.digest).toBe(db.digest);
    await client.putManifest(repo('t/move', { tag: 'latest' }), a, MediaTypes.OCI_MANIFEST);
    expect((await client.headManifest(repo('t/move', { tag: 'latest' })))?.digest).toBe(da.digest);
    expect((await client.headManifest(repo('t/move', { tag: 'a' })))?.digest).toBe(da.digest);
  });

  it('deleting by digest removes every tag pointing at it; deleting by tag is refused', async () => {
    const m = await pushImage('t/del', 'x');
    const keep = await pushImage('t/del', 'keep');
    const d = await client.putManifest(repo('t/del', { tag: 'shared-a' }), m, MediaTypes.OCI_MANIFEST);
    await client.putManifest(repo('t/del', { tag: 'shared-b' }), m, MediaTypes.OCI_MANIFEST);
    await client.putManifest(repo('t/del', { tag: 'keep' }), keep, MediaTypes.OCI_MANIFEST);
    const byTag = await client.deleteManifest(repo('t/del', { tag: 'shared-a' })).catch((e: unknown) => e);
    expect(isAiboxError(byTag, 'USAGE')).toBe(true);
    await client.deleteManifest(repo('t/del', { digest: d.digest }));
    expect(await client.listTags(repo('t/del'))).toEqual(['keep']);
    expect(await client.headManifest(repo('t/del', { tag: 'shared-b' }))).toBeNull();
    const again = await client.deleteManifest(repo('t/del', { digest: d.digest })).catch((e: unknown) => e);
    expect(isAiboxError(again, 'NOT_FOUND')).toBe(true);
  });

  it('reports deletion disabled clearly (405 UNSUPPORTED)', async () => {
    const ro = await startRegistry({ deleteEnabled: false });
    const c = createRegistryClient({ env: {} });
    try {
      const ref = { registry: ro.host, repository: 't/x' };
      const cfg = await c.pushBlob(ref, enc('{}'));
      const bytes = enc(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_MANIFEST,
          config: { mediaType: MediaTypes.OCI_EMPTY, digest: cfg.digest, size: 2 },
          layers: [],
        }),
      );
      const d = await c.putManifest({ ...ref, tag: 'v1' }, bytes, MediaTypes.OCI_MANIFEST);
      const err = await c.deleteManifest({ ...ref, digest: d.digest }).catch((e: unknown) => e);
      expect(isAiboxError(err, 'REGISTRY_ERROR')).toBe(true);
      expect((err as AiboxError).message).toMatch(/405.*UNSUPPORTED.*deletion is disabled/);
      expect((err as AiboxError).hint).toMatch(/delete.enabled/);
    } finally {
      await c.close();
      await ro.stop();
    }
  });
});

describe('tags, catalog and referrers', () => {
  it('lists many tags sorted (distribution 2.8 ignores n and returns storage order)', async () => {
    const m = await pushImage('t/many', 'many');
    const tags = Array.from({ length: 1205 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    const shuffled = [...tags].sort((a, b) =>
      a.split('').reverse().join('') < b.split('').reverse().join('') ? -1 : 1,
    );
    await Promise.all(
      shuffled.map((tag) => client.putManifest(repo('t/many', { tag }), m, MediaTypes.OCI_MANIFEST)),
    );
    expect(await client.listTags(repo('t/many'))).toEqual(tags);
  });

  it('pages through the catalog with Link headers', async () => {
    const names = await client.catalog(reg.host);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['t/app', 't/many', 't/move']));
  });

  it('falls back to the sha256-<hex> referrers tag when the API is absent, filtering by artifactType', async () => {
    const subjectBytes = await pushImage('t/ref', 'subject');
    const subject = await client.putManifest(
      repo('t/ref', { tag: 'v1' }),
      subjectBytes,
      MediaTypes.OCI_MANIFEST,
    );
    expect(
      await client.referrers(repo('t/ref', { digest: subject.digest }) as Reference & { digest: string }),
    ).toEqual({
      descriptors: [],
      source: 'none',
    });
    const empty = await client.pushBlob(repo('t/ref'), enc('{}'), { mediaType: MediaTypes.OCI_EMPTY });
    const artifact = (type: string, body: string) =>
      enc(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_MANIFEST,
          artifactType: type,
          config: { mediaType: MediaTypes.OCI_EMPTY, digest: empty.digest, size: 2 },
          layers: [{ mediaType: MediaTypes.OCI_EMPTY, digest: empty.digest, size: 2, annotations: { body } }],
          subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        }),
      );
    const sig = await client.putManifest(
      repo('t/ref', { digest: sha256Digest(artifact('application/vnd.dev.sigstore.bundle.v0.3+json', 's')) }),
      artifact('application/vnd.dev.sigstore.bundle.v0.3+json', 's'),
      MediaTypes.OCI_MANIFEST,
    );
    const sbom = await client.putManifest(
      repo('t/ref', { digest: sha256Digest(artifact('application/spdx+json', 'b')) }),
      artifact('application/spdx+json', 'b'),
      MediaTypes.OCI_MANIFEST,
    );
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_INDEX,
      manifests: [sig, sbom],
    };
    await client.putManifest(
      repo('t/ref', { tag: `sha256-${subject.digest.slice(7)}` }),
      enc(JSON.stringify(index)),
      MediaTypes.OCI_INDEX,
    );
    const all = await client.referrers({ ...repo('t/ref'), digest: subject.digest });
    expect(all.source).toBe('tag-schema');
    expect(all.descriptors.map((d) => d.digest)).toEqual([sig.digest, sbom.digest]);
    const only = await client.referrers(
      { ...repo('t/ref'), digest: subject.digest },
      { artifactType: 'application/spdx+json' },
    );
    expect(only.descriptors.map((d) => d.digest)).toEqual([sbom.digest]);
  });
});

describe('Basic auth (htpasswd) with credentials from REGISTRY_AUTH_FILE', () => {
  let secured: TestRegistry;
  let dir: string;
  beforeAll(async () => {
    secured = await startRegistry({ htpasswd: { user: 'ci-bot', password: 's3cret-pw' } });
    dir = await mkdtemp(join(tmpdir(), 'aibox-auth-'));
  });
  afterAll(async () => {
    await maybeUnset(secured)?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const authFile = async (name: string, user: string, password: string) => {
    const path = join(dir, name);
    const auth = Buffer.from(`${user}:${password}`).toString('base64');
    await writeFile(
      path,
      JSON.stringify({ auths: { [secured.host]: { auth }, 'other.example:5000': { auth: 'eDp5' } } }),
    );
    return path;
  };

  it('pushes and pulls with the right credentials', async () => {
    const path = await authFile('good.json', 'ci-bot', 's3cret-pw');
    const c = createRegistryClient({ env: { REGISTRY_AUTH_FILE: path } });
    try {
      await c.ping(secured.host);
      const d = await c.pushBlob({ registry: secured.host, repository: 'sec/app' }, enc('secret layer'));
      expect(await c.getBlob({ registry: secured.host, repository: 'sec/app' }, d.digest)).toEqual(
        enc('secret layer'),
      );
    } finally {
      await c.close();
    }
  });

  it('names the credential source when the registry rejects it, never the password', async () => {
    const path = await authFile('bad.json', 'ci-bot', 'wrong-pw');
    const c = createRegistryClient({ env: { REGISTRY_AUTH_FILE: path }, retries: 0 });
    try {
      const err = await c
        .listTags({ registry: secured.host, repository: 'sec/app' })
        .catch((e: unknown) => e);
      expect(isAiboxError(err, 'REGISTRY_AUTH')).toBe(true);
      const msg = (err as AiboxError).message;
      expect(msg).toContain(`(credentials from ${path} for ${secured.host} were rejected)`);
      expect(msg).toContain('401');
      expect(msg).not.toContain('wrong-pw');
    } finally {
      await c.close();
    }
  });

  it('lists every file searched when no credentials match', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'missing.json'), HOME: join(dir, 'home') };
    const c = createRegistryClient({ env, retries: 0 });
    try {
      const err = await c.ping(secured.host).catch((e: unknown) => e);
      expect(isAiboxError(err, 'REGISTRY_AUTH')).toBe(true);
      expect((err as AiboxError).message).toContain(
        `(no credentials found for ${secured.host} in: ${join(dir, 'missing.json')}, ${join(dir, 'home/.config/containers/auth.json')}, ${join(dir, 'home/.docker/config.json')})`,
      );
    } finally {
      await c.close();
    }
  });

  it('accepts an injected credential source', async () => {
    const c = createRegistryClient({
      credentials: staticCredentials({ [secured.host]: { username: 'ci-bot', password: 's3cret-pw' } }),
    });
    try {
      // The htpasswd registry answers /v2/ with 200 only when the injected credential was sent.
      await expect(c.ping(secured.host)).resolves.toBeUndefined();
    } finally {
      await c.close();
    }
  });
});
