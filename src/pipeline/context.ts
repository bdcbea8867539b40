/**
 * The build context as a resume input (issue 7 §4): a digest over every entry under the context directory —
 * relative path, type, mode and content (symlinks by their target, never followed) — in a deterministic order
 * (paths sorted by code unit), bounded in entries and bytes. Changing, adding, removing, renaming or chmod-ing any
 * file changes the digest, so a re-run on the same date rebuilds instead of resuming.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';

/** Entries (files, directories, links) a context may hold. */
export const MAX_CONTEXT_ENTRIES = 20_000;
/** Total file bytes a context may hold (a Containerfile context is normally a few KiB). */
export const MAX_CONTEXT_BYTES = 512 * 1024 * 1024;

export interface ContextDigest {
  readonly digest: string;
  readonly entries: number;
  readonly bytes: number;
}

function tooLarge(dir: string, what: string): AiboxError {
  return new AiboxError({
    code: 'CONFIG_INVALID',
    message: `build context ${dir} is too large to fingerprint: ${what}`,
    hint: 'keep the Containerfile in its own directory with only the files it COPYs (the whole directory is the build context)',
  });
}

async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Fingerprint every entry under `dir`. */
export async function hashBuildContext(
  dir: string,
  limits: { readonly maxEntries?: number; readonly maxBytes?: number } = {},
): Promise<ContextDigest> {
  const maxEntries = limits.maxEntries ?? MAX_CONTEXT_ENTRIES;
  const maxBytes = limits.maxBytes ?? MAX_CONTEXT_BYTES;
  const lines: string[] = [];
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (lines.length >= maxEntries) throw tooLarge(dir, `more than ${maxEntries} entries`);
      const p = join(dir, r);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) {
        lines.push(`L ${JSON.stringify(r)} ${JSON.stringify(await readlink(p))}`);
      } else if (st.isDirectory()) {
        lines.push(`D ${JSON.stringify(r)} ${mode}`);
        await walk(r);
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > maxBytes) throw tooLarge(dir, `more than ${maxBytes} bytes of files`);
        lines.push(`F ${JSON.stringify(r)} ${mode} ${st.size} ${await fileDigest(p)}`);
      } else {
        lines.push(`O ${JSON.stringify(r)} ${mode}`);
      }
    }
  };
  await walk('');
  const digest = `sha256:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
  return { digest, entries: lines.length, bytes };
}
