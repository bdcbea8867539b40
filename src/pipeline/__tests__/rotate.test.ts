/**
 * `aiboxctl keys rotate --new-key` (planned and --compromised) on the in-memory registry: what the announcement
 * publishes, what a client does with it (channel/keys.ts), and a fault at every registry call — after each, clients
 * still accept the channel and every image it names, and a re-run converges.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyKeyAnnouncements } from '../../channel/keys.js';
import { channelRepository, readChannel } from '../../channel/store.js';
import type { Channel } from '../../channel/channel.js';
import { failNthCall, type CallHook } from '../../oci/memory-store.js';
import { publicKeyMaterial, type SigningKey } from '../../signing/keys.js';
import type { TrustedKey } from '../../signing/trust.js';
import { verifyImage } from '../../signing/workflows.js';
import { runKeyRotation, type KeyRotationRequest } from '../rotate.js';
import {
  forks,
  HOST,
  newWorld,
  NEW,
  OLD,
  PROJECT,
  rebuild,
  signByHand,
  trustOf,
  type World,
} from './world.js';
import { runChannelRepair } from '../channel-repair.js';
import { acquirePipelineLock } from '../lock.js';
import { runRebuild } from '../run.js';

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

const K2: SigningKey = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: publicKeyMaterial(publicKey) };
})();
const repo = channelRepository(HOST, PROJECT);
const req = (o: Partial<KeyRotationRequest> = {}): KeyRotationRequest => ({
  newKey: async () => K2,
  newKeyName: 'cosign-2027',
  compromised: false,
  overlapDays: 30,
  apply: true,
  ...o,
});

async function published(w: World): Promise<{ digest: string; channel: Channel }> {
  w.store.setHooks({ beforeCall: undefined, afterCall: undefined });
  const head = await w.store.headManifest({ ...repo, tag: 'current' });
  const r = await readChannel(w.store, repo, { digest: head!.digest });
  return { digest: r.digest, channel: r.channel };
}

/** What a developer machine that trusted only the old key does on its next check: verify, apply, verify images. */
async function client(w: World, at: Date) {
  const { digest, channel } = await published(w);
  const trusted: TrustedKey[] = trustOf(w.key);
  const ver = await verifyImage({ client: w.store, ref: { ...repo, digest }, trustedKeys: trusted, now: at });
  const signer = trusted.find((k) => k.publicKey.fingerprint === ver.verified[0]?.keyFingerprint);
  const applied = signer ? applyKeyAnnouncements(trusted, channel, signer, at) : undefined;
  const images: Record<string, boolean> = {};
  for (const [v, x] of Object.entries(channel.variants)) {
    const r = await verifyImage({
      client: w.store,
      ref: { registry: HOST, repository: `${PROJECT}/${v}`, digest: x.digest },
      trustedKeys: applied?.trusted ?? trusted,
      now: at,
    });
    images[v] = r.ok;
  }
  return { channelOk: ver.ok, channel, applied, images, trust: applied?.trusted ?? trusted };
}

async function world(): Promise<World> {
  const w = await newWorld();
  worlds.push(w);
  const r = await rebuild(w, OLD);
  expect(r.record.result, JSON.stringify(r.record.failure)).toBe('success');
  return w;
}

