/**
 * Writing a key pair to disk (edge: fs) so that nothing can redirect or weaken it: each file is
 * written to a fresh temporary file in the target directory (created 0600/0644 with O_EXCL, so it
 * is never an existing file or a symlink), fsynced, then moved into place with one rename (or, without
 * --force, with link(), which never replaces anything). Targets that are symlinks (lstat) or not
 * regular files are refused; `rename` replaces a name, it never follows one. On any failure the
 * temporary files are removed: nothing partial is left behind.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { generateKeyPair } from './keys.js';

export interface WrittenKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly publicKeyPem: string;
}

export interface WriteKeyPairInput {
  /** Directory for cosign.key and cosign.pub (created when missing). */
  readonly dir: string;
  /** Replace existing regular files (never symlinks). */
  readonly force: boolean;
  /** Asked only after the targets are known to be writable, so a refusal never prompts. */
  readonly password: () => Promise<string>;
}

/** What is at a path: nothing, a regular file, or something we refuse to write through. */
async function targetKind(path: string): Promise<'none' | 'file' | 'symlink' | 'other'> {
  try {
    const st = await lstat(path);
    return st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw e;
  }
}

async function checkTarget(path: string, force: boolean): Promise<void> {
  const kind = await targetKind(path);
  if (kind === 'symlink' || kind === 'other') {
    throw new AiboxError({
      code: 'UNSAFE_PATH',
      message: `refusing to write ${path}: it is ${kind === 'symlink' ? 'a symbolic link' : 'not a regular file'}`,
      hint: 'Remove it (a planted link would send the private key elsewhere), or pass --output-dir to write elsewhere',
      details: { path, kind },
    });
  }
  if (kind === 'file' && !force) {
    throw new AiboxError({
      code: 'USAGE',
      message: `${path} already exists; refusing to overwrite it`,
      hint: 'Pass --force to replace it, or --output-dir to write elsewhere',
    });
  }
}

/** Create `<dir>/.<name>.<random>.tmp` exclusively with `mode`, write, fsync; returns its path. */
async function writeTemp(target: string, text: string, mode: number): Promise<string> {
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode); // exact mode whatever the umask; on the descriptor, never via a path
    await fh.writeFile(text);
    await fh.sync();
  } catch (e: unknown) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  return tmp;
}

/** Move a finished temp file into place: rename with --force, else link (fails if the name exists). */
async function commit(tmp: string, target: string, force: boolean): Promise<void> {
  if (force) return rename(tmp, target);
  try {
    await link(tmp, target);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') await checkTarget(target, false);
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}

function ioError(e: unknown, dir: string): AiboxError {
  if (e instanceof AiboxError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
  return new AiboxError({
    code: 'IO_FAILED',
    message: `cannot write the key pair in ${dir}: ${code}`,
    hint: 'Check that the directory exists or can be created, and that you may write to it',
    cause: e,
  });
}

/** `keys generate` / `keys rotate`: a new encrypted cosign.key (0600) and cosign.pub (0644) in `dir`. */
export async function writeKeyPair(input: WriteKeyPairInput): Promise<WrittenKeyPair> {
  const keyPath = join(input.dir, 'cosign.key');
  const pubPath = join(input.dir, 'cosign.pub');
  const temps: string[] = [];
  try {
    for (const p of [keyPath, pubPath]) await checkTarget(p, input.force);
    const pair = await generateKeyPair(await input.password());
    await mkdir(input.dir, { recursive: true });
    const keyTemp = await writeTemp(keyPath, pair.privateKeyPem, 0o600);
    temps.push(keyTemp);
    const pubTemp = await writeTemp(pubPath, pair.publicKeyPem, 0o644);
    temps.push(pubTemp);
    // Re-check just before the move: a symlink planted meanwhile is refused, not replaced silently.
    for (const p of [keyPath, pubPath]) await checkTarget(p, input.force);
    await commit(keyTemp, keyPath, input.force);
    try {
      await commit(pubTemp, pubPath, input.force);
    } catch (e: unknown) {
      if (!input.force) await unlink(keyPath).catch(() => undefined); // no private key without its pub
      throw e;
    }
    temps.length = 0;
    await syncDir(input.dir);
    return {
      privateKey: keyPath,
      publicKey: pubPath,
      fingerprint: pair.fingerprint,
      publicKeyPem: pair.publicKeyPem,
    };
  } catch (e: unknown) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
    throw ioError(e, input.dir);
  }
}
