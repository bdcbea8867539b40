/**
 * Issue 7 §1 attack cases against a real CNCF distribution registry, through the promotion workflow
 * (`promote`, what `aiboxctl promote` and `aiboxctl rebuild` call) and `repairChannel`. The attacker has push rights
 * to the channel repository and no key: every tampered `current` must be refused with what was found, nothing may
 * move, and `channel repair` must restore a signed channel above anything the attacker wrote.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Channel } from '../../src/channel/channel.js';
import { repairChannel, type ChannelPublisherDeps } from '../../src/channel/publisher.js';
import { memoryChannelState, type ChannelStateStore } from '../../src/channel/state.js';
import {
  channelManifest,
  channelRepository,
  EMPTY_CONFIG_BYTES,
  historyTag,
  readChannel,
} from '../../src/channel/store.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { generateKeyPair, loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import type { TrustedKey } from '../../src/signing/trust.js';
import { promote, type CheckedCandidate, type PromotionDeps } from '../../src/pipeline/promote.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

let reg: TestRegistry;
let client: RegistryClient;
let key: SigningKey;
let trust: TrustedKey[];
const enc = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {}, retries: 1 });
  const pair = await generateKeyPair('pw');
  key = await loadPrivateKey(pair.privateKeyPem, 'pw', 'test key');
  trust = [{ name: 'platform', publicKey: key.publicKey, notBefore: null, notAfter: null, createdAt: null }];
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
});

const ATTACKER = `sha256:${'e'.repeat(64)}`;
let project = '';
let n = 0;
let state: ChannelStateStore;
beforeEach(() => {
  project = `p${++n}`;
  state = memoryChannelState();
});

/** Push a tiny image under repository:tag and return its candidate (as checkAll would). */
async function image(variant: string, tag: string, floor?: string): Promise<CheckedCandidate> {
  const repository = `${project}/${variant}`;
  const ref = { registry: reg.host, repository };
  const cfg = await client.pushBlob(ref, enc(JSON.stringify({ architecture: 'amd64', os: 'linux', tag })));
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
  return {
    variant,
    repository,
    tag,
    digest: d.digest,
    created: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    mandatoryUpdate: floor !== undefined,
    minImageDate: floor ?? '',
    baseDigest: null,
    scan: 'passed',
  };
}

function deps(s: ChannelStateStore = state): PromotionDeps {
  return {
    store: client,
    host: reg.host,
    project,
    key,
    signer: 'platform@test',
    trust,
    now: () => new Date(),
    channelState: s,
  };
}
const pdeps = (s: ChannelStateStore = state): ChannelPublisherDeps => ({ ...deps(s), state: s });

/** Week 1: base (with a mandatory floor) and java, promoted: channel sequence 1. */
async function week(tag: string, floor?: string): Promise<CheckedCandidate[]> {
  return [await image('base', `24.04-${tag}`, floor), await image('java', `21-24.04-${tag}`)];
}

const repo = () => channelRepository(reg.host, project);
const current = async () => (await client.headManifest({ ...repo(), tag: 'current' }))?.digest ?? null;
const latest = async (variant: string) =>
  (await client.headManifest({ registry: reg.host, repository: `${project}/${variant}`, tag: 'latest' }))
    ?.digest ?? null;

/** What an attacker with push rights (no key) does: push a channel artifact and move `current` to it. */
async function pushUnsigned(doc: unknown, alsoTag?: string): Promise<string> {
  const bytes = enc(`${JSON.stringify(doc, null, 2)}\n`);
  await client.pushBlob(repo(), EMPTY_CONFIG_BYTES, { mediaType: MediaTypes.OCI_EMPTY });
  const layer = await client.pushBlob(repo(), bytes, { mediaType: 'application/vnd.aibox.channel.v1+json' });
  const manifest = channelManifest(doc as Channel, {
    mediaType: 'application/vnd.aibox.channel.v1+json',
    digest: layer.digest,
    size: layer.size,
  });
  const digest = sha256Digest(manifest);
  await client.putManifest({ ...repo(), tag: 'current' }, manifest, MediaTypes.OCI_MANIFEST);
  if (alsoTag) await client.putManifest({ ...repo(), tag: alsoTag }, manifest, MediaTypes.OCI_MANIFEST);
  return digest;
}

/** The published state a client trusts: every latest and current. */
const snapshot = async () => ({
  base: await latest('base'),
  java: await latest('java'),
  current: await current(),
});

