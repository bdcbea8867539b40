/**
 * Issue 10 "Bad input and attacks" on the bundled `aibox` against real podman + docker-registry (one registry and
 * one published image set for the file): every case is a clear message with the right exit code, never a stack
 * trace, and nothing is pulled when in doubt. Also the floor (runbook §2): SECURITY UPDATE REQUIRED with the real
 * CVE, exit 3, from the channel or the cache, and a floor that never goes down.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MediaTypes } from '../../src/oci/manifest.js';
import type { CliResult } from '../helpers/cli.js';
import { envelopeOf } from '../helpers/cli.js';
import { entry, startDevWorld, type Developer, type DevWorld, type PublishedImage } from '../helpers/dev.js';
import { maybeUnset } from '../helpers/unset.js';

let w: DevWorld;
let dev: Developer;
let base1: PublishedImage;
let node1: PublishedImage;

const SIG_FAIL = (name: string) =>
  [
    `ERROR: Image signature verification failed for ${name}.`,
    'This image may have been tampered with. Contact the platform team.',
    "Run 'aibox update' to pull a fresh image from Harbor.",
    '',
  ].join('\n');

/** A refusal or failure as users must see it: the message, no stack trace. */
function noStack(r: CliResult): void {
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(r.stderr).not.toMatch(/TypeError|ReferenceError|SyntaxError/);
}

async function pulledLocally(digest: string): Promise<boolean> {
  return w.podman.imageExists(`${w.host}/aibox/base@${digest}`);
}

beforeAll(async () => {
  w = await startDevWorld('devatk');
  base1 = await w.publishImage('base', '24.04-20260215', { content: 'b1' });
  node1 = await w.publishImage('node', '20-24.04-20260215', { content: 'n1' });
  await w.publishChannel([entry(base1), entry(node1)]);
  dev = await w.developer('carol');
  const s = await dev.aibox(['setup', '--registry', `${w.host}/aibox`, '--key', w.pubPath]);
  if (s.code !== 0) throw new Error(`setup failed: ${s.stderr}`);
  for (const v of ['base', 'node']) {
    const u = await dev.aibox(['update', '--variant', v]);
    if (u.code !== 0) throw new Error(`update ${v} failed: ${u.stderr}`);
  }
}, 240_000);
afterAll(async () => {
  await maybeUnset(w)?.dispose();
});

describe('the local image', () => {
  it('tampered (the local name now points at another image): the runbook three lines, exit 12', async () => {
    await w.podman.tag('localhost/aibox-node:20-24.04-20260215', 'localhost/aibox-base:24.04-20260215');
    try {
      const r = await dev.aibox(['check']);
      expect(r.stderr).toBe(SIG_FAIL('aibox-base:24.04-20260215'));
      expect(r.code).toBe(12);
      const j = envelopeOf(await dev.aibox(['check', '--json']));
      expect(j).toMatchObject({ outcome: 'refused', exitCode: 12, error: { code: 'NO_MATCHING_SIGNATURE' } });
      // Offline too: the cached signature is for the signed digest, not for what the name points at now.
      expect((await dev.aibox(['check', '--offline'])).code).toBe(12);
    } finally {
      // `aibox update` repairs it: the channel's digest is pulled and tagged again.
      const u = await dev.aibox(['update']);
      expect(u.code).toBe(0);
    }
    expect((await dev.aibox(['check'])).code).toBe(0);
  });
});

describe('images the channel names', () => {
  it('signed only by an untrusted key: exit 12 before anything is pulled', async () => {
    const evil = await w.publishImage('base', '24.04-20260301', { content: 'evil', sign: w.evilKey });
    await w.publishChannel([entry(evil)]);
    const r = await dev.aibox(['update']);
    noStack(r);
    expect(r.stdout).toContain('Latest image:  aibox-base:24.04-20260301');
    expect(r.stdout).not.toContain('Pulling');
    expect(r.stderr).toBe(SIG_FAIL('aibox-base:24.04-20260301'));
    expect(r.code).toBe(12);
    expect(await pulledLocally(evil.digest)).toBe(false);
  });

  it('mix-and-match: a validly signed channel naming an unsigned digest: exit 12, nothing pulled', async () => {
    const unsigned = await w.publishImage('base', '24.04-20260302', { content: 'unsigned', sign: null });
    await w.publishChannel([entry(unsigned)]);
    const r = await dev.aibox(['update']);
    noStack(r);
    expect(r.stderr).toBe(SIG_FAIL('aibox-base:24.04-20260302'));
    expect(r.code).toBe(12);
    expect(await pulledLocally(unsigned.digest)).toBe(false);
    // The local image is untouched and still passes.
    expect((await dev.aibox(['check'])).code).toBe(0);
    await w.publishChannel([entry(base1)]);
  });
});

