/**
 * `status --no-scan` on the in-memory registry: a scan counts only when a verified signature records it; an
 * unscanned image is OK only when its promotion allowed it (channel entry `scan: unscanned`); an interrupted
 * promotion is reported.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildChannel } from '../../channel/channel.js';
import { channelRepository, publishChannel } from '../../channel/store.js';
import { signImage } from '../../signing/workflows.js';
import { pipelineStatus } from '../status.js';
import {
  digestsOf,
  HOST,
  newWorld,
  NEW,
  OLD,
  PROJECT,
  promote,
  published,
  rebuild,
  trustOf,
  type World,
} from './world.js';

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

const status = (w: World) =>
  pipelineStatus({
    store: w.store,
    host: HOST,
    project: PROJECT,
    config: w.config,
    trust: trustOf(w.key),
    scanner: undefined,
    now: new Date('2026-01-09T00:00:00Z'),
    maxAgeDays: 30,
  });

describe('status --no-scan', () => {
  it('says passed for a scanned, signed promotion', async () => {
    const w = await newWorld();
    worlds.push(w);
    await rebuild(w, NEW);
    const r = await status(w);
    expect(r.variants.map((v) => [v.scan, v.ok])).toEqual([
      ['passed', true],
      ['passed', true],
      ['passed', true],
    ]);
  });

  it('says UNSCANNED (allowed) only when the promotion allowed it, and NO for an unscanned image the channel does not allow', async () => {
    const w = await newWorld();
    worlds.push(w);
    w.scanning = false;
    const r = await rebuild(w, NEW, { allowUnscanned: true });
    expect(r.record.result).toBe('success');
    const allowed = await status(w);
    expect(allowed.ok).toBe(true);
    expect(allowed.variants.map((v) => v.scan)).toEqual(Array(3).fill('UNSCANNED (allowed)'));

    // The same images in a channel (signed, valid) whose entries do not record an allowed unscanned promotion,
    // as promote published them before this rule: not OK.
    const repo = channelRepository(HOST, PROJECT);
    const prev = (await published(w)).current!.channel;
    const d = digestsOf(r.record);
    const entries = Object.entries(prev.variants).map(([variant, v]) => ({
      variant,
      tag: v.tag,
      digest: d[variant]!,
      created: v.created,
    }));
    const bare = buildChannel(prev, entries, new Date('2026-01-08T05:00:00Z'));
    await publishChannel(w.store, repo, bare, {
      expectCurrent: (await w.store.headManifest({ ...repo, tag: 'current' }))?.digest ?? null,
      sign: async (ref) => {
        await signImage({
          client: w.store,
          ref,
          key: w.key,
          signer: 'test',
          now: new Date('2026-01-08T05:00:00Z'),
        });
      },
    });
    const refused = await status(w);
    expect(refused.ok).toBe(false);
    expect(refused.variants.map((v) => [v.scan, v.ok])).toEqual(
      Array(3).fill(['NOT SCANNED (skipped)', false]),
    );
  });

  it('reports an interrupted promotion recorded at channel:pending', async () => {
    const w = await newWorld();
    worlds.push(w);
    await rebuild(w, OLD);
    await rebuild(w, NEW, { promote: false });
    w.store.setHooks({
      beforeCall: (op, ref) => {
        if (op === 'putManifest' && ref.endsWith('/app:latest')) throw new Error('killed');
      },
    });
    await expect(promote(w, NEW)).rejects.toThrow();
    w.store.setHooks({});
    const r = await status(w);
    expect(r.pendingPromotion?.sequence).toBe(2);
    await promote(w, NEW);
    expect((await status(w)).pendingPromotion).toBeNull();
  });
});