describe('keys rotate --new-key (planned rotation)', () => {
  it('dry run: shows the announcement, publishes nothing', async () => {
    const w = await world();
    const before = await published(w);
    const r = await runKeyRotation(w.deps, req({ apply: false }));
    expect(r.published).toBeNull();
    expect(r.next?.sequence).toBe(before.channel.sequence + 1);
    expect(r.keys.add.map((a) => a.keyId)).toEqual([K2.publicKey.fingerprint]);
    expect((await published(w)).digest).toBe(before.digest);
  });

  it('publishes a new sequence signed by both keys; clients add the new key and retire the old after the overlap', async () => {
    const w = await world();
    const before = await published(w);
    const r = await runKeyRotation(w.deps, req());
    const after = await published(w);
    expect(after.channel.sequence).toBe(before.channel.sequence + 1);
    expect(after.channel.variants).toEqual(before.channel.variants);
    expect(r.published?.digest).toBe(after.digest);
    const now = new Date(w.clock());
    const byNew = await verifyImage({
      client: w.store,
      ref: { ...repo, digest: after.digest },
      trustedKeys: [
        { name: 'new', publicKey: K2.publicKey, notBefore: null, notAfter: null, createdAt: null },
      ],
      now,
    });
    expect(byNew.ok).toBe(true);
    const c = await client(w, now);
    expect(c.channelOk).toBe(true);
    expect(c.applied?.added).toEqual([`${K2.publicKey.fingerprint} (cosign-2027)`]);
    const old = c.trust.find((k) => k.publicKey.fingerprint === w.key.publicKey.fingerprint);
    expect(old?.notAfter?.getTime()).toBe(Date.parse(r.keys.retire[0]!.effective));
    expect(old!.notAfter!.getTime() - now.getTime()).toBeGreaterThan(29 * 86_400_000);
    // Images signed only by the old key still verify during the overlap.
    expect(Object.values(c.images).every(Boolean)).toBe(true);
  });

  it('a re-run publishes nothing: the announcement is already current', async () => {
    const w = await world();
    await runKeyRotation(w.deps, req());
    const mid = await published(w);
    const r = await runKeyRotation(w.deps, req());
    expect(r.alreadyCurrent).toBe(true);
    expect(r.published).toBeNull();
    expect((await published(w)).digest).toBe(mid.digest);
  });

  it('takes the pipeline lock: refused (LOCKED) while a promotion holds it, nothing published', async () => {
    const w = await world();
    const before = await published(w);
    const held = await acquirePipelineLock(
      join(w.deps.dataDir, 'locks'),
      `${HOST}/${PROJECT}`,
      'promote-run',
      new Date(),
    );
    try {
      await expect(runKeyRotation(w.deps, req())).rejects.toMatchObject({ code: 'LOCKED' });
    } finally {
      await held.release();
    }
    expect((await published(w)).digest).toBe(before.digest);
  });

  it('refuses the current key as the new key, before publishing anything', async () => {
    const w = await world();
    const before = await published(w);
    await expect(runKeyRotation(w.deps, req({ newKey: async () => w.key }))).rejects.toMatchObject({
      code: 'USAGE',
    });
    expect((await published(w)).digest).toBe(before.digest);
  });
});

