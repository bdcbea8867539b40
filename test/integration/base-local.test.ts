/**
 * Real debootstrap + real podman: builds the local Debian base image under a throwaway name, checks it runs
 * apt, checks a second call reuses it, then removes it. Takes 30-90 s (debootstrap downloads ~40 MB).
 * Podman is reached only through the adapter (engine quirks from profiles/local/aibox.yaml).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { ensureLocalBase } from '../../src/base/local-base.js';
import { testPodman } from '../helpers/engine.js';

const runId = `${process.pid}-${Date.now().toString(36)}`;
const name = `localhost/aibox-test-base-${runId}:bookworm`;
const exec = createExec();
const podman = testPodman();
let cacheDir: string | undefined;

afterAll(async () => {
  await podman.rmi([name], { force: true }).catch(() => undefined);
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('ensureLocalBase (debootstrap + podman import)', () => {
  it('builds a Debian 12 image with apt, then reuses it', { timeout: 600_000 }, async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'aibox-base-test-'));

    const first = await ensureLocalBase({ engine: podman, exec, name, cacheDir });
    expect(first.created).toBe(true);
    expect(first.reference).toBe(name);
    expect(first.imageId).toMatch(/^[0-9a-f]{64}$/);

    const run = await podman.run({
      image: name,
      rm: true,
      args: [
        'sh',
        '-c',
        '. /etc/os-release && echo "$VERSION_ID" && command -v apt-get && test -d /var/lib/apt/lists/partial && grep -q "^Suites: bookworm" /etc/apt/sources.list.d/debian.sources && echo ok',
      ],
    });
    expect(run.stdout).toMatch(/^12\n/);
    expect(run.stdout).toMatch(/apt-get\nok\n$/);

    const info = await podman.inspectImage(name);
    expect(info.labels['dev.aibox.managed']).toBe('true');
    expect(info.labels['dev.aibox.local-base']).toMatch(/-minbase$/);

    const second = await ensureLocalBase({ engine: podman, exec, name, cacheDir });
    expect(second).toEqual({ reference: name, imageId: first.imageId, created: false });
    // the temporary root filesystem was cleaned up
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
