/**
 * `aiboxctl keys rotate --new-key … [--compromised]` in-process against a real docker-registry, checked with real
 * cosign: the re-signed images and the announcing channel verify with the NEW cosign.pub, and a developer machine
 * that trusted only the old key applies the announcement (src/channel/keys.ts) and from then on refuses an image
 * signed only by the retired key — without re-running setup.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/app.js';
import { registerKeysCommands } from '../../src/cli/commands/keys.js';
import { applyKeyAnnouncements } from '../../src/channel/keys.js';
import { memoryChannelState } from '../../src/channel/state.js';
import { channelRepository, readChannel } from '../../src/channel/store.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { promote, type CheckedCandidate } from '../../src/pipeline/promote.js';
import { loadPrivateKey, loadPublicKey, type SigningKey } from '../../src/signing/keys.js';
import type { TrustedKey } from '../../src/signing/trust.js';
import { signImage, verifyImage } from '../../src/signing/workflows.js';
import { envelopeOf, jsonError, jsonOf } from '../helpers/cli.js';
import { cosignVerify, getCosign, pushTinyImage } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const PW_OLD = 'pw-rotate-old';
const PW_NEW = 'pw-rotate-new';
const VARIANTS = ['base', 'node'];
let reg: TestRegistry;
let client: RegistryClient;
let dir: string;
let oldKey: SigningKey;
const enc = (s: string) => new TextEncoder().encode(s);

async function ctl(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(
    'aiboxctl',
    [registerKeysCommands],
    ['--config', join(dir, 'aibox.yaml'), '--registry', `${reg.host}/aibox`, ...args],
    {
      io: { out: (s) => void (out += s), err: (s) => void (err += s) },
      env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), COSIGN_PASSWORD: PW_OLD, ...env },
      cwd: dir,
    },
  );
  return { code, out, err };
}

const chan = () => channelRepository(reg.host, 'aibox');
const current = async () => (await client.headManifest({ ...chan(), tag: 'current' }))?.digest ?? null;

/** A tiny image for a variant, signed with the old key and recorded as scanned, as a promotion leaves it. */
async function variantImage(variant: string, tag: string): Promise<CheckedCandidate> {
  const ref = { registry: reg.host, repository: `aibox/${variant}` };
  const created = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const cfg = await client.pushBlob(
    ref,
    enc(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'org.opencontainers.image.created': created } },
      }),
    ),
  );
  const lay = await client.pushBlob(ref, enc(`layer-${variant}-${tag}`));
  const manifest = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: lay.digest, size: lay.size }],
    }),
  );
  const d = await client.putManifest({ ...ref, tag }, manifest, MediaTypes.OCI_MANIFEST);
  await signImage({
    client,
    ref: { ...ref, digest: d.digest },
    key: oldKey,
    signer: 'platform@test',
    annotations: { 'dev.aibox.scan': 'passed' },
    now: new Date(),
  });
  return {
    variant,
    repository: ref.repository,
    tag,
    digest: d.digest,
    created,
    mandatoryUpdate: false,
    minImageDate: '',
    baseDigest: null,
    scan: 'passed',
  };
}

