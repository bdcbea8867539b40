/**
 * The preflight's local-image lookup without a podman process (issue 10 "Performance"): containers-storage's own
 * metadata, read-only, with every doubt answered by `podman image inspect` instead.
 *
 * The format relied on (containers/storage `images.go`, `store.go`): the image store of graph root R and driver D
 * is the directory `R/D-images`; `images.json` there is a JSON array of images, each with `id` (64 hex: the config
 * digest for pulled images), `names` (unique among images) and `big-data-names`; it is replaced atomically
 * (`ioutils.AtomicWriteFile`, 0600). An image's big-data item KEY is the file `R/D-images/ID/NAME`, where NAME is
 * KEY itself when KEY is only `[0-9a-z.]`, else `=` + base64(KEY) (`makeBigDataBaseName`): `manifest` holds the
 * manifest as pulled, `manifest-sha256:HEX` each manifest by digest, `sha256:ID` the image config. R and D come
 * from `podman info` (`store.graphRoot`, `store.graphDriverName`), cached per machine in the developer data dir.
 *
 * Nothing here is trusted: the manifest bytes are hashed here and must be the digest the signature covers, the
 * manifest's `config.digest` must be `sha256:ID`, and the config bytes must hash to it before its `created` is used.
 * Reads are bounded, files are opened with O_NOFOLLOW, the image directory must not be a symlink, and the store
 * must be this user's and not group/world-writable. Any surprise returns null: the caller asks podman.
 */
import { sha256Digest } from '../oci/digest.js';
import { constants } from 'node:fs';
import { lstat, open, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface StorageLocation {
  readonly graphRoot: string;
  readonly driver: string;
}

/** What the preflight needs of a local image: the signed digest it holds, and its creation time. */
export interface StoredImage {
  readonly digest: string;
  readonly repoDigests: readonly string[];
  readonly created: string;
}

/** Largest images.json read (≈1.8 KB per image: thousands of images). */
export const MAX_IMAGES_JSON = 32 * 1024 * 1024;
/** Largest manifest or config read (the registry adapter's manifest limit). */
export const MAX_BIG_DATA = 4 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** containers/storage `makeBigDataBaseName`. */
export function bigDataFileName(key: string): string {
  return /^[0-9a-z.]+$/.test(key) ? key : `=${Buffer.from(key, 'utf8').toString('base64')}`;
}

/** A regular file of this user, not group/world-writable, at most `max` bytes, not through a final symlink. */
async function readOwnFile(path: string, max: number): Promise<Buffer | null> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    const uid = process.geteuid?.() ?? 0;
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o022) !== 0 || st.size > max) return null;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return bytesRead === st.size ? buf : null;
  } finally {
    await fh.close();
  }
}

