/**
 * The sandbox half of the Podman adapter on real podman: a named, labelled sandbox with the
 * workspace at /workspace that returns its command's exit code; attaching (exec) to a running one;
 * listing by label; stopping; podman missing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { LABELS } from '../../src/core/labels.js';
import { Podman } from '../../src/engine/podman.js';
import { testEngineSettings, testPodman, testRunId } from '../helpers/engine.js';
import { buildTestImage } from '../helpers/image.js';
import { waitFor } from '../helpers/pipeline.js';

describe('Podman sandboxes (real podman)', () => {
  const podman = testPodman();
  const runId = testRunId('sbx');
  const tag = `localhost/aibox-test/${runId}:1`;
  const names = [`${runId}-a`, `${runId}-b`];
  let ws: string;

  beforeAll(async () => {
    ws = await mkdtemp(join(tmpdir(), 'aibox-sbx-ws-'));
    await writeFile(join(ws, 'in'), 'from the host\n');
    await buildTestImage(podman, tag, { runId });
  });
  afterAll(async () => {
    for (const n of names) await podman.rm(n, { force: true, time: 0 }).catch(() => undefined);
    await podman.rmi([tag], { force: true }).catch(() => undefined);
    await rm(ws, { recursive: true, force: true });
  });

  const base = (name: string, args: string[]) => ({
    image: tag,
    name,
    labels: { [LABELS.sandbox]: name, [LABELS.runId]: runId },
    volumes: [`${ws}:/workspace`],
    workdir: '/workspace',
    args,
    tty: false,
    interactive: false,
    rm: true,
  });

  it('runs the command with the workspace at /workspace and returns its exit code; --rm leaves nothing', async () => {
    const r = await podman.runAttached(base(names[0]!, ['sh', '-c', 'cat in > out; pwd >> out; exit 3']));
    expect(r.exitCode).toBe(3);
    expect(await readFile(join(ws, 'out'), 'utf8')).toBe('from the host\n/workspace\n');
    expect(await podman.listContainers({ [LABELS.sandbox]: names[0]! })).toEqual([]);
  });

  it('lists a running sandbox by label, attaches to it with exec (exit code back), and stops it', async () => {
    const name = names[1]!;
    const running = podman.runAttached(base(name, ['sleep', '120']));
    const [c] = await waitFor('the sandbox to run', async () => {
      const l = await podman.listContainers({ [LABELS.sandbox]: name });
      return l.some((x) => x.running) ? l : undefined;
    });
    expect(c).toMatchObject({ name, running: true, state: 'running', image: tag });
    expect(c!.labels).toMatchObject({ [LABELS.sandbox]: name, [LABELS.managed]: 'true' });
    expect((await podman.listContainers({ [LABELS.runId]: runId })).map((x) => x.name)).toEqual([name]);

    const e = await podman.execAttached(name, {
      args: ['sh', '-c', 'echo attached > att; exit 5'],
      tty: false,
      interactive: false,
      workdir: '/workspace',
    });
    expect(e.exitCode).toBe(5);
    expect(await readFile(join(ws, 'att'), 'utf8')).toBe('attached\n');

    await podman.rm(name, { force: true, time: 0 });
    expect((await running).exitCode).not.toBe(0);
    expect(await podman.listContainers({ [LABELS.sandbox]: name })).toEqual([]);
  });

  it('podman missing: a clear TOOL_MISSING error with a hint, not a stack trace', async () => {
    const missing = new Podman({ ...testEngineSettings(), podman: '/nonexistent/podman' }, createExec());
    await expect(missing.runAttached(base(`${runId}-x`, ['true']))).rejects.toMatchObject({
      code: 'TOOL_MISSING',
      message: 'podman not found (/nonexistent/podman)',
      hint: expect.stringContaining('Install podman'),
    });
    await expect(missing.listContainers({ [LABELS.sandbox]: true })).rejects.toMatchObject({
      code: 'TOOL_MISSING',
    });
  });

  it('reports rootless from the effective uid (root here: rootful)', () => {
    const id = podman.identity();
    expect(id.rootless).toBe(process.geteuid!() !== 0);
    expect(id.uid).toBe(process.geteuid!());
  });
});