describe('a tampered channel:current is never built on', () => {
  it('unsigned current with an attacker digest, an extra variant and a removed floor: refused, then repaired', async () => {
    const w1 = await week('20260222', '2026-02-20');
    const p1 = await promote(deps(), w1);
    expect(p1.channel.sequence).toBe(1);
    expect(p1.channel.channel.variants.base?.mandatoryUpdate).toBe(true);

    const c1 = p1.channel.channel;
    const evil = {
      ...c1,
      sequence: 51,
      variants: {
        base: { ...c1.variants.base!, mandatoryUpdate: false, minImageDate: null, minImageCreated: null },
        java: { ...c1.variants.java!, digest: ATTACKER },
        evil: { ...c1.variants.java!, digest: ATTACKER },
      },
    };
    const evilDigest = await pushUnsigned(evil);
    const before = await snapshot();

    const w2 = await week('20260301');
    const err = await promote(deps(), w2).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringContaining(`(${evilDigest}): no valid signature from a trusted key`),
      hint: expect.stringContaining('aiboxctl channel repair --from-sequence 1'),
    });
    // nothing moved, nothing signed by the platform key on top of the attacker's document
    expect(await snapshot()).toEqual(before);
    expect(await client.headManifest({ ...repo(), tag: historyTag(2) })).toBeNull();
    expect(await client.headManifest({ ...repo(), tag: historyTag(52) })).toBeNull();

    // a dry run shows the plan and publishes nothing
    const plan = await repairChannel(pdeps(), { fromSequence: 1, apply: false });
    expect(plan.published).toBeUndefined();
    expect(plan.plan.current).toMatchObject({ state: 'untrusted', digest: evilDigest });
    expect(plan.plan.from).toMatchObject({ sequence: 1, source: 'history', digest: p1.channel.digest });
    expect(plan.plan.next.sequence).toBe(2);
    expect(await current()).toBe(evilDigest);

    const fixed = await repairChannel(pdeps(), { fromSequence: 1, apply: true });
    expect(fixed.published?.sequence).toBe(2);
    const r2 = await readChannel(client, repo());
    expect(r2.digest).toBe(fixed.published?.digest);
    expect(Object.keys(r2.channel.variants).sort()).toEqual(['base', 'java']);
    expect(r2.channel.variants.java?.digest).toBe(c1.variants.java?.digest);
    expect(r2.channel.variants.base).toMatchObject({ mandatoryUpdate: true, minImageDate: '2026-02-20' });

    // and the next promotion builds on the repaired, signed channel, floor carried
    const p3 = await promote(deps(), w2);
    expect(p3.channel.sequence).toBe(3);
    expect(p3.channel.channel.variants.base).toMatchObject({
      mandatoryUpdate: true,
      minImageDate: '2026-02-20',
    });
    expect(await latest('java')).toBe(w2[1]!.digest);
  });

  it('current re-tagged back to an older, validly signed sequence: refused by the history, and by local state alone', async () => {
    const p1 = await promote(deps(), await week('20260222', '2026-02-20'));
    const p2 = await promote(deps(), await week('20260301'));
    expect(p2.channel.sequence).toBe(2);
    // the attacker points current at sequence 1's (signed) manifest
    const { bytes } = await client.getManifest({ ...repo(), digest: p1.channel.digest });
    await client.putManifest({ ...repo(), tag: 'current' }, bytes, MediaTypes.OCI_MANIFEST);
    const before = await snapshot();
    const w3 = await week('20260308');

    // another machine (no local state) is stopped by the registry history
    await expect(promote(deps(memoryChannelState()), w3)).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringMatching(/it is sequence 1 .*older than sequence 2 .*registry history seq-2/),
    });
    // with the history deleted too, this machine's own record still refuses
    await client.deleteManifest({ ...repo(), tag: historyTag(2) }).catch(() => undefined);
    await client.deleteManifest({ ...repo(), digest: p2.channel.digest });
    expect(await client.headManifest({ ...repo(), tag: historyTag(2) })).toBeNull();
    await expect(promote(deps(), w3)).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringMatching(/older than sequence 2 .*this machine's channel state/),
    });
    expect(await snapshot()).toEqual(before);

    // repair from 1 publishes sequence 3 (above everything known), never a second sequence 2
    const fixed = await repairChannel(pdeps(), { fromSequence: 1, apply: true });
    expect(fixed.published?.sequence).toBe(3);
    expect((await promote(deps(), w3)).channel.sequence).toBe(4);
  });

  it.each([
    ['sequence 2^53-1', (c: Channel) => ({ ...c, sequence: Number.MAX_SAFE_INTEGER })],
    [
      'issuedAt in the future',
      (c: Channel) => ({
        ...c,
        sequence: 2,
        issuedAt: '2999-01-01T00:00:00Z',
        expiresAt: '2999-01-15T00:00:00Z',
      }),
    ],
  ])('unsigned current with %s: refused, and cannot block publishing (repair)', async (_name, tamper) => {
    const p1 = await promote(deps(), await week('20260222'));
    // the attacker also plants a bogus history entry far above
    const evilDigest = await pushUnsigned(tamper(p1.channel.channel), historyTag(999));
    await expect(promote(deps(), await week('20260301'))).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringContaining(evilDigest),
    });
    const fixed = await repairChannel(pdeps(), { fromSequence: 1, apply: true });
    expect(fixed.published?.sequence).toBe(2);
    expect(fixed.plan.skipped.join('\n')).toMatch(/seq-999: no valid signature/);
    const p3 = await promote(deps(), await week('20260308'));
    expect(p3.channel.sequence).toBe(3);
    expect(await current()).toBe(p3.channel.digest);
  });

  it('repair refuses a sequence without a verified history entry, and moves nothing', async () => {
    const p1 = await promote(deps(), await week('20260222'));
    const evil = await pushUnsigned({ ...p1.channel.channel, sequence: 7 }, historyTag(7));
    await expect(repairChannel(pdeps(), { fromSequence: 7, apply: true })).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringMatching(/cannot repair .* from sequence 7: no valid signature/),
    });
    await expect(repairChannel(pdeps(), { fromSequence: 5, apply: true })).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringMatching(/no history entry/),
    });
    expect(await current()).toBe(evil);
  });

  it('a missing current after a publication is refused, not restarted at sequence 1', async () => {
    const p1 = await promote(deps(), await week('20260222', '2026-02-20'));
    await client.deleteManifest({ ...repo(), digest: p1.channel.digest });
    expect(await current()).toBeNull();
    await expect(promote(deps(), await week('20260301'))).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
      message: expect.stringMatching(/is missing, but sequence 1 .* was published/),
    });
    // the history entry went with the manifest: repair has nothing verified to restore from, and says so
    await expect(repairChannel(pdeps(), { fromSequence: 1, apply: false })).rejects.toMatchObject({
      code: 'CHANNEL_REJECTED',
    });
  });
});
