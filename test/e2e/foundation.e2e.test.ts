/**
 * End-to-end: the bundled aiboxctl/aibox against a real docker-registry and an image built and
 * pushed with real Podman, as a user (or a CI script) would run them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { Podman } from '../../src/engine/podman.js';
import { jsonError, jsonOf, runBin } from '../helpers/cli.js';
import { testEngineSettings } from '../helpers/engine.js';
import { freePort } from '../helpers/free-port.js';
import { buildTestImage } from '../helpers/image.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

let reg: TestRegistry;
let work: string;
let pushedDigest: string;
const LABEL = 'dev.aibox.test';

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'aibox-e2e-'));
  const podman = new Podman(testEngineSettings(), createExec());
  const local = 'localhost/aibox-e2e/base:1';
  await buildTestImage(podman, local, { labels: { [LABEL]: 'foundation' } });
  const pushed = await podman.push(local, `${reg.host}/aibox/base:24.04-20260221`, { tlsVerify: false });
  pushedDigest = pushed.digest;
  await podman.push(local, `${reg.host}/aibox/base:latest`, { tlsVerify: false });
});

afterAll(async () => {
  await maybeUnset(reg)?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('version and help', () => {
  it('prints the version of both CLIs', async () => {
    for (const bin of ['aiboxctl', 'aibox'] as const) {
      const r = await runBin(bin, ['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
    }
  });

  it('documents global options and exit codes in --help', async () => {
    const r = await runBin('aiboxctl', ['--help']);
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot('__snapshots__/aiboxctl-help.txt');
  });

  it.each([['tags'], ['inspect'], ['registry'], ['registry', 'up']])(
    'aiboxctl %s --help shows an example',
    async (...cmd) => {
      const r = await runBin('aiboxctl', [...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples?:\n\s+\$ aiboxctl /);
    },
  );

  it('exits 2 on an unknown option', async () => {
    const r = await runBin('aiboxctl', ['tags', '--nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--nope'");
  });
});

describe('tags and inspect against a real registry', () => {
  const reg_ = () => ['--registry', `${reg.host}/aibox`];

  it('lists tags sorted, as text and JSON', async () => {
    const text = await runBin('aiboxctl', [...reg_(), 'tags', 'base']);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('24.04-20260221\nlatest\n');
    const json = await runBin('aiboxctl', [...reg_(), 'tags', 'base', '--json']);
    expect(jsonOf(json)).toEqual({
      repository: `${reg.host}/aibox/base`,
      tags: ['24.04-20260221', 'latest'],
    });
  });

  it('inspects an image: digest as pushed, labels, platform, created', async () => {
    const r = await runBin('aiboxctl', [...reg_(), 'inspect', 'base:latest', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = jsonOf<Record<string, unknown>>(r);
    expect(d.digest).toBe(pushedDigest);
    expect(d.labels).toMatchObject({ [LABEL]: 'foundation', 'dev.aibox.managed': 'true' });
    expect(d.platform).toBe('linux/amd64');
    expect(String(d.created)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(d.mediaType).toMatch(/manifest/);
    const text = await runBin('aiboxctl', [...reg_(), 'inspect', `aibox/base@${pushedDigest}`]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Digest:        ${pushedDigest}`);
    expect(text.stdout).toContain(`${LABEL}=foundation`);
  });

  it('rejects a malformed reference with exit 2 and names the rule', async () => {
    const r = await runBin('aiboxctl', [...reg_(), 'inspect', 'Base:latest']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid reference ".*Base:latest": .*lowercase/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports a missing tag as a failure naming the image', async () => {
    const r = await runBin('aiboxctl', [...reg_(), 'inspect', 'base:nope', '--json']);
    expect(r.code).toBe(1);
    const error = jsonError(r);
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain('base:nope');
  });

  it('names the URL and cause in one line when the registry is unreachable', async () => {
    const port = await freePort();
    const r = await runBin('aiboxctl', ['--registry', `127.0.0.1:${port}/aibox`, 'tags', 'base']);
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`http://127.0.0.1:${port}/v2/`);
    expect(lines[0]).toMatch(/ECONNREFUSED|refused/i);
  });

  it('rejects a config typo with file:line and the allowed keys (exit 2)', async () => {
    const cfg = join(work, 'typo.yaml');
    await writeFile(cfg, 'registry:\n  project: aibox\n  hots: example.test\n');
    const r = await runBin('aiboxctl', ['--config', cfg, 'tags', 'base']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${cfg}:3`);
    expect(r.stderr).toContain('registry.hots');
    expect(r.stderr).toContain('host');
  });
});

describe('embedded registry lifecycle', () => {
  it('up is idempotent, status reports it, down stops only what it started', async () => {
    const port = await freePort();
    const data = join(work, 'data');
    const cfg = join(work, 'embedded.yaml');
    await writeFile(cfg, `embedded:\n  port: ${port}\n  dataDir: ${data}\n`);
    const env = { AIBOX_CONFIG: cfg };
    const up1 = await runBin('aiboxctl', ['registry', 'up'], { env });
    try {
      expect(up1.code, up1.stderr).toBe(0);
      expect(up1.stdout.trim()).toBe(`127.0.0.1:${port}`);
      const up2 = await runBin('aiboxctl', ['registry', 'up', '--json'], { env });
      expect(jsonOf(up2)).toMatchObject({ host: `127.0.0.1:${port}`, alreadyRunning: true });
      const st = await runBin('aiboxctl', ['registry', 'status', '--json'], { env });
      expect(st.code).toBe(0);
      expect(jsonOf(st)).toMatchObject({ running: true, host: `127.0.0.1:${port}` });
      // Commands without a configured registry use the embedded one.
      const tags = await runBin('aiboxctl', ['tags', 'base'], { env });
      expect(tags.code).toBe(1);
      expect(tags.stderr).toMatch(/base/);
      expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(200);
    } finally {
      const down = await runBin('aiboxctl', ['registry', 'down'], { env });
      expect(down.code).toBe(0);
      expect(down.stdout).toMatch(/stopped/);
    }
    const st2 = await runBin('aiboxctl', ['registry', 'status'], { env });
    expect(st2.code).toBe(1);
    expect(st2.stdout).toMatch(/not running/);
    const down2 = await runBin('aiboxctl', ['registry', 'down'], { env });
    expect(down2.code).toBe(0);
    expect(down2.stdout).toMatch(/not running/);
  });
});
