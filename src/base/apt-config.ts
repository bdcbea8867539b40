/**
 * Edge reader for the host's apt configuration: reads sources.list and sources.list.d/*.{list,sources}
 * and hands the text to the pure parser. Kept apart so the parser stays free of filesystem access.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { archiveUris, parseAptSources, releaseSources, type AptSource } from './apt-sources.js';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e: unknown) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Every apt source the host defines, in apt's reading order (sources.list first, then sources.list.d sorted). */
export async function readAptSources(aptDir = '/etc/apt'): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = join(aptDir, 'sources.list');
  const mainText = await readIfExists(main);
  if (mainText !== undefined) out.push(...parseAptSources(mainText, { format: 'one-line', source: main }));
  let names: string[] = [];
  try {
    names = (await readdir(join(aptDir, 'sources.list.d'))).sort();
  } catch (e: unknown) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  for (const name of names) {
    const format = name.endsWith('.sources') ? 'deb822' : name.endsWith('.list') ? 'one-line' : undefined;
    if (format === undefined) continue; // apt ignores other names (e.g. *.disabled, *.save)
    const path = join(aptDir, 'sources.list.d', name);
    const text = await readIfExists(path);
    if (text !== undefined) out.push(...parseAptSources(text, { format, source: path }));
  }
  return out;
}

/** The host's release codename from os-release (`bookworm` on Debian 12, `noble` on Ubuntu 24.04). */
export async function hostCodename(osRelease = '/etc/os-release'): Promise<string | undefined> {
  const text = await readIfExists(osRelease);
  const m = text ? /^VERSION_CODENAME=["']?([a-z0-9-]+)["']?$/m.exec(text) : null;
  return m?.[1];
}

/** The host's archive for `suite` (first URI for debootstrap) and all its release sources (for the image's apt). */
export async function hostArchive(
  suite: string,
  aptDir = '/etc/apt',
): Promise<{ readonly uri: string; readonly sources: AptSource[] }> {
  const all = await readAptSources(aptDir);
  const uris = archiveUris(all, suite);
  const first = uris[0];
  if (first === undefined) {
    throw new AiboxError({
      code: 'NOT_FOUND',
      message: `no enabled "deb" source for suite "${suite}" in ${aptDir}/sources.list or ${aptDir}/sources.list.d`,
      hint: `add a Debian ${suite} archive to apt's sources (or pass the mirror URI explicitly) so debootstrap can fetch packages`,
    });
  }
  return { uri: first, sources: releaseSources(all, suite) };
}
