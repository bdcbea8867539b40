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
