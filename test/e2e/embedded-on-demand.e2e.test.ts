/**
 * End-to-end on the bundled aiboxctl: the embedded registry starts only when a short image name
 * resolves to it. Fully qualified references go straight to their registry; bad references fail
 * (exit 2) before anything starts; when `embedded.port` is held by another process the registry
 * runs on a free loopback port, records it, and `registry status` prints it. The "other process"
 * is a TCP squatter on a port this test occupies (never assuming 5000 is free).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { jsonOf, runBin } from '../helpers/cli.js';
import { pushTinyImage } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

let reg: TestRegistry;
let client: RegistryClient;
let squatter: Server;
let busyPort: number;
let work: string;
let digest: string;

/** A config whose embedded registry would live in `data` on the squatted port. */
async function embeddedConfig(name: string): Promise<{ env: Record<string, string>; data: string }> {
  const data = join(work, `${name}-data`);
  const cfg = join(work, `${name}.yaml`);
  await writeFile(cfg, `embedded:\n  port: ${busyPort}\n  dataDir: ${data}\n`);
  return {
    data,
    env: { AIBOX_CONFIG: cfg, HOME: work, XDG_DATA_HOME: join(work, 'xdg'), COSIGN_PASSWORD: 'pw-e2e' },
  };
}

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {} });
  digest = await pushTinyImage(client, reg.host, 'aibox/base', 'v1', 'on-demand');
  work = await mkdtemp(join(tmpdir(), 'aibox-on-demand-'));
  squatter = createServer((s) => s.destroy());
  busyPort = await new Promise<number>((resolve) =>
    squatter.listen(0, '127.0.0.1', () => {
      const a = squatter.address();
      resolve(a && typeof a === 'object' ? a.port : 0);
    }),
  );
});

afterAll(async () => {
  await maybeUnset(client)?.close();
  await new Promise<void>((r) => (maybeUnset(squatter) ? squatter.close(() => r()) : r()));
  await maybeUnset(reg)?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a fully qualified reference', () => {
  it('goes to its registry for tags, inspect, sign and verify, and starts no embedded registry', async () => {
    const { env, data } = await embeddedConfig('qualified');
    const image = `${reg.host}/aibox/base:v1`;
    const inspect = await runBin('aiboxctl', ['inspect', image, '--json'], { env });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(jsonOf<{ digest: string }>(inspect).digest).toBe(digest);
    const tags = await runBin('aiboxctl', ['tags', `${reg.host}/aibox/base`], { env });
    expect(tags.code, tags.stderr).toBe(0);
    expect(tags.stdout.trim()).toBe('v1');
    const keys = await runBin('aiboxctl', ['keys', 'generate', '--output-dir', join(work, 'k')], { env });
    expect(keys.code, keys.stderr).toBe(0);
    const sign = await runBin('aiboxctl', ['sign', '--key', join(work, 'k/cosign.key'), image], { env });
    expect(sign.code, sign.stderr).toBe(0);
    const verify = await runBin('aiboxctl', ['verify', '--key', join(work, 'k/cosign.pub'), image], { env });
    expect(verify.code, verify.stderr).toBe(0);
    for (const r of [inspect, tags, sign, verify]) expect(r.stderr).not.toMatch(/embedded registry/i);
    expect(existsSync(data)).toBe(false);
  });
});

describe('usage errors', () => {
  it.each([
    [['inspect', 'Bad//Ref'], /invalid reference ".*Bad\/\/Ref"/],
    [['tags', 'base:v1'], /invalid repository "base:v1": a repository has no tag or digest/],
    [['--registry', 'Bad Host/aibox', 'inspect', 'base'], /invalid --registry "Bad Host\/aibox"/],
  ])('aiboxctl %j exits 2 before starting anything', async (args, message) => {
    const { env, data } = await embeddedConfig(`usage-${String(args[0])}`);
    const r = await runBin('aiboxctl', args, { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/embedded registry/i);
    expect(existsSync(data)).toBe(false);
  });
});

describe('embedded.port held by another process', () => {
  it('runs the registry on a free loopback port, records it, and status prints it', async () => {
    const { env, data } = await embeddedConfig('squatted');
    const up = await runBin('aiboxctl', ['registry', 'up'], { env });
    try {
      expect(up.code, up.stderr).toBe(0);
      const host = up.stdout.trim();
      const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(host)?.[1]);
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(busyPort);
      expect(up.stderr).toContain(`127.0.0.1:${busyPort} (embedded.port) is in use by another process`);
      const status = await runBin('aiboxctl', ['registry', 'status'], { env });
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`running at ${host}`);
      expect(status.stdout).toContain(`port ${busyPort} (embedded.port) was in use by another process`);
      const json = await runBin('aiboxctl', ['registry', 'status', '--json'], { env });
      expect(jsonOf(json)).toMatchObject({ running: true, host, port, requestedPort: busyPort });
      expect(existsSync(join(data, 'state.json'))).toBe(true);
      // Short names now resolve to it (the repository does not exist there: not found, naming the host).
      const tags = await runBin('aiboxctl', ['tags', 'base'], { env });
      expect(tags.code).toBe(1);
      expect(tags.stderr).toContain(host);
      expect(tags.stderr).not.toMatch(/in use/);
    } finally {
      const down = await runBin('aiboxctl', ['registry', 'down'], { env });
      expect(down.code).toBe(0);
    }
  });
});
