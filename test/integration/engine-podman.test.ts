import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { isAiboxError } from '../../src/core/errors.js';
import { MANAGED_LABEL, Podman, RUN_ID_LABEL } from '../../src/engine/podman.js';
import { testEngineSettings, testPodman, testRunId } from '../helpers/engine.js';
import { buildTestImage } from '../helpers/image.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

describe('Podman adapter (real podman)', () => {
  const podman = testPodman();
  const runId = testRunId('engine');
  const tag = `localhost/aibox-test/${runId}:1`;
  const containers: string[] = [];
  const images: string[] = [tag];
  let registry: TestRegistry;
  let imageId: string;

  beforeAll(async () => {
    registry = await startRegistry();
    imageId = await buildTestImage(podman, tag, {
      labels: { 'org.example.purpose': 'engine-test' },
      files: { 'etc/aibox-test': 'hello from the image\n' },
      runId,
    });
  });

  afterAll(async () => {
    for (const c of containers) await podman.rm(c, { force: true, time: 0 }).catch(() => undefined);
    await podman.rmi(images, { force: true }).catch(() => undefined);
    await maybeUnset(registry)?.stop();
  });

  it('builds an image carrying the managed and run-id labels', async () => {
    expect(imageId).toMatch(/^[0-9a-f]{64}$/);
    const info = await podman.inspectImage(tag);
    expect(info.id).toBe(imageId);
    expect(info.labels).toMatchObject({
      [MANAGED_LABEL]: 'true',
      [RUN_ID_LABEL]: runId,
      'org.example.purpose': 'engine-test',
      'dev.aibox.test': 'true',
    });
    expect(info.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(info.os).toBe('linux');
    expect(info.architecture).not.toBe('');
    expect(info.size).toBeGreaterThan(500_000);
    expect(Date.parse(info.created)).not.toBeNaN();
    expect(info.repoTags).toContain(tag);
    expect(await podman.imageExists(tag)).toBe(true);
  });

  it('streams build progress line by line', async () => {
    const lines: string[] = [];
    const t = `localhost/aibox-test/${runId}:progress`;
    images.push(t);
    const ctx = await mkdtemp(join(tmpdir(), 'aibox-progress-'));
    await writeFile(join(ctx, 'Containerfile'), `FROM ${tag}\nRUN echo progress-marker\n`);
    try {
      await podman.build({
        contextDir: ctx,
        tags: [t],
        pull: 'never',
        runId,
        onProgress: (l) => lines.push(l),
      });
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
    expect(lines, lines.join('\n')).toContainEqual(
      expect.stringMatching(/^STEP 2\/\d+: RUN echo progress-marker$/),
    );
    expect(lines).toContain('progress-marker');
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('pushes and returns the digest the registry serves for the tag', async () => {
    const dest = `${registry.host}/aibox/engine:${runId}`;
    const { digest } = await podman.push(tag, dest);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const res = await fetch(`${registry.url}/v2/aibox/engine/manifests/${runId}`, {
      method: 'HEAD',
      headers: { Accept: MANIFEST_ACCEPT },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);

    // v2s2 is a different manifest, hence a different digest: the adapter must report the pushed one.
    const v2 = await podman.push(tag, `${registry.host}/aibox/engine:${runId}-v2s2`, { format: 'v2s2' });
    const res2 = await fetch(`${registry.url}/v2/aibox/engine/manifests/${runId}-v2s2`, {
      method: 'HEAD',
      headers: { Accept: MANIFEST_ACCEPT },
    });
    expect(res2.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(res2.headers.get('docker-content-digest')).toBe(v2.digest);
    expect(v2.digest).not.toBe(digest);

    const byDigest = `${registry.host}/aibox/engine@${digest}`;
    const pulled = await podman.pull(byDigest);
    images.push(byDigest);
    expect(pulled.imageId).toBe(imageId);
  });

  it('one created per image: --timestamp makes the config created equal the label; annotations reach the manifest', async () => {
    // Issue 9 §4: podman's commit time and the org.opencontainers.image.created label used to differ by seconds.
    const created = '2026-02-21T09:14:03Z';
    const t = `localhost/aibox-test/${runId}:created`;
    images.push(t);
    const ctx = await mkdtemp(join(tmpdir(), 'aibox-created-'));
    const floor = { 'dev.aibox.mandatory-update': 'true', 'dev.aibox.min-image-created': created };
    try {
      await podman.build({
        contextDir: ctx,
        containerfileText: `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nLABEL org.example.step=patched\n`,
        buildArgs: { BASE_IMAGE: tag },
        created,
        tags: [t],
        labels: { 'org.opencontainers.image.created': created, ...floor },
        annotations: floor,
        pull: 'never',
        runId,
      });
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
    const info = await podman.inspectImage(t);
    expect(Date.parse(info.created)).toBe(Date.parse(created));
    expect(info.labels['org.opencontainers.image.created']).toBe(created);
    expect(info.labels['org.example.step']).toBe('patched');
    const { digest } = await podman.push(t, `${registry.host}/aibox/created:${runId}`, { format: 'oci' });
    const m = (await (
      await fetch(`${registry.url}/v2/aibox/created/manifests/${digest}`, {
        headers: { Accept: MANIFEST_ACCEPT },
      })
    ).json()) as { annotations?: Record<string, string>; config: { digest: string } };
    expect(m.annotations).toMatchObject(floor);
    const cfg = (await (await fetch(`${registry.url}/v2/aibox/created/blobs/${m.config.digest}`)).json()) as {
      created: string;
      config: { Labels: Record<string, string> };
    };
    expect(cfg.created).toBe(created);
    expect(cfg.config.Labels['org.opencontainers.image.created']).toBe(created);
  });

  it('runs, execs and removes containers', async () => {
    const once = await podman.run({ image: tag, rm: true, args: ['cat', '/etc/aibox-test'], runId });
    expect(once.stdout).toBe('hello from the image\n');

    const name = `aibox-test-${runId}`;
    const { containerId } = await podman.run({
      image: tag,
      name,
      detach: true,
      env: { GREETING: 'hi there' },
      runId,
      args: ['sleep', '300'],
    });
    containers.push(name);
    expect(containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(await podman.exec(name, ['sh', '-c', 'echo "$GREETING"'])).toBe('hi there\n');
    const labels = await createExec()(testEngineSettings().podman, [
      ...podman.globalArgs(),
      'container',
      'inspect',
      '--format',
      `{{index .Config.Labels "${MANAGED_LABEL}"}}`,
      name,
    ]);
    expect(labels.stdout.trim()).toBe('true');
    await podman.rm(name, { force: true, time: 0 });
    expect(
      (
        await createExec()(
          testEngineSettings().podman,
          [...podman.globalArgs(), 'container', 'exists', name],
          {
            allowFailure: true,
          },
        )
      ).code,
    ).toBe(1);
  });

  it('reports a missing image as NOT_FOUND with a hint', async () => {
    const ref = `localhost/aibox-test/${runId}:missing`;
    expect(await podman.imageExists(ref)).toBe(false);
    const err = await podman.inspectImage(ref).catch((e: unknown) => e);
    expect(isAiboxError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toBe(`image ${ref} is not in local podman storage`);
  });

  it('reports its version', async () => {
    expect((await podman.version()).version).toMatch(/^\d+\.\d+/);
  });

  it('reports a missing podman binary as TOOL_MISSING with an install hint', async () => {
    const broken = new Podman({ ...testEngineSettings(), podman: 'aibox-no-such-podman' }, createExec());
    const err = await broken.version().catch((e: unknown) => e);
    expect(isAiboxError(err, 'TOOL_MISSING')).toBe(true);
    expect(isAiboxError(err) && err.hint).toMatch(/apt-get install podman.*engine\.podman/);
  });
});
