/**
 * Issue 10 item 4 end to end, on the bundled CLIs against real podman + docker-registry: a developer set up with the
 * old cosign.pub only; the platform runs `aiboxctl keys rotate --new-key … --compromised --yes`; the developer's
 * next `aibox check` refuses the local image signed only by the retired key (exit 12), and `aibox update` gets the
 * channel's image, verified with the NEW key learned from the channel — nobody re-ran `aibox setup`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildChannel } from '../../src/channel/channel.js';
import { channelRepository, publishChannel, readChannel } from '../../src/channel/store.js';
import { generateKeyPair, loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import { signImage } from '../../src/signing/workflows.js';
import { envelopeOf, runBin } from '../helpers/cli.js';
import { entry, startDevWorld, type Developer, type DevWorld, type PublishedImage } from '../helpers/dev.js';
import { maybeUnset } from '../helpers/unset.js';

let w: DevWorld;
let dev: Developer;
let oldKey: SigningKey;
let v1: PublishedImage;
let v2: PublishedImage;
let platformConfig: string;

async function keyFiles(
  name: string,
  password: string,
): Promise<{ key: SigningKey; path: string; pub: string }> {
  const pair = await generateKeyPair(password);
  const path = join(w.dir, `${name}.key`);
  const pub = join(w.dir, `${name}.pub`);
  await writeFile(path, pair.privateKeyPem, { mode: 0o600 });
  await writeFile(pub, pair.publicKeyPem);
  return { key: await loadPrivateKey(pair.privateKeyPem, password, name), path, pub };
}

const ctl = (args: string[]) =>
  runBin('aiboxctl', ['--config', platformConfig, '--registry', `${w.host}/aibox`, ...args], {
    env: {
      HOME: w.dir,
      XDG_DATA_HOME: join(w.dir, 'platform-data'),
      COSIGN_PASSWORD: 'pw-old',
      AIBOX_NEW_KEY_PASSWORD: 'pw-new',
    },
  });

beforeAll(async () => {
  w = await startDevWorld('keyrot');
  const old = await keyFiles('old', 'pw-old');
  oldKey = old.key;
  await keyFiles('new', 'pw-new');
  platformConfig = join(w.dir, 'aibox.yaml');
  await writeFile(
    platformConfig,
    stringify({
      registry: { project: 'aibox' },
      scan: { scanner: 'none' },
      baseImage: 'docker.io/library/ubuntu:24.04',
      variants: { base: { tagPrefix: '24.04', from: null, containerfile: 'Containerfile' } },
      signing: {
        key: old.path,
        identity: 'platform-ci@aibox.internal',
        trustedKeys: [{ name: 'platform', path: old.pub }],
      },
    }),
  );
  v1 = await w.publishImage('base', '24.04-20260215', { content: 'one', sign: oldKey });
  await w.publishChannel([entry(v1)], { key: oldKey });
  dev = await w.developer('bob');
}, 240_000);
afterAll(async () => {
  await maybeUnset(w)?.dispose();
});

describe('key rotation reaches developers (no setup re-run)', () => {
  it('the developer trusts only the old key and has its image', async () => {
    const s = await dev.aibox(['setup', '--registry', `${w.host}/aibox`, '--key', join(w.dir, 'old.pub')]);
    expect(s.code, s.stderr).toBe(0);
    const u = await dev.aibox(['update']);
    expect(u.code, u.stderr).toBe(0);
    const c = await dev.aibox(['check']);
    expect(c.code, c.stderr).toBe(0);
  });

  it('after `keys rotate --compromised`, `aibox check` refuses the local image signed only by the retired key', async () => {
    // A newer promotion (signed with the old key), then the compromise response re-signs it and retires the old key.
    v2 = await w.publishImage('base', '24.04-20260222', { content: 'two', sign: oldKey });
    await w.publishChannel([entry(v2)], { key: oldKey });
    const r = await ctl([
      'keys',
      'rotate',
      '--new-key',
      join(w.dir, 'new.key'),
      '--compromised',
      '--yes',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(envelopeOf<{ published: { sequence: number } }>(r).data?.published.sequence).toBe(3);

    const c = await dev.aibox(['check']);
    expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(12);
    expect(c.stderr).toContain('ERROR: Image signature verification failed for aibox-base:24.04-20260215.');
  });

  it('`aibox update` then pulls the re-signed image, verified with the key learned from the channel', async () => {
    const u = await dev.aibox(['update']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toContain('Verifying signature... valid');
    const c = await dev.aibox(['check', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(envelopeOf<{ image: { digest: string } }>(c).data?.image.digest).toBe(v2.digest);
    const st = await dev.aibox(['status', '--json']);
    // The trust store the channel left: the old key kept as a retired tombstone, the new key trusted.
    const keys = envelopeOf<{ trustedKeys: { name: string; notAfter: string | null }[] }>(st).data
      ?.trustedKeys;
    expect(keys?.map((k) => [k.name, k.notAfter === null])).toEqual([
      ['old', false],
      [expect.stringMatching(/^cosign-\d{4}-\d{2}-\d{2}$/), true],
    ]);
  });

  describe('attacks on the announcement (the trust store does not change, nothing passes)', () => {
    /** Publish a channel on top of `current` announcing the attacker's key, signed by `signer` only. */
    async function announceAttacker(signer: SigningKey) {
      const repo = channelRepository(w.host, 'aibox');
      const head = await w.client.headManifest({ ...repo, tag: 'current' });
      const prev = (await readChannel(w.client, repo, { digest: head!.digest })).channel;
      const evil = w.evilKey.publicKey;
      const next = buildChannel(prev, [], new Date(), {
        keys: {
          add: [
            {
              keyId: evil.fingerprint,
              name: 'attacker',
              publicKey: evil.pem,
              notBefore: prev.issuedAt,
              notAfter: null,
            },
          ],
          retire: (prev.keys?.add ?? [])
            .filter((a) => a.keyId !== evil.fingerprint)
            .map((a) => ({ keyId: a.keyId, effective: prev.issuedAt })),
        },
      });
      await publishChannel(w.client, repo, next, {
        expectCurrent: head!.digest,
        sign: async (ref) => {
          await signImage({ client: w.client, ref, key: signer, signer: 'attacker', now: new Date() });
        },
      });
    }
    const trusted = async () =>
      (
        JSON.parse(await readFile(dev.statePath, 'utf8')) as {
          trusted?: { name: string; notAfter: string | null }[];
        }
      ).trusted;

    it('the stolen, retired old key announcing an attacker key: the channel is refused', async () => {
      const before = await trusted();
      await announceAttacker(oldKey);
      const c = await dev.aibox(['check']);
      expect(c.code).toBe(1);
      expect(c.stderr).toMatch(/release channel .* rejected: its signature does not verify/);
      expect(c.stderr).not.toMatch(/\n\s+at /);
      expect(await trusted()).toEqual(before);
    });

    it('an attacker key announced in a channel signed only by itself: the channel is refused', async () => {
      const before = await trusted();
      await announceAttacker(w.evilKey);
      const c = await dev.aibox(['check']);
      expect(c.code).toBe(1);
      expect(c.stderr).toMatch(/release channel .* rejected: its signature does not verify/);
      expect(await trusted()).toEqual(before);
    });
  });
});
