/**
 * File adapters of the developer verbs (issue 10): the developer state (`$XDG_DATA_HOME/aibox/developer/state.json`:
 * verified channel and signature material, highest sequence and floors seen, trusted keys), the installed key
 * files, the developer config, and the user's containers policy files. Every write is atomic (temp file + rename,
 * 0600, directories 0700); every read is bounded; the state carries a SHA-256 of its body, and a file that does not
 * match, parse or have the expected shape is CACHE_INVALID naming the file, never a crash and never silently reset
 * (it holds the floors and sequence that must not go down).
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import type { DevState, DevStatePort } from '../sandbox/state.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Largest state file read (a handful of variants with their signatures is a few tens of KiB). */
export const MAX_STATE_BYTES = 4 * 1024 * 1024;

/** `$XDG_DATA_HOME/aibox/developer` (default ~/.local/share/aibox/developer). */
export function developerDataDir(env: Env): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME ?? '/', '.local', 'share');
  return join(base, 'aibox', 'developer');
}

function corrupt(path: string, why: string): AiboxError {
  return new AiboxError({
    code: 'CACHE_INVALID',
    message: `the aibox developer state ${path} is corrupted (${why})`,
    hint: `it keeps the verified channel, signatures and the highest security floor seen on this machine; move it away (mv ${path} ${path}.broken) and run 'aibox update' online to rebuild it`,
    details: { path },
  });
}

/** Write bytes atomically: a temp file in the same directory (0600), then rename over the target. */
export async function atomicWrite(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (e: unknown) {
    await rm(tmp, { force: true });
    throw new AiboxError({
      code: 'IO_FAILED',
      message: `cannot write ${path}: ${(e as Error).message}`,
      hint: 'check that the directory is writable and the disk is not full',
      cause: e,
    });
  }
}

/** Read a file of at most maxBytes; undefined when absent. */
export async function readBounded(path: string, maxBytes: number, what: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AiboxError({
      code: 'IO_FAILED',
      message: `cannot read ${what} ${path}: ${(e as Error).message}`,
      cause: e,
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw corrupt(path, 'not a regular file');
    if (st.size > maxBytes) throw corrupt(path, `${st.size} bytes, over the ${maxBytes}-byte limit`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function checkShape(s: unknown): string | null {
  if (!isObj(s)) return 'the body is not an object';
  if (s.version !== 1) return `unknown version ${JSON.stringify(s.version)}`;
  if (!isObj(s.images) || !isObj(s.floors)) return 'images/floors missing';
  for (const [k, f] of Object.entries(s.floors)) {
    if (!isObj(f) || typeof f.minImageCreated !== 'string' || !Number.isFinite(Date.parse(f.minImageCreated)))
      return `floor of ${k} is malformed`;
  }
  for (const [k, i] of Object.entries(s.images)) {
    if (!isObj(i) || typeof i.digest !== 'string' || typeof i.ref !== 'string' || !isObj(i.signatures))
      return `image of ${k} is malformed`;
  }
  if (s.seen !== undefined && (!isObj(s.seen) || typeof s.seen.sequence !== 'number'))
    return 'seen is malformed';
  if (s.channel !== undefined && (!isObj(s.channel) || typeof s.channel.digest !== 'string'))
    return 'channel is malformed';
  if (s.trusted !== undefined && !Array.isArray(s.trusted)) return 'trusted is malformed';
  return null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The developer state file under `dir` (default developerDataDir). */
export function fileDevState(dir: string): DevStatePort {
  const path = join(dir, 'state.json');
  return {
    where: path,
    read: async () => {
      const text = await readBounded(path, MAX_STATE_BYTES, 'the aibox developer state');
      if (text === undefined) return { version: 1, images: {}, floors: {} };
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw corrupt(path, 'not JSON');
      }
      if (!isObj(doc) || typeof doc.sha256 !== 'string' || typeof doc.body !== 'string')
        throw corrupt(path, 'not an aibox state file');
      if (sha256(doc.body) !== doc.sha256) throw corrupt(path, 'checksum mismatch');
      let body: unknown;
      try {
        body = JSON.parse(doc.body);
      } catch {
        throw corrupt(path, 'body is not JSON');
      }
      const bad = checkShape(body);
      if (bad) throw corrupt(path, bad);
      return body as DevState;
    },
    write: async (state) => {
      const body = JSON.stringify(state);
      if (body.length > MAX_STATE_BYTES - 1024) {
        throw new AiboxError({
          code: 'IO_FAILED',
          message: `the developer state would exceed ${MAX_STATE_BYTES} bytes`,
        });
      }
      await atomicWrite(path, `${JSON.stringify({ sha256: sha256(body), body })}\n`);
    },
  };
}

/** Where a trusted key is installed: `<dir>/keys/<name>.pub`. */
export function keyFilePath(dir: string, name: string): string {
  return join(dir, 'keys', `${name}.pub`);
}

/** Copy a public key into `<dir>/keys/<name>.pub` (0644); returns the installed path. */
export async function installKeyFile(dir: string, name: string, pem: string): Promise<string> {
  const path = keyFilePath(dir, name);
  await atomicWrite(path, pem, 0o644);
  return path;
}

/**
 * Replace a file with new content, keeping the old one as `<path>.aibox-backup-<stamp>` (copied first, so a crash
 * leaves the original or the backup plus the new file); returns the backup path, or null when there was no file.
 */
export async function replaceWithBackup(
  path: string,
  content: string,
  stamp: string,
  mode = 0o600,
): Promise<string | null> {
  let backup: string | null = null;
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) {
    backup = `${path}.aibox-backup-${stamp}`;
    await copyFile(path, backup);
  }
  await atomicWrite(path, content, mode);
  return backup;
}

/** A text file's content (bounded), or undefined when absent. */
export async function readTextIfExists(path: string, maxBytes = 1024 * 1024): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (st.size > maxBytes)
      throw new AiboxError({ code: 'IO_FAILED', message: `${path} is over ${maxBytes} bytes` });
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
