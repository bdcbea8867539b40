import { describe, expect, it } from 'vitest';
import { defaultPlatformConfig } from '../../config/schema.js';
import { createExec } from '../../adapters/exec.js';
import { Podman } from '../podman.js';
import { isLoopbackHost, referenceHost, tlsVerifyFor } from '../tls.js';

describe('tlsVerifyFor', () => {
  it.each([
    ['127.0.0.1:5000', null, [], false],
    ['localhost:5000', null, [], false],
    ['[::1]:5000', null, [], false],
    ['harbor.internal', null, [], true],
    ['registry.lan:5000', null, ['registry.lan:5000'], false],
    ['registry.lan:5000', null, ['registry.lan'], true],
    ['127.0.0.1:5000', true, [], true],
    ['harbor.internal', false, [], false],
  ] as const)('%s (setting %s, insecure %j) → %s', (host, setting, insecure, expected) => {
    expect(tlsVerifyFor(host, setting, insecure)).toBe(expected);
  });
  it('does not treat look-alike names as loopback', () => {
    expect(isLoopbackHost('127.0.0.1.example.com')).toBe(false);
    expect(isLoopbackHost('localhost.example.com:5000')).toBe(false);
  });
});

describe('referenceHost', () => {
  it.each([
    ['127.0.0.1:5000/aibox/base:1', '127.0.0.1:5000'],
    ['harbor.internal/aibox/base@sha256:abc', 'harbor.internal'],
    ['localhost/x:1', 'localhost'],
    ['library/ubuntu:24.04', 'docker.io'],
    ['ubuntu', 'docker.io'],
  ])('%s → %s', (ref, host) => {
    expect(referenceHost(ref)).toBe(host);
  });
});

describe('Podman.globalArgs', () => {
  it('passes only the settings that are set, in podman global-flag form', () => {
    const engine = defaultPlatformConfig().engine;
    expect(new Podman(engine, createExec()).globalArgs()).toEqual([]);
    expect(
      new Podman(
        { ...engine, runtime: 'runc', cgroupManager: 'cgroupfs', root: '/r', runroot: '/rr' },
        createExec(),
      ).globalArgs(),
    ).toEqual(['--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--root', '/r', '--runroot', '/rr']);
  });
});

describe('Podman.build: engine.buildNetwork', () => {
  // A recording Exec: podman is never run; the iidfile is written so build() completes.
  const recording = () => {
    const calls: string[][] = [];
    const exec = (async (_cmd: string, args: readonly string[]) => {
      calls.push([...args]);
      const iid = args[args.indexOf('--iidfile') + 1];
      if (iid) await (await import('node:fs/promises')).writeFile(iid, 'sha256:abc');
      return { stdout: '', stderr: '', code: 0 };
    }) as unknown as ReturnType<typeof createExec>;
    return { calls, exec };
  };
  it('passes --network only when set (host: RUN steps reach a loopback apt mirror)', async () => {
    const engine = defaultPlatformConfig().engine;
    const off = recording();
    await new Podman(engine, off.exec).build({ contextDir: '/ctx', tags: ['t:1'] });
    expect(off.calls[0]).not.toContain('--network');
    const on = recording();
    await new Podman({ ...engine, buildNetwork: 'host' }, on.exec).build({
      contextDir: '/ctx',
      tags: ['t:1'],
    });
    const args = on.calls[0]!;
    expect(args[args.indexOf('--network') + 1]).toBe('host');
    expect(args[args.length - 1]).toBe('/ctx');
  });
});
