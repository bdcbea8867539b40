/**
 * `aiboxctl channel show`, `aiboxctl channel repair` and the channel part of `aiboxctl status`, in-process against
 * a real registry: never "valid"/"yes" for an unsigned channel, a WARNING when the channel's sequence is lower than
 * the one this machine saw, and an explicit, verified repair (dry run by default, --yes to publish, --json).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/app.js';
import { registerChannelCommands } from '../../src/cli/commands/channel.js';
import { registerKeysCommands } from '../../src/cli/commands/keys.js';
import { registerSigningCommands } from '../../src/cli/commands/signing.js';
import { registerStatusCommands } from '../../src/cli/commands/status.js';
import { memoryChannelState } from '../../src/channel/state.js';
import {
  channelManifest,
  channelRepository,
  EMPTY_CONFIG_BYTES,
  historyTag,
} from '../../src/channel/store.js';
import type { Channel } from '../../src/channel/channel.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { promote, type CheckedCandidate } from '../../src/pipeline/promote.js';
import { loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import { signImage } from '../../src/signing/workflows.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const PW = 'pw-channel-cli';
let reg: TestRegistry;
let client: RegistryClient;
let dir: string;
let key: SigningKey;
const enc = (s: string) => new TextEncoder().encode(s);

async function ctl(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(
    'aiboxctl',
    [registerKeysCommands, registerSigningCommands, registerChannelCommands, registerStatusCommands],
    ['--config', join(dir, 'aibox.yaml'), '--registry', `${reg.host}/aibox`, ...args],
    {
      io: { out: (s) => void (out += s), err: (s) => void (err += s) },
      env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), COSIGN_PASSWORD: PW },
      cwd: dir,
    },
  );
  return { code, out, err };
}

const repo = () => channelRepository(reg.host, 'aibox');
const current = async () => (await client.headManifest({ ...repo(), tag: 'current' }))?.digest ?? null;

/** A tiny image for base, signed with the platform key and recorded as scanned. */
async function baseImage(tag: string): Promise<CheckedCandidate> {
  const ref = { registry: reg.host, repository: 'aibox/base' };
  const created = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const cfg = await client.pushBlob(
    ref,
    enc(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          Labels: { 'org.opencontainers.image.created': created, 'org.opencontainers.image.version': tag },
        },
      }),
    ),
  );
  const lay = await client.pushBlob(ref, enc(`layer-${tag}`));
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
    key,
    signer: 'platform@test',
    annotations: { 'dev.aibox.scan': 'passed' },
    now: new Date(),
  });
  return {
    variant: 'base',
    repository: 'aibox/base',
    tag,
    digest: d.digest,
    created,
    mandatoryUpdate: false,
    minImageDate: '',
    baseDigest: null,
    scan: 'passed',
  };
}

const trust = () => [
  { name: 'platform', publicKey: key.publicKey, notBefore: null, notAfter: null, createdAt: null },
];
/** Promote through the workflow, as another CI machine would (its own local state). */
const promoteOn = async (c: CheckedCandidate) =>
  promote(
    {
      store: client,
      host: reg.host,
      project: 'aibox',
      key,
      signer: 'platform@test',
      trust: trust(),
      now: () => new Date(),
      channelState: memoryChannelState(),
    },
    [c],
  );