describe('keys rotate --compromised', () => {
  it('re-signs every image the channel names and retires the old key in the same sequence', async () => {
    const w = await world();
    const before = await published(w);
    const r = await runKeyRotation(w.deps, req({ compromised: true }));
    expect(r.resign.map((x) => x.status)).toEqual(['signed', 'signed', 'signed']);
    const after = await published(w);
    expect(after.channel.sequence).toBe(before.channel.sequence + 1);
    const at = new Date(w.clock() + 1000);
    const c = await client(w, at);
    expect(c.channelOk).toBe(true);
    expect(c.applied?.retired).toEqual([`${w.key.publicKey.fingerprint} (test)`]);
    expect(c.images).toEqual({ app: true, base: true, tool: true });
    // The re-signed signature carries the original's annotations (the scan result the promotion checked).
    const base = after.channel.variants.base!;
    const newOnly = await verifyImage({
      client: w.store,
      ref: { registry: HOST, repository: `${PROJECT}/base`, digest: base.digest },
      trustedKeys: [
        { name: 'new', publicKey: K2.publicKey, notBefore: null, notAfter: null, createdAt: null },
      ],
      now: at,
    });
    const oldOnly = await verifyImage({
      client: w.store,
      ref: { registry: HOST, repository: `${PROJECT}/base`, digest: base.digest },
      trustedKeys: trustOf(w.key),
      now: at,
    });
    const strip = (o: Record<string, unknown> | null | undefined) => {
      const { signer: _s, timestamp: _t, ...rest } = o ?? {};
      return rest;
    };
    expect(strip(newOnly.verified[0]?.payload?.optional)).toEqual(
      strip(oldOnly.verified[0]?.payload?.optional),
    );
    expect(Object.keys(strip(oldOnly.verified[0]?.payload?.optional)).length).toBeGreaterThan(0);
  });

  it('after it, a client refuses an image signed only by the retired key', async () => {
    const w = await world();
    await runKeyRotation(w.deps, req({ compromised: true }));
    const at = new Date(w.clock() + 1000);
    const c = await client(w, at);
    // An image the attacker signed with the stolen key after the rotation.
    const digest = c.channel.variants.base!.digest;
    const evil = await w.store.getManifest({ registry: HOST, repository: `${PROJECT}/base`, digest });
    const parsed = JSON.parse(new TextDecoder().decode(evil.bytes)) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    for (const b of [parsed.config, ...parsed.layers])
      await w.store.mountBlob({ registry: HOST, repository: `${PROJECT}/evil` }, `${PROJECT}/base`, b.digest);
    await w.store.putManifest(
      { registry: HOST, repository: `${PROJECT}/evil`, tag: 'x' },
      evil.bytes,
      evil.descriptor.mediaType,
    );
    await signByHand(w, `${PROJECT}/evil`, digest);
    const ref = { registry: HOST, repository: `${PROJECT}/evil`, digest };
    expect((await verifyImage({ client: w.store, ref, trustedKeys: trustOf(w.key), now: at })).ok).toBe(true);
    const r = await verifyImage({ client: w.store, ref, trustedKeys: c.trust, now: at });
    expect(r.ok).toBe(false);
    expect(r.rejected.map((x) => x.reason).join(' ')).toMatch(/retired/);
  });

  it('a planned rotation followed by --compromised moves the retirement to now; a re-run converges', async () => {
    const w = await world();
    await runKeyRotation(w.deps, req());
    const r = await runKeyRotation(w.deps, req({ compromised: true }));
    expect(Date.parse(r.keys.retire[0]!.effective)).toBeLessThanOrEqual(w.clock());
    const again = await runKeyRotation(w.deps, req({ compromised: true }));
    expect(again.alreadyCurrent).toBe(true);
    expect(again.resign.map((x) => x.status)).toEqual(['already-signed', 'already-signed', 'already-signed']);
  });

  it('the next promotion must be signed with the new key: the retired old key is refused, nothing moves', async () => {
    const w = await world();
    await runKeyRotation(w.deps, req({ compromised: true }));
    const rotated = await published(w);
    const stale = await rebuild(w, NEW);
    expect(stale.record.result).not.toBe('success');
    expect(JSON.stringify(stale.record.failure)).toMatch(/which the channel retired at/);
    expect((await published(w)).digest).toBe(rotated.digest);
    const switched = await runRebuild(
      { ...w.deps, key: { spec: undefined, load: async () => K2 } },
      { date: NEW, variants: [], promote: true, replace: true, allowUnscanned: false, revision: 'test' },
    );
    expect(switched.record.result, JSON.stringify(switched.record.failure)).toBe('success');
    const next = await published(w);
    expect(next.channel.sequence).toBe(rotated.channel.sequence + 1);
    expect(next.channel.keys).toEqual(rotated.channel.keys);
  });

  it('a channel repair from a sequence before the rotation keeps the retirement (never undone)', async () => {
    const w = await world();
    const before = await published(w);
    await runKeyRotation(w.deps, req({ compromised: true }));
    const rotated = await published(w);
    const r = await runChannelRepair(
      // The platform still lists the old key in signing.trustedKeys, so the pre-rotation history verifies.
      { ...w.deps, key: { spec: undefined, load: async () => K2 }, trustedKeys: async () => trustOf(w.key) },
      { fromSequence: before.channel.sequence, apply: true },
    );
    expect(r.published?.sequence).toBe(rotated.channel.sequence + 1);
    expect((await published(w)).channel.keys).toEqual(rotated.channel.keys);
  });

  it('a fault at any registry call: clients keep accepting the channel and every image; a re-run converges', async () => {
    const w = await world();
    const from = forks(w);
    const probe = await from();
    probe.store.resetCalls();
    await runKeyRotation(probe.deps, req({ compromised: true }));
    const total = probe.store.calls.length;
    expect(total).toBeGreaterThan(10);
    const before = await published(w);
    const hooks: [string, (k: number) => { beforeCall?: CallHook; afterCall?: CallHook }][] = [
      ['before', (k) => ({ beforeCall: failNthCall(k) })],
      ['after', (k) => ({ afterCall: failNthCall(k) })],
    ];
    for (const [, hook] of hooks) {
      for (let k = 1; k <= total; k++) {
        const f = await from();
        f.store.setHooks(hook(k));
        const failed = await runKeyRotation(f.deps, req({ compromised: true })).then(
          () => false,
          () => true,
        );
        const at = new Date(f.clock() + 1000);
        const mid = await client(f, at);
        // Never a half-rotated channel: the channel verifies for a client that trusts only the old key, and every
        // image it names verifies with the trust store the client ends up with.
        expect(mid.channelOk, `fault at call ${k}`).toBe(true);
        expect(mid.images, `fault at call ${k}`).toEqual({ app: true, base: true, tool: true });
        if (mid.channel.sequence === before.channel.sequence) expect(mid.applied?.retired ?? []).toEqual([]);
        // The re-run converges on the rotated state.
        await runKeyRotation(f.deps, req({ compromised: true }));
        const end = await client(f, new Date(f.clock() + 1000));
        expect(end.channel.sequence, `fault at call ${k} (failed: ${failed})`).toBe(
          before.channel.sequence + 1,
        );
        expect(end.applied?.retired).toHaveLength(end.applied?.retired.length ? 1 : 0);
        expect(end.images).toEqual({ app: true, base: true, tool: true });
        const retiredOld = end.trust.find((t) => t.publicKey.fingerprint === f.key.publicKey.fingerprint);
        expect(retiredOld?.notAfter).not.toBeNull();
        await f.dispose();
      }
    }
  });
});
