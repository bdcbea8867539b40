/**
 * The local base goes through the engine port (issue 8 §2): podman is reached only via the adapter,
 * never by raw exec with a copy of its global flags. A fake engine proves the workflow uses the
 * port on both paths (reuse, build); real podman proves `Podman.importImage` from a tar stream.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExec, type Exec } from '../../src/adapters/exec.js';
import { ensureLocalBase, type LocalBaseEngine } from '../../src/base/local-base.js';
import type { ImportOptions } from '../../src/engine/engine.js';
import { testPodman, testRunId } from '../helpers/engine.js';

const realExec = createExec();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An engine that records what the workflow asks of it. */
function fakeEngine(exists: boolean) {
  const imports: { reference: string; changes: readonly string[]; bytes: number }[] = [];
  const engine: LocalBaseEngine = {
    imageExists: async () => exists,
    inspectImage: async (ref) => ({
      id: 'a'.repeat(64),
      digest: '',
      created: '',
      labels: {},
      architecture: 'amd64',
      os: 'linux',
      size: 0,
      repoTags: [ref],
      repoDigests: [],
    }),
    importImage: async (opts: ImportOptions) => {
      let bytes = 0;
      for await (const c of opts.input as AsyncIterable<Buffer>) bytes += c.byteLength;
      imports.push({ reference: opts.reference, changes: opts.changes ?? [], bytes });
      return { imageId: 'b'.repeat(64) };
    },
  };
  return { engine, imports };
}

/** Exec for debootstrap (faked: writes a tiny rootfs) and tar (real); podman must never come here. */
function toolsExec(calls: string[]): Exec {
  return async (file, args, opts) => {
    calls.push(file);
    if (file === 'fake-debootstrap') {
      if (args[0] !== '--version') await mkdir(join(args[2]!, 'etc/apt/sources.list.d'), { recursive: true });
      return { code: 0, stdout: '', stderr: '', durationMs: 0 };
    }
    if (file === 'tar') return realExec(file, args, opts);
    throw new Error(`unexpected exec of ${file} ${args.join(' ')}`);
  };
}

describe('ensureLocalBase through the engine port', () => {
  it('reuses an image the engine already has, spawning nothing', async () => {
    const { engine, imports } = fakeEngine(true);
    const calls: string[] = [];
    const r = await ensureLocalBase({
      engine,
      exec: toolsExec(calls),
      name: 'localhost/x:host',
      suite: 'bookworm',
    });
    expect(r).toEqual({ reference: 'localhost/x:host', imageId: 'a'.repeat(64), created: false });
    expect(calls).toEqual([]);
    expect(imports).toEqual([]);
  });

  it('imports the debootstrapped root filesystem through engine.importImage', async () => {
    const { engine, imports } = fakeEngine(false);
    const calls: string[] = [];
    const cacheDir = await mkdtemp(join(tmpdir(), 'aibox-local-base-fake-'));
    dirs.push(cacheDir);
    const r = await ensureLocalBase({
      engine,
      exec: toolsExec(calls),
      name: 'localhost/x:host',
      suite: 'bookworm',
      mirror: 'http://archive.invalid/debian',
      debootstrap: 'fake-debootstrap',
      cacheDir,
    });
    expect(r).toEqual({ reference: 'localhost/x:host', imageId: 'b'.repeat(64), created: true });
    expect(calls).toEqual(['fake-debootstrap', 'fake-debootstrap', 'tar']);
    expect(imports).toHaveLength(1);
    expect(imports[0]).toMatchObject({
      reference: 'localhost/x:host',
      changes: ['CMD ["/bin/bash"]', 'LABEL dev.aibox.local-base=bookworm-minbase'],
    });
    expect(imports[0]!.bytes).toBeGreaterThan(0);
  });
});

describe('Podman.importImage (real podman)', () => {
  const podman = testPodman();
  const name = `localhost/aibox-import-test-${testRunId()}:t`;
  afterAll(async () => {
    await podman.rmi([name], { force: true }).catch(() => undefined);
  });

  it('creates an image from a tar stream with the changes and the managed label', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-import-'));
    dirs.push(dir);
    await mkdir(join(dir, 'root/etc'), { recursive: true });
    await writeFile(join(dir, 'root/etc/hello'), 'hi\n');
    await realExec('tar', ['--numeric-owner', '-C', join(dir, 'root'), '-cf', join(dir, 'root.tar'), '.']);
    const { imageId } = await podman.importImage({
      input: createReadStream(join(dir, 'root.tar')),
      reference: name,
      changes: ['LABEL dev.aibox.test=import'],
    });
    expect(imageId).toMatch(/^[0-9a-f]{64}$/);
    const info = await podman.inspectImage(name);
    expect(info.id).toBe(imageId);
    expect(info.labels).toMatchObject({ 'dev.aibox.test': 'import', 'dev.aibox.managed': 'true' });
  });
});
