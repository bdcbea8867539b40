import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashBuildContext } from '../context.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-ctx-'));
  await writeFile(join(dir, 'Containerfile'), 'FROM x\n');
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc', 'motd'), 'hi\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('hashBuildContext', () => {
  it('is deterministic and changes with content, names, modes, new files and links', async () => {
    const d0 = await hashBuildContext(dir);
    expect(await hashBuildContext(dir)).toEqual(d0);
    expect(d0).toMatchObject({ entries: 3, bytes: 10 });
    const seen = new Set([d0.digest]);
    const steps = [
      () => writeFile(join(dir, 'etc', 'motd'), 'ho\n'),
      () => chmod(join(dir, 'etc', 'motd'), 0o600),
      () => writeFile(join(dir, 'etc', 'new'), ''),
      () => symlink('motd', join(dir, 'etc', 'link')),
      () => mkdir(join(dir, 'empty')),
    ];
    for (const step of steps) {
      await step();
      const d = (await hashBuildContext(dir)).digest;
      expect(seen.has(d)).toBe(false);
      seen.add(d);
    }
  });

  it('refuses a context over its bounds, naming the directory', async () => {
    await expect(hashBuildContext(dir, { maxEntries: 2 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(`build context ${dir} is too large`),
    });
    await expect(hashBuildContext(dir, { maxBytes: 5 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