async function isOwnDir(path: string): Promise<boolean> {
  try {
    const st = await lstat(path);
    const uid = process.geteuid?.() ?? 0;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * The image stored under the name `ref`, when one of its manifests hashes to `wanted`; null for anything else
 * (not there, another digest, several images with that name, an unknown layout): the caller asks podman.
 */
export async function readStoredImage(
  loc: StorageLocation,
  ref: string,
  wanted: string,
): Promise<StoredImage | null> {
  if (
    !loc.graphRoot.startsWith('/') ||
    !/^[a-z0-9]+$/.test(loc.driver) ||
    !/^sha256:[0-9a-f]{64}$/.test(wanted)
  )
    return null;
  // The graph root may itself be a symlink (podman resolves it too); below it, nothing is followed.
  const dir = join(loc.graphRoot, `${loc.driver}-images`);
  if (!(await isOwnDir(dir))) return null;
  const index = await readOwnFile(join(dir, 'images.json'), MAX_IMAGES_JSON);
  if (!index) return null;
  let images: unknown;
  try {
    images = JSON.parse(index.toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(images)) return null;
  const named = images.filter(
    (i): i is Record<string, unknown> => isObj(i) && Array.isArray(i.names) && i.names.includes(ref),
  );
  const img = named.length === 1 ? named[0] : undefined;
  if (!img || typeof img.id !== 'string' || !HEX64.test(img.id) || !Array.isArray(img['big-data-names']))
    return null;
  const keys = img['big-data-names'] as unknown[];
  const imageDir = join(dir, img.id);
  if (!(await isOwnDir(imageDir))) return null;
  // The manifest by its digest first (an image pulled from several places keeps each), then the one as pulled.
  let manifest: Buffer | null = null;
  for (const key of [`manifest-${wanted}`, 'manifest']) {
    if (!keys.includes(key)) continue;
    const bytes = await readOwnFile(join(imageDir, bigDataFileName(key)), MAX_BIG_DATA);
    if (bytes && sha256Digest(bytes) === wanted) {
      manifest = bytes;
      break;
    }
  }
  if (!manifest) return null;
  let configDigest: unknown;
  try {
    const m: unknown = JSON.parse(manifest.toString('utf8'));
    configDigest = isObj(m) && isObj(m.config) ? m.config.digest : undefined;
  } catch {
    return null;
  }
  if (configDigest !== `sha256:${img.id}` || !keys.includes(configDigest)) return null;
  const config = await readOwnFile(join(imageDir, bigDataFileName(configDigest)), MAX_BIG_DATA);
  if (!config || sha256Digest(config) !== configDigest) return null;
  let created: unknown;
  try {
    const c: unknown = JSON.parse(config.toString('utf8'));
    created = isObj(c) ? c.created : undefined;
  } catch {
    return null;
  }
  if (typeof created !== 'string' || !Number.isFinite(Date.parse(created))) return null;
  return { digest: wanted, repoDigests: [], created };
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * What decides where podman keeps its images besides its command line: the storage.conf files podman reads
 * (containers-storage.conf(5)) and `CONTAINERS_STORAGE_CONF`. A cached location is used only while these are
 * unchanged (size, mtime, inode of each, or absent).
 */
export async function storageConfigFingerprint(env: Env): Promise<string> {
  const home = env.HOME ?? '/';
  const xdg = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  const files = [
    env.CONTAINERS_STORAGE_CONF ?? '',
    join(xdg, 'containers', 'storage.conf'),
    '/etc/containers/storage.conf',
    '/usr/share/containers/storage.conf',
  ];
  const parts = await Promise.all(
    files.map(async (f) => {
      if (!f) return '-';
      try {
        const st = await stat(f);
        return `${f}:${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        return `${f}:absent`;
      }
    }),
  );
  return parts.join('\n');
}

export interface StorageFirstOptions {
  /** `podman image inspect` (the fallback, and the answer for everything unusual) */
  readonly inspect: (ref: string) => Promise<StoredImage>;
  /** `podman info`'s graph root and driver (run once per machine, beside the fallback inspect) */
  readonly location: () => Promise<StorageLocation>;
  /** the cache file (developer data dir) */
  readonly cachePath: string;
  /** what the location depends on: podman binary and global args, user, storage.conf fingerprint */
  readonly key: () => Promise<string>;
  readonly write: (path: string, text: string) => Promise<void>;
  readonly debug?: (line: string) => void;
}

/**
 * The local image as the preflight needs it: from containers-storage's files when the location is known and the
 * stored manifest is the signed one, else `podman image inspect` (learning the location beside it the first time).
 */
export function storageFirstInspect(
  o: StorageFirstOptions,
): (ref: string, wanted: string) => Promise<StoredImage> {
  return async (ref, wanted) => {
    const key = await o.key();
    const cached = await readOwnFile(o.cachePath, 64 * 1024);
    let loc: StorageLocation | undefined;
    if (cached) {
      try {
        const c: unknown = JSON.parse(cached.toString('utf8'));
        if (isObj(c) && c.key === key && typeof c.graphRoot === 'string' && typeof c.driver === 'string')
          loc = { graphRoot: c.graphRoot, driver: c.driver };
      } catch {
        loc = undefined;
      }
    }
    if (loc) {
      const found = await readStoredImage(loc, ref, wanted).catch(() => null);
      if (found) {
        o.debug?.(`local image ${ref} read from containers-storage (${loc.graphRoot}, ${loc.driver})`);
        return found;
      }
      o.debug?.(`local image ${ref}: containers-storage gave no usable answer; asking podman`);
      return o.inspect(ref);
    }
    const learn = o
      .location()
      .then((l) => o.write(o.cachePath, `${JSON.stringify({ key, ...l })}\n`))
      .catch(() => undefined); // the cache is an optimisation: never a reason to fail
    const [info] = await Promise.all([o.inspect(ref), learn]);
    return info;
  };
}
