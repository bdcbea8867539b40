import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bigDataFileName,
  readStoredImage,
  storageFirstInspect,
  type StorageLocation,
  type StoredImage,
} from '../../src/adapters/podman-storage.js';

const sha = (b: string | Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const REF = '127.0.0.1:5000/aibox/base:24.04-20260221';
const CREATED = '2026-02-21T02:00:00.123456789Z';

let root: string;
let loc: StorageLocation;
let manifestDigest: string;
let id: string;

/** A containers-storage image store laid out as podman 4.3 writes it (overlay-images/images.json + big data). */
async function store(opts: { manifest?: string; names?: string[]; extra?: object[] } = {}): Promise<void> {
  const config = JSON.stringify({ created: CREATED, architecture: 'amd64', os: 'linux' });
  id = sha(config).slice(7);
  const manifest =
    opts.manifest ??
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${id}`,
        size: config.length,
      },
      layers: [],
    });
  manifestDigest = sha(manifest);
  const dir = join(root, 'overlay-images');
  await mkdir(join(dir, id), { recursive: true, mode: 0o700 });
  const keys = [`sha256:${id}`, `manifest-${manifestDigest}`, 'manifest'];
  await writeFile(join(dir, id, bigDataFileName(`sha256:${id}`)), config, { mode: 0o600 });
  await writeFile(join(dir, id, bigDataFileName(`manifest-${manifestDigest}`)), manifest, { mode: 0o600 });
  await writeFile(join(dir, id, 'manifest'), manifest, { mode: 0o600 });
  const images = [
    {
      id,
      digest: manifestDigest,
      names: opts.names ?? [REF],
      layer: 'l',
      'big-data-names': keys,
      created: CREATED,
    },
    ...(opts.extra ?? []),
  ];
  await writeFile(join(dir, 'images.json'), JSON.stringify(images), { mode: 0o600 });
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aibox-cstorage-'));
  await chmod(root, 0o700);
  loc = { graphRoot: root, driver: 'overlay' };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('bigDataFileName (containers/storage makeBigDataBaseName)', () => {
  it('keeps [0-9a-z.] keys, base64s everything else behind "="', () => {
    expect(bigDataFileName('manifest')).toBe('manifest');
    // a name seen in a real /var/lib/containers/storage/overlay-images/<id>/
    expect(bigDataFileName('sha256:6d945c9fdcaad4c117d41a2ec165ab0578f8d89746a409764b0bde03d3dedf0d')).toBe(
      '=c2hhMjU2OjZkOTQ1YzlmZGNhYWQ0YzExN2Q0MWEyZWMxNjVhYjA1NzhmOGQ4OTc0NmE0MDk3NjRiMGJkZTAzZDNkZWRmMGQ=',
    );
  });
});

describe('readStoredImage', () => {
  it('answers the signed digest and the config created time when the stored manifest hashes to it', async () => {
    await store();
    expect(await readStoredImage(loc, REF, manifestDigest)).toEqual({
      digest: manifestDigest,
      repoDigests: [],
      created: CREATED,
    });
  });

  it('null (ask podman) for another digest: the tampered image is never vouched for here', async () => {
    await store();
    expect(await readStoredImage(loc, REF, `sha256:${'e'.repeat(64)}`)).toBeNull();
  });

  it('null when the file bytes do not hash to the digest images.json claims (hashes itself)', async () => {
    await store();
    const wanted = manifestDigest;
    const dir = join(root, 'overlay-images', id);
    for (const f of ['manifest', bigDataFileName(`manifest-${wanted}`)])
      await writeFile(join(dir, f), '{"x":1}');
    expect(await readStoredImage(loc, REF, wanted)).toBeNull();
  });

  it('null when the config is not the one the manifest names, or does not hash to it', async () => {
    await store();
    await writeFile(
      join(root, 'overlay-images', id, bigDataFileName(`sha256:${id}`)),
      JSON.stringify({ created: '2030-01-01T00:00:00Z' }),
    );
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
    await store({
      manifest: JSON.stringify({ schemaVersion: 2, config: { digest: `sha256:${'1'.repeat(64)}` } }),
    });
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
  });

  it('null for a name on two images, a missing name, malformed JSON or an unknown layout', async () => {
    await store({ extra: [{ id: 'f'.repeat(64), names: [REF], 'big-data-names': [] }] });
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
    await store();
    expect(await readStoredImage(loc, 'localhost/other:1', manifestDigest)).toBeNull();
    expect(await readStoredImage({ ...loc, driver: '../x' }, REF, manifestDigest)).toBeNull();
    expect(await readStoredImage({ ...loc, graphRoot: 'relative' }, REF, manifestDigest)).toBeNull();
    await writeFile(join(root, 'overlay-images', 'images.json'), '[{"id":');
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
    await writeFile(join(root, 'overlay-images', 'images.json'), '{"not":"an array"}');
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
  });

  it('follows no symlink below the graph root, and refuses group/world-writable files', async () => {
    await store();
    const dir = join(root, 'overlay-images');
    // the image directory swapped for a symlink to a copy elsewhere
    const elsewhere = await mkdtemp(join(tmpdir(), 'aibox-cstorage-elsewhere-'));
    try {
      await chmod(elsewhere, 0o700);
      for (const f of [
        'manifest',
        bigDataFileName(`sha256:${id}`),
        bigDataFileName(`manifest-${manifestDigest}`),
      ])
        await writeFile(join(elsewhere, f), await readFile(join(dir, id, f)), { mode: 0o600 });
      await rm(join(dir, id), { recursive: true });
      await symlink(elsewhere, join(dir, id));
      expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
    await rm(join(dir, id));
    await store();
    // images.json as a symlink to a crafted index
    await writeFile(join(root, 'crafted.json'), await readFile(join(dir, 'images.json')), { mode: 0o600 });
    await rm(join(dir, 'images.json'));
    await symlink(join(root, 'crafted.json'), join(dir, 'images.json'));
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
    await rm(join(dir, 'images.json'));
    await store();
    await chmod(join(dir, 'images.json'), 0o666);
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
  });

  it('null for an oversized images.json (bounded read)', async () => {
    await store();
    const big = Buffer.alloc(33 * 1024 * 1024, 0x20);
    await writeFile(join(root, 'overlay-images', 'images.json'), big, { mode: 0o600 });
    expect(await readStoredImage(loc, REF, manifestDigest)).toBeNull();
  });
});

describe('storageFirstInspect', () => {
  it('asks podman (and learns the location beside it) the first time; then reads storage, no podman', async () => {
    await store();
    const calls: string[] = [];
    const podmanAnswer: StoredImage = { digest: manifestDigest, repoDigests: [], created: CREATED };
    const lookup = storageFirstInspect({
      inspect: async (ref) => {
        calls.push(`inspect ${ref}`);
        return podmanAnswer;
      },
      location: async () => {
        calls.push('info');
        return loc;
      },
      cachePath: join(root, 'cache', 'podman-storage.json'),
      key: async () => 'k1',
      write: async (path, text) => {
        await mkdir(join(root, 'cache'), { recursive: true, mode: 0o700 });
        await writeFile(path, text, { mode: 0o600 });
      },
    });
    expect(await lookup(REF, manifestDigest)).toEqual(podmanAnswer);
    expect(calls.sort()).toEqual(['info', `inspect ${REF}`]);
    calls.length = 0;
    expect(await lookup(REF, manifestDigest)).toEqual({
      digest: manifestDigest,
      repoDigests: [],
      created: CREATED,
    });
    expect(calls).toEqual([]);
    // a digest storage cannot vouch for: podman answers (and the preflight's signature check decides)
    await lookup(REF, `sha256:${'e'.repeat(64)}`);
    expect(calls).toEqual([`inspect ${REF}`]);
  });

  it('a cached location for another key (podman args, user, storage.conf changed) is not used', async () => {
    await store();
    const cachePath = join(root, 'podman-storage.json');
    await writeFile(cachePath, JSON.stringify({ key: 'old', ...loc }), { mode: 0o600 });
    const calls: string[] = [];
    const lookup = storageFirstInspect({
      inspect: async () => {
        calls.push('inspect');
        return { digest: manifestDigest, repoDigests: [], created: CREATED };
      },
      location: async () => {
        calls.push('info');
        throw new Error('podman info failed');
      },
      cachePath,
      key: async () => 'new',
      write: async () => undefined,
    });
    await lookup(REF, manifestDigest);
    expect(calls.sort()).toEqual(['info', 'inspect']);
  });
});
