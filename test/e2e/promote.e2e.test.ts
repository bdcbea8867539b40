/**
 * `aiboxctl promote` itself (what both CI templates call), on the bundled CLI with real Podman and a real
 * docker-registry: the process is killed (SIGKILL) right after its k-th tag move, for every k, and a re-run
 * converges (every `latest` and `channel:current` name the same date, the channel verifies). A loopback proxy
 * in front of the registry counts the tag PUTs and kills the CLI once the registry has applied the k-th one.
 * Also: a registry outage is exit 1 (REGISTRY_UNREACHABLE), not a policy refusal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, jsonError, jsonOf, type CliResult } from '../helpers/cli.js';
import { testPodman, testRunId } from '../helpers/engine.js';
import { freePort } from '../helpers/free-port.js';
import { buildTestImage } from '../helpers/image.js';
import {
  generateKeys,
  pipelineCli,
  publishedState,
  removeImagesFrom,
  tagDigest,
  TINY_CONTAINERFILE,
  writePipelineConfig,
} from '../helpers/pipeline.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const PASSWORD = 'promote-e2e-password-91c2';
const REPOS = ['aibox/base', 'aibox/app'];
const runId = testRunId('promote-e2e');
const BASE_IMAGE = `localhost/aibox-test-promote-bb:${runId}`;
const DATES = ['2026-03-01', '2026-03-02'] as const;
const tagsOf = (d: string) => ({
  base: `24.04-${d.replace(/-/g, '')}`,
  app: `1-24.04-${d.replace(/-/g, '')}`,
});

/** Forwards everything to the registry; counts tag PUTs (not by digest) and can kill the CLI after the k-th. */
interface KillProxy {
  readonly host: string;
  tagPuts: string[];
  /** Kill `victim` once the registry has answered the k-th tag PUT (null: never). */
  arm(k: number | null, victim: () => ChildProcess | undefined): void;
  close(): Promise<void>;
}

async function startKillProxy(upstream: TestRegistry): Promise<KillProxy> {
  const port = await freePort();
  const [uhost, uport] = upstream.host.split(':') as [string, string];
  let killAt: number | null = null;
  let victim: () => ChildProcess | undefined = () => undefined;
  const proxy: KillProxy = {
    host: `127.0.0.1:${port}`,
    tagPuts: [],
    arm(k, v) {
      killAt = k;
      victim = v;
      proxy.tagPuts = [];
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    const isTagPut = req.method === 'PUT' && /\/manifests\/(?!sha256:)[^/]+$/.test(req.url ?? '');
    const up = request(
      { host: uhost, port: Number(uport), method: req.method, path: req.url, headers: req.headers },
      (ures) => {
        const n = isTagPut ? proxy.tagPuts.push(req.url ?? '') : 0;
        if (isTagPut && n === killAt) {
          // The registry has applied the move; the process dies before it hears so.
          const child = victim();
          ures.resume();
          if (child && child.exitCode === null) {
            child.once('exit', () => res.destroy());
            child.kill('SIGKILL');
          } else res.destroy();
          return;
        }
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return proxy;
}

let reg: TestRegistry;
let proxy: KillProxy;
let work: string;
let xdg: string;
let config: string;
let keys: { key: string; pub: string };
let cli: ReturnType<typeof pipelineCli>;
const digests: Record<string, Record<string, string>> = {};

/** `aiboxctl --json promote --date D` through the proxy, exposing the child so the proxy can kill it. */
function promoteVia(date: string, onChild: (c: ChildProcess) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        `${ROOT}/dist/aiboxctl.cjs`,
        '--config',
        config,
        '--registry',
        `${proxy.host}/aibox`,
        '--json',
        'promote',
        '--date',
        date,
        '--allow-unscanned',
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          XDG_DATA_HOME: xdg,
          COSIGN_PASSWORD: PASSWORD,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    onChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 137 : 128), stdout, stderr }));
  });
}