describe('the channel', () => {
  it('replayed (current re-pointed at a lower sequence): rejected, exit 1, nothing pulled', async () => {
    const repo = { registry: w.host, repository: 'aibox/channel' };
    const current = await w.client.getManifest({ ...repo, tag: 'current' });
    const old = await w.client.getManifest({ ...repo, tag: 'seq-1' });
    await w.client.putManifest({ ...repo, tag: 'current' }, old.bytes, MediaTypes.OCI_MANIFEST);
    try {
      for (const args of [['update'], ['check']]) {
        const r = await dev.aibox(args);
        noStack(r);
        expect(r.stderr).toMatch(
          /^error: release channel .* rejected: channel sequence went backwards: got 1, already saw \d+/,
        );
        expect(r.code).toBe(1);
      }
    } finally {
      await w.client.putManifest({ ...repo, tag: 'current' }, current.bytes, MediaTypes.OCI_MANIFEST);
    }
  });

  it('signed by an untrusted key: rejected, exit 1', async () => {
    await w.publishChannel([entry(base1)], { key: w.evilKey });
    const r = await dev.aibox(['update']);
    noStack(r);
    expect(r.stderr).toMatch(
      /^error: release channel .* rejected: its signature does not verify with the trusted keys \(cosign\)/,
    );
    expect(r.code).toBe(1);
    expect((await dev.aibox(['check'])).code).toBe(1);
    await w.publishChannel([entry(base1)]);
  });

  it('expired: update refuses with the expiry in the message', async () => {
    const c = await w.publishChannel([entry(base1)], { ttlDays: 1 / 86_400 });
    await new Promise((r) => setTimeout(r, 1500));
    const r = await dev.aibox(['update']);
    noStack(r);
    expect(r.stderr).toContain(`expired at ${c.expiresAt}`);
    expect(r.code).toBe(1);
    // check still passes on a signed image, with a warning that the channel is stale.
    const k = await dev.aibox(['check']);
    expect(k.code).toBe(0);
    expect(k.stderr).toContain(`the release channel expired at ${c.expiresAt}`);
    await w.publishChannel([entry(base1)]);
  });

  it('registry unreachable: update fails clearly, exit 1', async () => {
    w.proxy.setDown(true);
    try {
      const r = await dev.aibox(['update']);
      noStack(r);
      expect(r.stderr).toMatch(/^error: .*127\.0\.0\.1/);
      expect(r.code).toBe(1);
    } finally {
      w.proxy.setDown(false);
    }
  });
});

describe('the security floor', () => {
  it('raised above the local image: SECURITY UPDATE REQUIRED with the real CVE, exit 3; offline too; then update fixes it', async () => {
    const node2 = await w.publishImage('node', '20-24.04-20260221', { content: 'n2' });
    await w.publishChannel([
      entry(node2, {
        mandatoryUpdate: true,
        minImageCreated: node2.created,
        cve: { id: 'CVE-2026-12345', cvss: 9.8 },
      }),
    ]);
    const text = [
      'SECURITY UPDATE REQUIRED: A critical vulnerability (CVE-2026-12345, CVSS 9.8) has been',
      "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
      '',
    ].join('\n');
    const r = await dev.aibox(['check', '--variant', 'node']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(text);
    expect(r.code).toBe(3);
    expect(envelopeOf(await dev.aibox(['check', '--variant', 'node', '--json']))).toMatchObject({
      outcome: 'refused',
      exitCode: 3,
      error: { code: 'POLICY_REFUSED' },
    });
    // The floor is kept locally: offline (no channel fetched) it still applies.
    const off = await dev.aibox(['check', '--variant', 'node', '--offline']);
    expect(off.stderr).toBe(text);
    expect(off.code).toBe(3);
    // The highest floor never goes down: a channel that lowers it does not lower it here.
    await w.publishChannel([entry(node1)], { lowerFloors: ['node'] });
    expect((await dev.aibox(['check', '--variant', 'node'])).code).toBe(3);
    await w.publishChannel([entry(node2)]);
    const u = await dev.aibox(['update', '--variant', 'node']);
    expect(u.code).toBe(0);
    expect((await dev.aibox(['check', '--variant', 'node'])).code).toBe(0);
  });
});

/** One digit of the stored sequence changed, checksum left as it was. */
function tamper(text: string): string {
  const out = text.replace(/(\\"sequence\\":)(\d)/, '$19$2');
  expect(out).not.toBe(text);
  return out;
}

describe('local files', () => {
  it('corrupted cache files: a clear message naming the file, exit 1', async () => {
    const good = await readFile(dev.statePath, 'utf8');
    try {
      for (const bad of ['{not json', tamper(good), '']) {
        await writeFile(dev.statePath, bad);
        const r = await dev.aibox(['check']);
        noStack(r);
        expect(r.stderr).toContain(`error: the aibox developer state ${dev.statePath} is corrupted`);
        expect(r.stderr).toMatch(/hint: .*aibox update/);
        expect(r.code).toBe(1);
      }
    } finally {
      await writeFile(dev.statePath, good);
    }
    expect((await dev.aibox(['check'])).code).toBe(0);
  });

  it('podman missing: TOOL_MISSING, exit 1', async () => {
    const cfg = parse(await readFile(dev.configPath, 'utf8')) as Record<string, any>;
    const path = join(dev.home, 'no-podman.yaml');
    await writeFile(path, stringify({ ...cfg, engine: { ...cfg.engine, podman: '/nonexistent/podman' } }));
    const r = await dev.aibox(['--config', path, 'check']);
    noStack(r);
    expect(r.stderr).toMatch(/^error: podman not found \(\/nonexistent\/podman\)/);
    expect(r.code).toBe(1);
  });

  it('config missing, malformed, or setup never run: exit 2 with what to do', async () => {
    const missing = await dev.aibox(['--config', join(dev.home, 'nope.yaml'), 'check']);
    noStack(missing);
    expect(missing.stderr).toMatch(/config file .*nope\.yaml .* does not exist/);
    expect(missing.code).toBe(2);
    const path = join(dev.home, 'bad.yaml');
    await writeFile(path, 'registry:\n  host: [oops\n');
    const bad = await dev.aibox(['--config', path, 'check']);
    noStack(bad);
    expect(bad.stderr).toContain('bad.yaml');
    expect(bad.code).toBe(2);
    const fresh = await w.developer('dave');
    const none = await fresh.aibox(['check']);
    noStack(none);
    expect(none.stderr).toMatch(/no registry is configured[\s\S]*hint: run `aibox setup/);
    expect(none.code).toBe(2);
  });
});