const oldTrust = (): TrustedKey[] => [
  { name: 'platform', publicKey: oldKey.publicKey, notBefore: null, notAfter: null, createdAt: null },
];

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {}, retries: 1 });
  dir = await mkdtemp(join(tmpdir(), 'aibox-keys-rotate-'));
  expect((await ctl(['keys', 'generate', '--output-dir', 'old'])).code).toBe(0);
  expect((await ctl(['keys', 'generate', '--output-dir', 'new'], { COSIGN_PASSWORD: PW_NEW })).code).toBe(0);
  oldKey = await loadPrivateKey(await readFile(join(dir, 'old/cosign.key'), 'utf8'), PW_OLD, 'old');
  await writeFile(
    join(dir, 'aibox.yaml'),
    stringify({
      registry: { project: 'aibox' },
      scan: { scanner: 'none' },
      baseImage: 'docker.io/library/ubuntu:24.04',
      variants: Object.fromEntries(
        VARIANTS.map((v) => [v, { tagPrefix: '24.04', from: null, containerfile: 'Containerfile' }]),
      ),
      signing: {
        key: join(dir, 'old/cosign.key'),
        identity: 'platform@test',
        trustedKeys: [{ name: 'platform', path: join(dir, 'old/cosign.pub') }],
      },
    }),
  );
  const candidates = [];
  for (const v of VARIANTS) candidates.push(await variantImage(v, '24.04-20260222'));
  await promote(
    {
      store: client,
      host: reg.host,
      project: 'aibox',
      key: oldKey,
      signer: 'platform@test',
      trust: oldTrust(),
      now: () => new Date(),
      channelState: memoryChannelState(),
    },
    candidates,
  );
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('aiboxctl keys rotate --new-key (real registry, real cosign)', () => {
  it('refuses bad input with exit 2 before touching the registry', async () => {
    const before = await current();
    const noKey = await ctl(['keys', 'rotate', '--compromised', '--yes', '--json']);
    expect(noKey.code).toBe(2);
    expect(jsonError(noKey).message).toMatch(/need --new-key/);
    const same = await ctl(['keys', 'rotate', '--new-key', 'old/cosign.key', '--yes']);
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/the new key is the current signing key/);
    const days = await ctl(['keys', 'rotate', '--new-key', 'new/cosign.key', '--overlap-days', 'x'], {
      AIBOX_NEW_KEY_PASSWORD: PW_NEW,
    });
    expect(days.code).toBe(2);
    const wrongPw = await ctl(['keys', 'rotate', '--new-key', 'new/cosign.key', '--yes'], {
      AIBOX_NEW_KEY_PASSWORD: 'nope',
    });
    expect(wrongPw.code).not.toBe(0);
    expect(wrongPw.err).not.toMatch(/\n\s+at /); // never a stack trace
    expect(await current()).toBe(before);
  });

  it('--compromised dry run shows the plan and changes nothing', async () => {
    const before = await current();
    const r = await ctl(['keys', 'rotate', '--new-key', 'new/cosign.key', '--compromised', '--json'], {
      AIBOX_NEW_KEY_PASSWORD: PW_NEW,
    });
    expect(r.code, r.err).toBe(0);
    const d = jsonOf<{ published: null; resign: { status: string }[]; next: { sequence: number } }>(r);
    expect(d.published).toBeNull();
    expect(d.resign.map((x) => x.status)).toEqual(['pending', 'pending']);
    expect(d.next.sequence).toBe(2);
    expect(await current()).toBe(before);
  });

  it('--compromised --yes: cosign verifies every image and the channel with the new key; clients retire the old', async () => {
    const cosign = await getCosign();
    const r = await ctl(
      [
        'keys',
        'rotate',
        '--new-key',
        'new/cosign.key',
        '--name',
        'cosign-2027',
        '--compromised',
        '--yes',
        '--json',
      ],
      { AIBOX_NEW_KEY_PASSWORD: PW_NEW },
    );
    expect(r.code, r.err).toBe(0);
    const env = envelopeOf<{ published: { sequence: number; digest: string } }>(r);
    expect(env.data?.published.sequence).toBe(2);
    expect(await current()).toBe(env.data?.published.digest);
    const { channel, digest } = await readChannel(client, chan(), { digest: env.data!.published.digest });
    expect(channel.keys?.retire.map((x) => x.keyId)).toEqual([oldKey.publicKey.fingerprint]);

    const newPub = join(dir, 'new/cosign.pub');
    const images = VARIANTS.map((v) => `${reg.host}/aibox/${v}@${channel.variants[v]!.digest}`);
    if (cosign) {
      for (const image of [...images, `${reg.host}/aibox/channel@${digest}`]) {
        const v = await cosignVerify(cosign, newPub, image, { cwd: dir });
        expect(v.code, `${image}: ${v.stderr}`).toBe(0);
      }
    }

    // A developer machine that trusted only the old key: verify the channel, apply, check the images.
    const now = new Date();
    const ver = await verifyImage({ client, ref: { ...chan(), digest }, trustedKeys: oldTrust(), now });
    expect(ver.ok).toBe(true);
    const applied = applyKeyAnnouncements(oldTrust(), channel, oldTrust()[0]!, now);
    expect(applied.added).toHaveLength(1);
    expect(applied.retired).toHaveLength(1);
    const later = new Date(now.getTime() + 1000);
    for (const v of VARIANTS) {
      const ok = await verifyImage({
        client,
        ref: { registry: reg.host, repository: `aibox/${v}`, digest: channel.variants[v]!.digest },
        trustedKeys: applied.trusted,
        now: later,
      });
      expect(ok.ok, v).toBe(true);
      expect(ok.verified[0]?.keyFingerprint).toBe(
        loadPublicKey(await readFile(newPub, 'utf8'), 'new').fingerprint,
      );
    }
    // An image signed only by the retired key (e.g. with the stolen key, after the rotation) is refused.
    const evil = await pushTinyImage(client, reg.host, 'aibox/base', 'evil', 'evil');
    await signImage({
      client,
      ref: { registry: reg.host, repository: 'aibox/base', digest: evil },
      key: oldKey,
      signer: 'x',
      now: new Date(),
    });
    const refused = await verifyImage({
      client,
      ref: { registry: reg.host, repository: 'aibox/base', digest: evil },
      trustedKeys: applied.trusted,
      now: later,
    });
    expect(refused.ok).toBe(false);
    expect(refused.rejected.map((x) => x.reason).join('; ')).toMatch(/retired/);
  });

  it('a re-run publishes nothing and reports every image as already signed', async () => {
    const before = await current();
    const r = await ctl(
      ['keys', 'rotate', '--new-key', 'new/cosign.key', '--name', 'cosign-2027', '--compromised', '--yes'],
      { AIBOX_NEW_KEY_PASSWORD: PW_NEW },
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/nothing to publish: sequence 2 already announces this rotation/);
    expect(r.out.match(/already-signed/g)).toHaveLength(2);
    expect(await current()).toBe(before);
  });
});
