/**
 * Issue 10 §1–§3, §5 on the bundled `aibox` against real podman + docker-registry: setup verifies the channel and
 * writes the config; update prints EXACTLY the runbook's lines (golden), then the security fixes; an update with
 * nothing new costs at most 3 HTTP requests; check verifies online and offline from the cache; status reports it all;
 * a rollback (newer sequence naming an older digest) gives the developer the known-good image.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/core/labels.js';
import { envelopeOf } from '../helpers/cli.js';
import {
  entry,
  SIGNER,
  startDevWorld,
  type Developer,
  type DevWorld,
  type PublishedImage,
} from '../helpers/dev.js';
import { maybeUnset } from '../helpers/unset.js';

let w: DevWorld;
let dev: Developer;
let v1: PublishedImage;
let v2: PublishedImage;

const pullSeconds = (s: string) => s.replace(/\.\.\. done \(\d+s\)/g, '... done (Ns)');

beforeAll(async () => {
  w = await startDevWorld('devupd');
  v1 = await w.publishImage('base', '24.04-20260215', { content: 'one' });
  await w.publishChannel([entry(v1)]);
  dev = await w.developer('alice');
}, 180_000);
afterAll(async () => {
  await maybeUnset(w)?.dispose();
});

describe('aibox setup', () => {
  it('verifies the channel, installs the key, writes the config and says what it did', async () => {
    const r = await dev.aibox(['setup', '--registry', `${w.host}/aibox`, '--key', w.pubPath]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Registry ${w.host}/aibox: reachable; release channel sequence 1 verified`);
    expect(r.stdout).toMatch(
      /Installed trusted key cosign \(sha256:[0-9a-f]{64}\) at .*\/developer\/keys\/cosign\.pub/,
    );
    const config = await readFile(dev.configPath, 'utf8');
    expect(config).toContain(`host: ${w.host}`);
    expect(config).toContain('runtime:'); // the engine quirks already there are kept
  });
});

describe('aibox setup --podman-policy', () => {
  it('merges sigstoreSigned and use-sigstore-attachments into existing files, keeping their content, with backups', async () => {
    const bob = await w.developer('bob');
    const dir = join(bob.env.XDG_CONFIG_HOME, 'containers');
    await mkdir(join(dir, 'registries.d'), { recursive: true });
    const existingPolicy = {
      default: [{ type: 'reject' }],
      transports: {
        docker: { 'quay.io/other': [{ type: 'insecureAcceptAnything' }] },
        'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
      },
    };
    await writeFile(join(dir, 'policy.json'), JSON.stringify(existingPolicy));
    const regD =
      '# my own settings\ndocker:\n  quay.io/other:\n    lookaside: https://example.invalid/sigs\n';
    await writeFile(join(dir, 'registries.d', 'aibox.yaml'), regD);
    const r = await bob.aibox([
      'setup',
      '--registry',
      `${w.host}/aibox`,
      '--key',
      w.pubPath,
      '--podman-policy',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const policy = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8'));
    expect(policy.default).toEqual([{ type: 'reject' }]);
    expect(policy.transports['docker-daemon']).toEqual(existingPolicy.transports['docker-daemon']);
    expect(policy.transports.docker['quay.io/other']).toEqual([{ type: 'insecureAcceptAnything' }]);
    expect(policy.transports.docker[`${w.host}/aibox`]).toEqual([
      {
        type: 'sigstoreSigned',
        keyPath: join(bob.env.XDG_DATA_HOME, 'aibox', 'developer', 'keys', 'cosign.pub'),
        signedIdentity: { type: 'matchRepository' },
      },
    ]);
    const reg = await readFile(join(dir, 'registries.d', 'aibox.yaml'), 'utf8');
    expect(reg).toContain('# my own settings');
    expect(parse(reg)).toEqual({
      docker: {
        'quay.io/other': { lookaside: 'https://example.invalid/sigs' },
        [`${w.host}/aibox`]: { 'use-sigstore-attachments': true },
      },
    });
    const files = await readdir(dir);
    const backup = files.find((f) => f.startsWith('policy.json.aibox-backup-'));
    expect(backup).toBeDefined();
    expect(JSON.parse(await readFile(join(dir, backup as string), 'utf8'))).toEqual(existingPolicy);
    const regBackups = (await readdir(join(dir, 'registries.d'))).filter((f) => f.includes('aibox-backup-'));
    expect(regBackups).toHaveLength(1);
    expect(r.stdout).toContain(`Updated ${join(dir, 'policy.json')} (backup `);
  });

  it('a policy.json that is not JSON is reported, and nothing is clobbered', async () => {
    const eve = await w.developer('eve');
    const dir = join(eve.env.XDG_CONFIG_HOME, 'containers');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'policy.json'), '{ broken');
    const r = await eve.aibox([
      'setup',
      '--registry',
      `${w.host}/aibox`,
      '--key',
      w.pubPath,
      '--podman-policy',
    ]);
    expect(r.stderr).toMatch(/policy\.json is not a valid containers policy: not JSON/);
    expect(r.code).toBe(2);
    expect(await readFile(join(dir, 'policy.json'), 'utf8')).toBe('{ broken');
    // Checked before the first write: no config, key or state was written either.
    expect(await readFile(eve.configPath, 'utf8')).not.toContain('host:');
    expect(existsSync(eve.statePath)).toBe(false);
  });
});

describe('aibox update', () => {
  it('first update: pulls, verifies and prints the runbook lines', async () => {
    const r = await dev.aibox(['update']);
    expect(r.stderr).toBe('');
    expect(pullSeconds(r.stdout)).toBe(
      [
        'Checking for updates...',
        'Current image: none',
        'Latest image:  aibox-base:24.04-20260215',
        'Pulling aibox-base:24.04-20260215... done (Ns)',
        'Verifying signature... valid',
        "Update complete. Changes take effect on next 'aibox start'.",
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
  });

  it('a new image: EXACTLY the runbook lines, then one line per security fix', async () => {
    v2 = await w.publishImage('base', '24.04-20260221', {
      content: 'two',
      labels: { [LABELS.securityFixes]: 'CVE-2026-12345:9.8,CVE-2026-23456:7.5' },
    });
    await w.publishChannel([entry(v2)]);
    const r = await dev.aibox(['update']);
    expect(r.stderr).toBe('');
    expect(pullSeconds(r.stdout)).toBe(
      [
        'Checking for updates...',
        'Current image: aibox-base:24.04-20260215',
        'Latest image:  aibox-base:24.04-20260221',
        'Pulling aibox-base:24.04-20260221... done (Ns)',
        'Verifying signature... valid',
        "Update complete. Changes take effect on next 'aibox start'.",
        'Security fix: CVE-2026-12345 (CVSS 9.8)',
        'Security fix: CVE-2026-23456 (CVSS 7.5)',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
  });

  it('nothing new: "Already up to date" in at most 3 HTTP requests', async () => {
    w.proxy.reset();
    const r = await dev.aibox(['update']);
    expect(r.stdout).toBe('Checking for updates...\nAlready up to date (aibox-base:24.04-20260221).\n');
    expect(r.code).toBe(0);
    expect(w.proxy.requests.length).toBeLessThanOrEqual(3);
  });

  it('--json: one envelope with the result', async () => {
    const r = await dev.aibox(['update', '--json']);
    const env = envelopeOf(r);
    expect(env.outcome).toBe('ok');
    expect(env.data).toMatchObject({
      status: 'up-to-date',
      image: { tag: '24.04-20260221', digest: v2.digest },
    });
  });
});

describe('aibox check', () => {
  it('online: the signature line with the signer and date, exit 0', async () => {
    const r = await dev.aibox(['check']);
    const day = new Date().toISOString().slice(0, 10);
    expect(r.stdout).toBe(`Verifying image signature... valid (signed by ${SIGNER}, ${day})\n`);
    expect(r.code).toBe(0);
  });

  it('offline: verifies from the cache without one request', async () => {
    w.proxy.reset();
    const r = await dev.aibox(['check', '--offline', '--json']);
    expect(envelopeOf(r).data).toMatchObject({ offline: true, image: { digest: v2.digest } });
    expect(r.code).toBe(0);
    expect(w.proxy.requests).toEqual([]);
  });

  it('steady state: the local image is read from containers-storage, no podman process', async () => {
    // The first check learns podman's storage location (podman info, once per machine) beside its inspect.
    expect((await dev.aibox(['check', '--offline'])).code).toBe(0);
    const r = await dev.aibox(['--debug', 'check', '--offline']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('read from containers-storage');
    expect(r.stderr).not.toMatch(/Run: \S*podman/);
    expect(r.stdout).toContain('Verifying image signature... valid');
  });

  it('registry unreachable: the cache, with one warning line', async () => {
    w.proxy.setDown(true);
    try {
      const r = await dev.aibox(['check']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Verifying image signature... valid');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^warning: registry .* unreachable .*offline\)/);
    } finally {
      w.proxy.setDown(false);
    }
  });
});

describe('aibox status', () => {
  it('reports the variant, local and latest image, floor, signature, channel and keys', async () => {
    const r = await dev.aibox(['status', '--json']);
    const data = envelopeOf(r).data as Record<string, any>;
    expect(data.variant).toBe('base');
    expect(data.local).toMatchObject({ tag: '24.04-20260221', digest: v2.digest });
    expect(data.latest).toMatchObject({ tag: '24.04-20260221', digest: v2.digest });
    expect(data.signature.state).toBe('valid');
    expect(data.channel.sequence).toBe(2);
    expect(data.trustedKeys).toHaveLength(1);
    // No sandbox is running in this file: the engine lists none.
    expect(data.sandboxes).toEqual([]);
    const text = await dev.aibox(['status']);
    expect(text.stdout).toMatch(/Running sandboxes:\s+none/);
  });
});

describe('rollback', () => {
  it('a newer channel naming the older digest: the developer gets the known-good image', async () => {
    await w.publishChannel([entry(v1)]);
    const r = await dev.aibox(['update']);
    expect(pullSeconds(r.stdout)).toContain('Latest image:  aibox-base:24.04-20260215\n');
    expect(r.stdout).toContain('Update complete.');
    expect(r.code).toBe(0);
    const c = await dev.aibox(['check', '--json']);
    expect(envelopeOf(c).data).toMatchObject({ image: { digest: v1.digest, tag: '24.04-20260215' } });
  });
});
