/**
 * Real debootstrap + real podman: builds the local Debian base image under a throwaway name, checks it runs
 * apt, checks a second call reuses it, then removes it. Takes 30-90 s (debootstrap downloads ~40 MB).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createExec } from '../../src/adapters/exec.js';
import { ensureLocalBase, podmanGlobalArgs, type LocalBaseEngine } from '../../src/base/local-base.js';

/** Engine quirks come from the local profile when it exists (never hard-coded in product code). */
type TestEngine = LocalBaseEngine & { readonly ulimits: readonly string[] };
async function localEngine(): Promise<TestEngine> {
  try {
    const doc = parse(await readFile(join(process.cwd(), 'profiles/local/aibox.yaml'), 'utf8')) as {
      engine?: Partial<TestEngine>;
    };
    if (doc.engine) return { podman: 'podman', ulimits: [], ...doc.engine };
  } catch {
    /* profile not written yet: fall back to this machine's known quirks */
  }
  return {
    podman: 'podman',
    runtime: 'runc',
    cgroupManager: 'cgroupfs',
    ulimits: ['nofile=1024:1024', 'nproc=1024:1024'],
  };
}

const runId = `${process.pid}-${Date.now().toString(36)}`;
const name = `localhost/aibox-test-base-${runId}:bookworm`;
const exec = createExec();
let cacheDir: string | undefined;
let engine: TestEngine | undefined;

afterAll(async () => {
  if (engine)
    await exec(engine.podman, [...podmanGlobalArgs(engine), 'rmi', '--force', name], { allowFailure: true });
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('ensureLocalBase (debootstrap + podman import)', () => {
  it('builds a Debian 12 image with apt, then reuses it', { timeout: 600_000 }, async () => {
    engine = await localEngine();
    cacheDir = await mkdtemp(join(tmpdir(), 'aibox-base-test-'));

    const first = await ensureLocalBase({ engine, exec, name, cacheDir });
    expect(first.created).toBe(true);
    expect(first.reference).toBe(name);
    expect(first.imageId).toMatch(/^[0-9a-f]{64}$/);

    const run = await exec(engine.podman, [
      ...podmanGlobalArgs(engine),
      'run',
      '--rm',
      ...engine.ulimits.flatMap((u) => ['--ulimit', u]),
      name,
      'sh',
      '-c',
      '. /etc/os-release && echo "$VERSION_ID" && command -v apt-get && test -d /var/lib/apt/lists/partial && grep -q "^Suites: bookworm" /etc/apt/sources.list.d/debian.sources && echo ok',
    ]);
    expect(run.stdout).toMatch(/^12\n/);
    expect(run.stdout).toMatch(/apt-get\nok\n$/);

    const labels = await exec(engine.podman, [
      ...podmanGlobalArgs(engine),
      'image',
      'inspect',
      '--format',
      '{{index .Labels "dev.aibox.managed"}}',
      name,
    ]);
    expect(labels.stdout.trim()).toBe('true');

    const second = await ensureLocalBase({ engine, exec, name, cacheDir });
    expect(second).toEqual({ reference: name, imageId: first.imageId, created: false });
    // the temporary root filesystem was cleaned up
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