/** Every latest and channel:current name `date`'s images, and status (channel verified) says OK. */
async function expectConvergedOn(date: string): Promise<void> {
  const state = await publishedState(reg.url, REPOS);
  expect(state['aibox/base:latest']).toBe(digests[date]!.base);
  expect(state['aibox/app:latest']).toBe(digests[date]!.app);
  const st = await cli(['status', '--key', keys.pub, '--no-scan', '--json']);
  const report = jsonOf<{ ok: boolean; variants: { variant: string; digest: string; inChannel: boolean }[] }>(
    st,
  );
  expect(report.variants.map((v) => [v.variant, v.digest, v.inChannel])).toEqual([
    ['base', digests[date]!.base, true],
    ['app', digests[date]!.app, true],
  ]);
  expect(report.ok, st.stdout).toBe(true);
  expect(st.code).toBe(0);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aibox-promote-e2e-'));
  xdg = join(work, 'xdg');
  await buildTestImage(testPodman(), BASE_IMAGE, { runId });
  reg = await startRegistry();
  proxy = await startKillProxy(reg);
  keys = await generateKeys(join(work, 'keys'), PASSWORD);
  config = await writePipelineConfig(join(work, 'aibox.yaml'), {
    baseImage: BASE_IMAGE,
    key: keys.key,
    pub: keys.pub,
    variants: {
      base: { tagPrefix: '24.04', from: null, containerfile: TINY_CONTAINERFILE },
      app: { tagPrefix: '1-24.04', from: 'base', containerfile: TINY_CONTAINERFILE },
    },
  });
  // Everything goes through the proxy: signatures name the registry host the CLI was given.
  cli = pipelineCli({ config, registry: () => proxy.host, xdg, password: PASSWORD });
  for (const [i, date] of DATES.entries()) {
    const args = ['rebuild', '--date', date, '--allow-unscanned', ...(i === 0 ? [] : ['--no-promote'])];
    const r = await cli(args);
    if (r.code !== 0) throw new Error(`rebuild ${date} failed:\n${r.stdout}\n${r.stderr}`);
    const t = tagsOf(date);
    digests[date] = {
      base: (await tagDigest(reg.url, 'aibox/base', t.base))!,
      app: (await tagDigest(reg.url, 'aibox/app', t.app))!,
    };
  }
}, 240_000);

afterAll(async () => {
  await maybeUnset(proxy)?.close();
  if (maybeUnset(reg)) {
    await removeImagesFrom(proxy.host);
    await reg.stop();
  }
  await testPodman()
    .rmi([BASE_IMAGE], { force: true })
    .catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('aiboxctl promote', { timeout: 120_000 }, () => {
  it('killed after its k-th tag move, for every k: a re-run converges on the promoted date', async () => {
    await expectConvergedOn(DATES[0]);
    // How many tag moves a promotion makes (the channel's .sig, pending, each latest, current).
    proxy.arm(null, () => undefined);
    const probe = await promoteVia(DATES[1], () => undefined);
    expect(probe.code, probe.stderr).toBe(0);
    const moves = proxy.tagPuts.length;
    expect(moves).toBeGreaterThanOrEqual(REPOS.length + 2);
    await expectConvergedOn(DATES[1]);
    let completed = 0;
    for (let k = 1; k <= moves; k++) {
      // Alternate dates, so each case starts fully on the other one.
      const date = DATES[(k + 1) % 2]!;
      const other = DATES[k % 2]!;
      let child: ChildProcess | undefined;
      proxy.arm(k, () => child);
      const killed = await promoteVia(date, (c) => (child = c));
      expect(killed.code, `k=${k}: ${killed.stderr}`).toBe(137);
      // Every latest is on one date or the other; nothing else.
      const mid = await publishedState(reg.url, REPOS);
      expect([digests[date]!.base, digests[other]!.base]).toContain(mid['aibox/base:latest']);
      expect([digests[date]!.app, digests[other]!.app]).toContain(mid['aibox/app:latest']);
      // Anything moved is covered by the recorded intent (a signed channel at channel:pending, newer than current).
      const moved =
        mid['aibox/base:latest'] !== digests[other]!.base || mid['aibox/app:latest'] !== digests[other]!.app;
      if (moved) expect(await tagDigest(reg.url, 'aibox/channel', 'pending'), `k=${k}`).not.toBeNull();
      proxy.arm(null, () => undefined);
      const again = await promoteVia(date, () => undefined);
      expect(again.code, `k=${k}: ${again.stdout}${again.stderr}`).toBe(0);
      if (jsonOf<{ completed?: number }>(again).completed !== undefined) completed++;
      await expectConvergedOn(date);
    }
    // Crashes after the intent was recorded were completed (rolled forward) by the re-run.
    expect(completed).toBeGreaterThanOrEqual(REPOS.length);
  });

  it('a registry outage is exit 1 (REGISTRY_UNREACHABLE), not a policy refusal', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const r = await pipelineCli({ config, registry: () => down, xdg, password: PASSWORD })([
      '--json',
      'promote',
      '--date',
      DATES[0],
      '--allow-unscanned',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(jsonError(r).code).toBe('REGISTRY_UNREACHABLE');
  });
});
