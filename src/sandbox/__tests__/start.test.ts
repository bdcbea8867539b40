import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { LABELS } from '../../core/labels.js';
import { MemoryImageStore } from '../../oci/memory-store.js';
import { FakeEngine } from '../../../test/doubles/fake-engine.js';
import { ATTACH_SHELL, decideLaunch, runOptions, sandboxName, userMapping } from '../launch.js';
import type { Preflight, PreflightImage, VariantFloor } from '../preflight.js';
import { startSandbox, stopSandbox, type StartDeps } from '../start.js';

const image: PreflightImage = {
  variant: 'base',
  displayName: 'aibox-base:24.04-20260221',
  tag: '24.04-20260221',
  digest: `sha256:${'b'.repeat(64)}`,
  created: '2026-02-21T02:00:00Z',
  ref: 'localhost/aibox/base:24.04-20260221',
};
const floor: VariantFloor = {
  minImageDate: '2026-02-20',
  minImageCreated: '2026-02-20T10:00:00Z',
  mandatoryUpdate: true,
  cve: { id: 'CVE-2026-12345', cvss: 9.8 },
  sequence: 6,
};
const ok: Preflight = {
  ok: true,
  image,
  signer: 'platform-ci@aibox.internal',
  signedAt: '2026-02-21T02:30:00Z',
  floor,
  offline: false,
  warnings: [],
  channelSequence: 7,
};
const WS = '/home/dev/src/shop';

function setup(pf: Preflight = ok): {
  engine: FakeEngine;
  deps: StartDeps;
  said: string[];
  reports: Preflight[];
} {
  const engine = new FakeEngine(new MemoryImageStore());
  const said: string[] = [];
  const reports: Preflight[] = [];
  return {
    engine,
    said,
    reports,
    deps: {
      engine,
      preflight: async () => pf,
      report: async (p) => {
        reports.push(p);
      },
      say: (l) => said.push(l),
    },
  };
}

/** A running sandbox container of this workspace, from an image with these labels. */
function running(engine: FakeEngine, labels: Record<string, string>): string {
  const name = sandboxName('base', WS);
  engine.containers.set(name, {
    id: 'c1',
    name,
    image: 'x',
    imageId: 'y',
    state: 'running',
    running: true,
    labels: { [LABELS.sandbox]: name, ...labels },
  });
  return name;
}

describe('sandboxName', () => {
  it('is one name per variant and workspace, a valid container name, distinct for same-named directories', () => {
    const a = sandboxName('base', '/home/a/shop');
    expect(a).toMatch(/^aibox-base-shop-[0-9a-f]{12}$/);
    expect(sandboxName('base', '/home/a/shop')).toBe(a);
    expect(sandboxName('base', '/home/b/shop')).not.toBe(a);
    expect(sandboxName('java', '/home/a/shop')).not.toBe(a);
    for (const ws of ['/', '/x/Ünïcode dir!', '/x/---', `/x/${'long'.repeat(40)}`])
      expect(sandboxName('base', ws)).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
  });
});