async function pushUnsigned(doc: unknown): Promise<string> {
  const bytes = enc(`${JSON.stringify(doc, null, 2)}\n`);
  await client.pushBlob(repo(), EMPTY_CONFIG_BYTES, { mediaType: MediaTypes.OCI_EMPTY });
  const layer = await client.pushBlob(repo(), bytes, { mediaType: 'application/vnd.aibox.channel.v1+json' });
  const manifest = channelManifest(doc as Channel, {
    mediaType: 'application/vnd.aibox.channel.v1+json',
    digest: layer.digest,
    size: layer.size,
  });
  await client.putManifest({ ...repo(), tag: 'current' }, manifest, MediaTypes.OCI_MANIFEST);
  return sha256Digest(manifest);
}

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {}, retries: 1 });
  dir = await mkdtemp(join(tmpdir(), 'aibox-channel-cli-'));
  expect((await ctl(['keys', 'generate', '--output-dir', 'k'])).code).toBe(0);
  key = await loadPrivateKey(await readFile(join(dir, 'k/cosign.key'), 'utf8'), PW, 'test');
  await writeFile(
    join(dir, 'aibox.yaml'),
    stringify({
      registry: { project: 'aibox' },
      scan: { scanner: 'none' },
      baseImage: 'docker.io/library/ubuntu:24.04',
      variants: { base: { tagPrefix: '24.04', from: null, containerfile: 'Containerfile' } },
      signing: {
        key: join(dir, 'k/cosign.key'),
        trustedKeys: [{ name: 'test', path: join(dir, 'k/cosign.pub') }],
      },
    }),
  );
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('channel show / status / channel repair', () => {
  let seq1: { digest: string; channel: Channel };
  let seq2Digest = '';

  it('a verified channel: status says yes, channel show says valid', async () => {
    const p1 = await promoteOn(await baseImage('24.04-20260222'));
    seq1 = p1.channel;
    const p2 = await promoteOn(await baseImage('24.04-20260301'));
    seq2Digest = p2.channel.digest;
    const show = await ctl(['channel', 'show']);
    expect(show.out).toMatch(/Status: {4}valid/);
    expect(show.code).toBe(0);
    const st = await ctl(['status', '--no-scan']);
    expect(st.out).toMatch(/^base .* yes$/m);
    expect(st.code).toBe(0);
  });

  it('an older, validly signed sequence at current: channel show and status WARN (this machine saw 2)', async () => {
    const { bytes } = await client.getManifest({ ...repo(), digest: seq1.digest });
    await client.putManifest({ ...repo(), tag: 'current' }, bytes, MediaTypes.OCI_MANIFEST);
    const show = await ctl(['channel', 'show']);
    expect(show.out).toMatch(/WARNING: channel sequence 1 is lower than sequence 2 .* this machine saw/);
    expect(show.code).toBe(1);
    const st = await ctl(['status', '--no-scan', '--json']);
    const report = JSON.parse(st.out).data;
    expect(report.ok).toBe(false);
    expect(report.channelWarnings.join('\n')).toMatch(/lower than sequence 2/);
    // put sequence 2 back
    const back = await client.getManifest({ ...repo(), digest: seq2Digest });
    await client.putManifest({ ...repo(), tag: 'current' }, back.bytes, MediaTypes.OCI_MANIFEST);
  });

  it('an unsigned channel naming the same digests: never "valid", never "yes"', async () => {
    const read = await ctl(['channel', 'show', '--json']);
    const doc = JSON.parse(read.out).data.channel as Channel;
    const evil = await pushUnsigned({ ...doc, sequence: 3 });
    const show = await ctl(['channel', 'show']);
    expect(show.out).not.toMatch(/Status: {4}valid/);
    expect(show.out).toMatch(/Status: {4}SIGNATURE_INVALID/);
    expect(show.code).toBe(1);
    const st = await ctl(['status', '--no-scan']);
    expect(st.out).not.toMatch(/\byes\b/);
    expect(st.out).toMatch(/PROBLEM: signature does not verify/);
    expect(st.code).toBe(1);
    expect(await current()).toBe(evil);
  });

  it('channel repair: usage checked first, dry run by default, --yes --json publishes above everything known', async () => {
    const bad = await ctl(['channel', 'repair', '--from-sequence', '2^53']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--from-sequence must be a channel sequence number/);

    const missing = await ctl(['channel', 'repair', '--from-sequence', '9']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot repair .* from sequence 9: no history entry .*seq-9/);

    const evil = await current();
    const dry = await ctl(['channel', 'repair', '--from-sequence', '2']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/current: +sha256:[0-9a-f]{64}: NOT TRUSTED: no valid signature/);
    expect(dry.out).toMatch(/publishes: +sequence 3/);
    expect(dry.out).toMatch(/dry run: nothing published/);
    expect(await current()).toBe(evil);

    const done = await ctl(['--json', 'channel', 'repair', '--from-sequence', '2', '--yes']);
    expect(done.code).toBe(0);
    const r = JSON.parse(done.out).data;
    expect(r.from).toMatchObject({ sequence: 2, source: 'history', digest: seq2Digest });
    expect(r.published.sequence).toBe(3);
    expect(await current()).toBe(r.published.digest);
    expect((await client.headManifest({ ...repo(), tag: historyTag(3) }))?.digest).toBe(r.published.digest);
    const show = await ctl(['channel', 'show']);
    expect(show.out).toMatch(/Sequence: {2}3/);
    expect(show.out).toMatch(/Status: {4}valid/);
    // the local state remembers the repair
    const state = JSON.parse(await readFile(join(dir, 'data/aibox/channel-state.json'), 'utf8'));
    expect(state.channels[`${reg.host}/aibox`].published.sequence).toBe(3);
  });
});
