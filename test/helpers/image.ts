/**
 * Test helper: tiny real images (FROM scratch + static busybox, optional extra files and labels),
 * built with the real Podman adapter. Each distinct image is built once per process.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Podman } from '../../src/engine/podman.js';

export interface TestImageOptions {
  readonly labels?: Readonly<Record<string, string>>;
  /** extra files: path inside the image (relative to /) → content */
  readonly files?: Readonly<Record<string, string>>;
  readonly runId?: string;
}

const BUSYBOX = process.env.AIBOX_TEST_BUSYBOX ?? '/bin/busybox';
const cache = new Map<string, Promise<string>>();

/** Build (once per process) a busybox image tagged `tag`; resolves to its image id. */
export function buildTestImage(podman: Podman, tag: string, opts: TestImageOptions = {}): Promise<string> {
  const key = JSON.stringify([tag, opts.labels ?? {}, opts.files ?? {}, opts.runId ?? '']);
  let p = cache.get(key);
  if (!p) {
    p = buildRetryingLayerRace(podman, tag, opts);
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

/**
 * podman 4.3 races when an image is removed while a sibling builds from shared layers (another test file
 * cleaning up): the build fails with "layer not known" from its cache lookup. A host quirk of the test
 * machine, not of the image: try again, at most twice.
 */
async function buildRetryingLayerRace(podman: Podman, tag: string, opts: TestImageOptions): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await build(podman, tag, opts);
    } catch (e: unknown) {
      if (attempt >= 3 || !(e instanceof Error) || !e.message.includes('layer not known')) throw e;
    }
  }
}

async function build(podman: Podman, tag: string, opts: TestImageOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-test-image-'));
  try {
    await mkdir(join(dir, 'bin'));
    await copyFile(BUSYBOX, join(dir, 'bin', 'busybox'));
    const lines = ['FROM scratch', 'COPY bin /bin', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]'];
    const files = Object.entries(opts.files ?? {});
    if (files.length > 0) {
      for (const [path, content] of files) {
        const target = join(dir, 'files', path.replace(/^\/+/, ''));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, content);
      }
      lines.push('COPY files /');
    }
    await writeFile(join(dir, 'Containerfile'), `${lines.join('\n')}\n`);
    const { imageId } = await podman.build({
      contextDir: dir,
      tags: [tag],
      labels: { 'dev.aibox.test': 'true', ...opts.labels },
      runId: opts.runId,
      pull: 'never',
    });
    return imageId;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