describe('runOptions', () => {
  const input = { name: 'n', image, workspace: WS, command: ['make'], tty: false };
  it('maps the developer: keep-id when rootless, --user for a non-root rootful developer, the image user for root', () => {
    expect(userMapping({ rootless: true, uid: 1000, gid: 1000 })).toEqual({ keepId: true });
    expect(userMapping({ rootless: false, uid: 1001, gid: 50 })).toEqual({ user: '1001:50' });
    expect(userMapping({ rootless: false, uid: 0, gid: 0 })).toEqual({});
    const r = runOptions({ ...input, identity: { rootless: true, uid: 1000, gid: 1000 } });
    expect(r).toMatchObject({
      image: image.ref,
      volumes: [`${WS}:/workspace`],
      workdir: '/workspace',
      args: ['make'],
      keepId: true,
      rm: true,
    });
    expect(r.labels).toMatchObject({
      [LABELS.variant]: 'base',
      [LABELS.sandboxDigest]: image.digest,
      [LABELS.sandboxWorkspace]: WS,
    });
  });
  it.each(['/a:b', '/a,b', 'relative', '/a\nb'])('refuses a workspace podman cannot mount: %j', (ws) => {
    expect(() =>
      runOptions({ ...input, workspace: ws, identity: { rootless: true, uid: 1, gid: 1 } }),
    ).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});

describe('decideLaunch', () => {
  it('removes a stopped leftover before running a new sandbox', () => {
    const d = decideLaunch(
      [{ id: '1', name: 'n', image: '', imageId: '', state: 'exited', running: false, labels: {} }],
      'n',
      image,
      null,
      'aibox stop',
    );
    expect(d).toEqual({ kind: 'run', removeFirst: 'n' });
  });
});

describe('startSandbox', () => {
  it('runs CMD in a new named sandbox and returns its exit code; signature line first', async () => {
    const { engine, deps, said, reports } = setup();
    engine.commandExitCode = (args) => (args[0] === 'false' ? 1 : 7);
    const r = await startSandbox(deps, {
      variant: 'base',
      workspace: WS,
      command: ['sh', '-c', 'exit 7'],
      tty: false,
    });
    expect(r).toMatchObject({ mode: 'run', exitCode: 7, container: sandboxName('base', WS) });
    expect(said[0]).toBe(
      'Verifying image signature... valid (signed by platform-ci@aibox.internal, 2026-02-21)',
    );
    expect(engine.sandboxRuns).toHaveLength(1);
    expect(reports).toEqual([ok]);
  });

  it('starts with one podman process: no container lookup before the run (only when podman refuses the name)', async () => {
    const { engine, deps } = setup();
    await startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false });
    expect(engine.calls.map((c) => c.op)).toEqual(['runAttached']);
    expect(engine.sandboxRuns[0]?.reportNameInUse).toBe(true);
  });

  it('a stopped leftover holding the name: looked up after the refusal, removed, then the run shows podman output', async () => {
    const { engine, deps } = setup();
    const name = running(engine, { [LABELS.sandboxDigest]: image.digest });
    engine.containers.set(name, { ...engine.containers.get(name)!, state: 'exited', running: false });
    const r = await startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false });
    expect(r).toMatchObject({ mode: 'run', container: name });
    expect(engine.calls.map((c) => c.op)).toEqual(['runAttached', 'listContainers', 'rm', 'runAttached']);
    expect(engine.sandboxRuns.map((o) => o.reportNameInUse)).toEqual([undefined]);
  });

  it("a foreign container holding the name (no sandbox label): podman's own refusal is shown, exit 125", async () => {
    const { engine, deps } = setup();
    const name = running(engine, {});
    engine.containers.set(name, { ...engine.containers.get(name)!, labels: {} });
    const r = await startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false });
    expect(r).toMatchObject({ mode: 'run', exitCode: 125 });
    expect(engine.calls.map((c) => c.op)).toEqual(['runAttached', 'listContainers', 'runAttached']);
  });

  it('attaches to the sandbox already running from the same image (exec CMD, or a login shell)', async () => {
    const { engine, deps } = setup();
    const name = running(engine, { [LABELS.sandboxDigest]: image.digest });
    const r = await startSandbox(deps, { variant: 'base', workspace: WS, command: [], tty: true });
    expect(r).toMatchObject({ mode: 'attach', olderImage: false, container: name });
    expect(engine.sandboxRuns).toEqual([]);
    expect(engine.sandboxExecs).toEqual([
      { container: name, opts: { args: ATTACH_SHELL, tty: true, interactive: true, workdir: '/workspace' } },
    ]);
  });

  it('says when the running sandbox is from an older image, and how to switch; attaches', async () => {
    const { engine, deps, said } = setup();
    running(engine, {
      [LABELS.sandboxDigest]: `sha256:${'a'.repeat(64)}`,
      [LABELS.sandboxTag]: '24.04-20260214',
      [LABELS.sandboxImageCreated]: '2026-02-20T12:00:00Z',
    });
    const r = await startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false });
    expect(r).toMatchObject({ mode: 'attach', olderImage: true });
    expect(said.join('\n')).toContain(
      'is running an older image (24.04-20260214); the current one is 24.04-20260221',
    );
    expect(said.join('\n')).toContain("To switch: 'aibox stop', then 'aibox start'.");
  });

  it('refuses to attach to a running sandbox whose image is below the floor (SECURITY UPDATE REQUIRED, exit 3)', async () => {
    const { engine, deps } = setup();
    running(engine, {
      [LABELS.sandboxDigest]: `sha256:${'a'.repeat(64)}`,
      [LABELS.sandboxTag]: '24.04-20260214',
      [LABELS.sandboxImageCreated]: '2026-02-14T02:00:00Z',
    });
    const err = await startSandbox(deps, {
      variant: 'base',
      workspace: WS,
      command: ['true'],
      tty: false,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'POLICY_REFUSED',
      message:
        'SECURITY UPDATE REQUIRED: A critical vulnerability (CVE-2026-12345, CVSS 9.8) has been\n' +
        "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
    });
    expect(engine.sandboxExecs).toEqual([]);
    expect(engine.sandboxRuns).toEqual([]);
  });

  it.each([
    ['signature', 'NO_MATCHING_SIGNATURE'],
    ['floor', 'POLICY_REFUSED'],
  ] as const)('a %s refusal of the preflight starts nothing and is reported', async (kind, code) => {
    const pf: Preflight = {
      ok: false,
      kind,
      image,
      error: new AiboxError({ code, message: `no (${kind})` }),
    };
    const { engine, deps, reports } = setup(pf);
    await expect(
      startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false }),
    ).rejects.toBe(pf.error);
    expect(engine.sandboxRuns).toEqual([]);
    expect(engine.sandboxExecs).toEqual([]);
    expect(reports).toEqual([pf]);
  });

  it('podman missing: the engine error reaches the developer, nothing started', async () => {
    const { engine, deps } = setup();
    engine.sandboxFailure = new AiboxError({ code: 'TOOL_MISSING', message: 'podman not found (podman)' });
    await expect(
      startSandbox(deps, { variant: 'base', workspace: WS, command: ['true'], tty: false }),
    ).rejects.toMatchObject({
      code: 'TOOL_MISSING',
    });
  });
});

describe('stopSandbox', () => {
  it('removes the sandbox of this variant and workspace only', async () => {
    const { engine } = setup();
    const name = running(engine, {});
    engine.containers.set('other', {
      ...engine.containers.get(name)!,
      name: 'other',
      labels: { [LABELS.sandbox]: 'other' },
    });
    expect(await stopSandbox(engine, { variant: 'base', workspace: WS })).toEqual({
      container: name,
      stopped: true,
    });
    expect([...engine.containers.keys()]).toEqual(['other']);
    expect(await stopSandbox(engine, { variant: 'base', workspace: WS })).toEqual({
      container: name,
      stopped: false,
    });
  });
});
