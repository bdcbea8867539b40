import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/adapters/exec.js';
import { isAiboxError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { registryDown, registryFiles, registryStatus, registryUp } from '../../src/registry/embedded.js';
import { freePort } from '../helpers/free-port.js';
import { processAlive } from '../../src/adapters/exec.js';

describe('embedded registry', () => {
  let dataDir: string;
  const started: number[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aibox-embedded-'));
  });

  afterAll(async () => {
    await registryDown({ dataDir }).catch(() => undefined);
    for (const pid of started) if (await processAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('when started, queried and stopped', () => {
    it('runs one registry per data dir, idempotently', async () => {
      const port = await freePort();
      const up = await registryUp({ dataDir, port, exec: createExec() });
      started.push(up.pid);
      expect(up).toMatchObject({
        host: `127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}`,
        alreadyRunning: false,
      });

      const res = await fetch(`${up.url}/v2/`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();

      const cfg = await readFile(registryFiles(dataDir).config, 'utf8');
      expect(cfg).toContain(`addr: 127.0.0.1:${port}`);
      expect(cfg).toMatch(/delete:\n\s+enabled: true/);
      expect(cfg).toContain(registryFiles(dataDir).storage);

      const again = await registryUp({ dataDir, port });
      expect(again).toMatchObject({ pid: up.pid, host: up.host, alreadyRunning: true });

      const st = await registryStatus({ dataDir });
      expect(st).toMatchObject({ running: true, pid: up.pid, host: up.host, dataDir, responding: true });
      expect(Date.parse(st.startedAt ?? '')).not.toBeNaN();

      const down = await registryDown({ dataDir });
      expect(down).toEqual({ stopped: true, pid: up.pid });
      // A stopped child of this test process may be a zombie until reaped: processAlive counts that as gone.
      expect(await processAlive(up.pid)).toBe(false);
      expect(await registryStatus({ dataDir })).toEqual({ running: false, dataDir });
      expect(await registryDown({ dataDir })).toEqual({ stopped: false });
    });

    it('picks a free port when asked for port 0', async () => {
      const up = await registryUp({ dataDir, port: 0 });
      started.push(up.pid);
      expect(up.port).toBeGreaterThan(0);
      expect(up.host).toBe(`127.0.0.1:${up.port}`);
      expect((await registryStatus({ dataDir })).responding).toBe(true);
      expect((await registryDown({ dataDir })).stopped).toBe(true);
    });

    it('starts once when several callers race', async () => {
      const port = await freePort();
      const ups = await Promise.all([1, 2, 3].map(() => registryUp({ dataDir, port })));
      for (const u of ups) started.push(u.pid);
      expect(new Set(ups.map((u) => u.pid)).size).toBe(1);
      expect(ups.filter((u) => !u.alreadyRunning)).toHaveLength(1);
      expect((await registryDown({ dataDir })).stopped).toBe(true);
    });
  });

  describe('when the state file is stale', () => {
    it('ignores a dead pid, cleans up and starts fresh', async () => {
      const dead = spawn('true');
      await new Promise((r) => dead.once('exit', r));
      const files = registryFiles(dataDir);
      await writeFile(
        files.state,
        JSON.stringify({
          pid: dead.pid,
          port: 1,
          host: '127.0.0.1:1',
          configPath: files.config,
          binary: 'docker-registry',
          startedAt: new Date().toISOString(),
        }),
      );
      expect(await registryStatus({ dataDir })).toEqual({ running: false, dataDir });
      expect(await registryDown({ dataDir })).toEqual({ stopped: false });
      await expect(readFile(files.state)).rejects.toThrow(/ENOENT/);

      await writeFile(files.state, 'not json');
      const up = await registryUp({ dataDir, port: 0 });
      started.push(up.pid);
      expect(up.alreadyRunning).toBe(false);
      expect((await registryDown({ dataDir })).stopped).toBe(true);
    });

    it('never signals a live process that is not our registry', async () => {
      const other = spawn('sleep', ['60'], { stdio: 'ignore' });
      started.push(other.pid!);
      const files = registryFiles(dataDir);
      await writeFile(
        files.state,
        JSON.stringify({
          pid: other.pid,
          port: 1,
          host: '127.0.0.1:1',
          configPath: files.config,
          binary: 'docker-registry',
          startedAt: new Date().toISOString(),
        }),
      );
      expect((await registryStatus({ dataDir })).running).toBe(false);
      expect(await registryDown({ dataDir })).toEqual({ stopped: false });
      expect(await processAlive(other.pid!)).toBe(true);
      other.kill('SIGKILL');
    });
  });

  describe('when it cannot start', () => {
    let blocker: Server;
    let busyPort: number;
    beforeAll(async () => {
      blocker = createServer();
      busyPort = await new Promise<number>((resolve) =>
        blocker.listen(0, '127.0.0.1', () => {
          const a = blocker.address();
          resolve(a && typeof a === 'object' ? a.port : 0);
        }),
      );
    });
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

    it('runs on a free loopback port when the configured one is taken, records it, and status shows it', async () => {
      const warnings: string[] = [];
      const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
      const up = await registryUp({ dataDir, port: busyPort, exec: createExec(), logger });
      started.push(up.pid);
      try {
        expect(up.port).not.toBe(busyPort);
        expect(up).toMatchObject({
          host: `127.0.0.1:${up.port}`,
          requestedPort: busyPort,
          alreadyRunning: false,
        });
        expect(warnings.join('\n')).toContain(
          `127.0.0.1:${busyPort} (embedded.port) is in use by another process`,
        );
        const state = JSON.parse(await readFile(registryFiles(dataDir).state, 'utf8')) as Record<
          string,
          unknown
        >;
        expect(state).toMatchObject({ port: up.port, requestedPort: busyPort, host: up.host });
        expect(await registryStatus({ dataDir })).toMatchObject({
          running: true,
          host: up.host,
          port: up.port,
          requestedPort: busyPort,
          responding: true,
        });
        // The next command finds it without a new warning about a changed port.
        warnings.length = 0;
        const again = await registryUp({ dataDir, port: busyPort, logger });
        expect(again).toMatchObject({ pid: up.pid, host: up.host, alreadyRunning: true });
        expect(warnings).toEqual([]);
      } finally {
        await registryDown({ dataDir });
      }
    });

    it('reports a missing registry binary as TOOL_MISSING with an install hint', async () => {
      const err = await registryUp({
        dataDir,
        port: 0,
        exec: createExec(),
        binary: 'aibox-no-such-registry',
      }).catch((e: unknown) => e);
      expect(isAiboxError(err, 'TOOL_MISSING')).toBe(true);
      expect(isAiboxError(err) && err.hint).toMatch(/apt-get install docker-registry/);
    });

    it('shows the log tail when the registry dies during startup', async () => {
      // `cat serve CONFIG` prints the config file and exits at once: a real early exit with output in the log.
      const err = await registryUp({ dataDir, port: 0, binary: 'cat', timeoutMs: 5_000 }).catch(
        (e: unknown) => e,
      );
      expect(isAiboxError(err, 'REGISTRY_UNREACHABLE')).toBe(true);
      expect((err as Error).message).toMatch(
        /^the embedded registry exited during startup: .*X-Content-Type-Options/,
      );
      expect(isAiboxError(err) && err.hint).toBe(`See ${registryFiles(dataDir).log}`);
      expect((await registryStatus({ dataDir })).running).toBe(false);
    });
  });
});
