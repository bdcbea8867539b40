/**
 * Test helper for the CVE tests: the local profile's base image with the loopback canary package in it.
 * The Containerfile is the shipped profiles/local/images/base/Containerfile with one step added before the
 * user is created: the loopback apt source (kept in the image, so a later `apt-get update` in an emergency
 * rebuild sees new versions) and `apt-get install aibox-canary` (the version the repository serves now).
 * Builds reach the repository with `engine.buildNetwork: host` (set by the test config).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LOCAL_PROFILE } from './engine.js';
import type { AptRepo } from './apt-repo.js';

const BASE_CONTAINERFILE = join(dirname(LOCAL_PROFILE), 'images', 'base', 'Containerfile');
const ANCHOR = 'RUN groupadd';

/** Write `<dir>/Containerfile` (the local base + the canary); returns its path. */
export async function canaryBaseContainerfile(dir: string, repo: AptRepo): Promise<string> {
  const text = await readFile(BASE_CONTAINERFILE, 'utf8');
  const at = text.indexOf(ANCHOR);
  if (at < 0) throw new Error(`${BASE_CONTAINERFILE} has no "${ANCHOR}" step to insert the canary before`);
  const step = [
    '# TEST ONLY (test/helpers/canary.ts): the loopback apt repository and its canary package.',
    `RUN printf '%s\\n' '${repo.sourceLine}' > /etc/apt/sources.list.d/aibox-canary.list \\`,
    ' && apt-get update \\',
    ` && apt-get install -y --no-install-recommends ${repo.packageName} \\`,
    ' && apt-get clean \\',
    ' && rm -rf /var/lib/apt/lists/*',
    '',
    '',
  ].join('\n');
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'Containerfile');
  await writeFile(path, text.slice(0, at) + step + text.slice(at));
  return path;
}
