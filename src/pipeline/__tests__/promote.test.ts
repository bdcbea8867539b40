/**
 * `promote` on the in-memory registry: convergence under a fault at every registry call (transient, lost
 * answer, and a crash that fails every call from the k-th on), the first promotion (no `latest` to restore),
 * a tampered intent, the scan rule and the lineage rule.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AiboxError, describeError, isAiboxError } from '../../core/errors.js';
import { channelRepository, channelManifest, EMPTY_CONFIG_BYTES } from '../../channel/store.js';
import { buildChannel, CHANNEL_ARTIFACT_TYPE, serializeChannel } from '../../channel/channel.js';
import { failNthCall, type CallHook } from '../../oci/memory-store.js';
import { MediaTypes } from '../../oci/manifest.js';
import { PENDING_TAG } from '../promote.js';
import {
  digestsOf,
  forks,
  HOST,
  newWorld,
  NEW,
  OLD,
  promote,
  PROJECT,
  published,
  rebuild,
  signByHand,
  VARIANTS,
  type Published,
  type World,
} from './world.js';

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

/** A world where OLD is promoted (latest + channel) and NEW is built and signed, not promoted. */
async function staged(o: { first?: boolean } = {}) {
  const w = await newWorld();
  worlds.push(w);
  const old = o.first ? null : digestsOf((await rebuild(w, OLD)).record);
  const next = digestsOf((await rebuild(w, NEW, { promote: false })).record);
  w.store.resetCalls();
  return { w, old, next, fork: forks(w) };
}

/** How many registry calls a clean promotion of NEW makes from this state. */
async function callsOfPromotion(fork: () => Promise<World>): Promise<number> {
  const probe = await fork();
  await promote(probe, NEW);
  return probe.store.calls.length;
}

const crashFrom =
  (k: number): CallHook =>
  (op, ref, n) => {
    if (n >= k) throw new Error(`process killed before ${op} ${ref}`);
  };

/** Digests per variant named by a channel. */
const named = (c: Published['current']) =>
  c ? Object.fromEntries(Object.entries(c.channel.variants).map(([v, x]) => [v, x.digest])) : null;

/** Fully converged on `want`: every latest, and a signed current naming exactly those digests; no open intent. */
function expectConverged(s: Published, want: Record<string, string>) {
  expect(s.latest).toEqual(want);
  expect(s.current?.signed).toBe(true);
  expect(named(s.current)).toEqual(want);
  if (s.pending) expect(s.pending.digest).toBe(s.current?.digest);
}

/** Fully old (nothing moved) or fully new. */
function expectOldOrNew(s: Published, old: Record<string, string> | null, next: Record<string, string>) {
  const fullyNew = VARIANTS.every((v) => s.latest[v] === next[v]) && named(s.current)?.base === next.base;
  if (fullyNew) {
    expectConverged(s, next);
    return;
  }
  if (old) expectConverged(s, old);
  else {
    expect(s.latest).toEqual({ app: null, base: null, tool: null });
    expect(s.current).toBeNull();
  }
}

/**
 * After a crash: each latest is old or new, and anything that moved is covered by a signed intent newer than
 * current that names the new digests (what the next run completes).
 */
function expectRecoverable(s: Published, old: Record<string, string> | null, next: Record<string, string>) {
  for (const v of VARIANTS) expect([old?.[v] ?? null, next[v]]).toContain(s.latest[v]);
  const moved =
    VARIANTS.some((v) => s.latest[v] !== (old?.[v] ?? null)) || named(s.current)?.base === next.base;
  if (!moved) return;
  if (named(s.current)?.base === next.base) {
    expectConverged(s, next);
    return;
  }
  expect(s.pending?.signed).toBe(true);
  expect(named(s.pending)).toEqual(next);
  expect(s.pending!.channel.sequence).toBeGreaterThan(s.current?.channel.sequence ?? 0);
}

describe('promote', () => {
  it('moves every latest and publishes a signed channel naming exactly them', async () => {
    const { w, next } = await staged();
    const r = await promote(w, NEW);
    expect(r.channel.sequence).toBe(2);
    const s = await published(w);
    expectConverged(s, next);
    expect(Object.values(s.current!.channel.variants).map((v) => v.scan)).toEqual([
      'passed',
      'passed',
      'passed',
    ]);
  });

  describe('when the k-th registry call fails', () => {
    it('for every k, once (transient): fully old or fully new, and a re-run converges', async () => {
      const { fork, old, next } = await staged();
      const calls = await callsOfPromotion(fork);
      expect(calls).toBeGreaterThan(20);
      for (let k = 1; k <= calls; k++) {
        const w = await fork();
        w.store.setHooks({ beforeCall: failNthCall(k) });
        const err = await promote(w, NEW).then(
          () => undefined,
          (e: unknown) => e,
        );
        // An outage keeps its code (exit 1), wherever it happens (signature payloads included).
        if (err)
          expect(isAiboxError(err, 'REGISTRY_UNREACHABLE'), `k=${k}: ${describeError(err)}`).toBe(true);
        expectOldOrNew(await published(w), old, next);
        await promote(w, NEW);
        expectConverged(await published(w), next);
      }
    });

    it('for every k, with the answer lost after the call took effect: a re-run converges', async () => {
      const { fork, old, next } = await staged();
      const calls = await callsOfPromotion(fork);
      for (let k = 1; k <= calls; k++) {
        const w = await fork();
        w.store.setHooks({ afterCall: failNthCall(k) });
        await promote(w, NEW).catch(() => undefined);
        expectRecoverable(await published(w), old, next);
        await promote(w, NEW);
        expectConverged(await published(w), next);
      }
    });

    it('for every k, a crash (every call from the k-th on fails): recoverable, and a re-run rolls forward', async () => {
      const { fork, old, next } = await staged();
      const calls = await callsOfPromotion(fork);
      let rolledForward = 0;
      for (let k = 1; k <= calls; k++) {
        const w = await fork();
        w.store.setHooks({ beforeCall: crashFrom(k) });
        // A crash in the best-effort staging sweep after the channel moved does not fail the promotion.
        const failed = await promote(w, NEW).then(
          () => false,
          () => true,
        );
        const after = await published(w);
        if (failed) expectRecoverable(after, old, next);
        else expectConverged(after, next);
        const r = await promote(w, NEW);
        if (r.completed !== undefined) rolledForward++;
        expectConverged(await published(w), next);
      }
      // The crash points after the intent was recorded were completed by the re-run.
      expect(rolledForward).toBeGreaterThanOrEqual(VARIANTS.length);
    });

    it('on the first promotion (no latest existed before, nothing to restore), a crash at every k converges', async () => {
      const { fork, next } = await staged({ first: true });
      const calls = await callsOfPromotion(fork);
      for (let k = 1; k <= calls; k++) {
        const w = await fork();
        w.store.setHooks({ beforeCall: crashFrom(k) });
        const failed = await promote(w, NEW).then(
          () => false,
          () => true,
        );
        if (failed) expectRecoverable(await published(w), null, next);
        else expectConverged(await published(w), next);
        await promote(w, NEW);
        expectConverged(await published(w), next);
      }
    });
  });

  // The signature read path once logged and dropped a payload blob it could not fetch, so an outage there read as
  // "no valid signature" and promote refused (exit 3) instead of failing (exit 1).
  it('an outage while reading a signature payload is an outage, not a refusal', async () => {
    const { fork } = await staged();
    const w = await fork();
    // Fail once: the first blob read right after a `.sig` manifest (a signature payload).
    let afterSig = false;
    let failed = false;
    w.store.setHooks({
      beforeCall: (op, ref) => {
        if (!failed && afterSig && op === 'getBlob') {
          failed = true;
          throw new AiboxError({
            code: 'REGISTRY_UNREACHABLE',
            message: `getBlob ${ref}: connection refused`,
          });
        }
        afterSig = op === 'getManifest' && ref.endsWith('.sig');
      },
    });
    const err = await promote(w, NEW).catch((e: unknown) => e);
    expect(isAiboxError(err, 'REGISTRY_UNREACHABLE'), String(err)).toBe(true);
  });

  it('ignores an intent that is not signed by a trusted key: nothing moves on its behalf', async () => {
    const { w, old, next } = await staged();
    // Someone with push rights to the channel repository (no key) records a "pending" naming their image.
    const evil = buildChannel(
      (await published(w)).current!.channel,
      [{ variant: 'base', tag: 'evil', digest: next.app!, created: '2026-01-08T00:00:00Z' }],
      new Date('2026-01-08T02:30:00Z'),
    );
    const repo = channelRepository(HOST, PROJECT);
    const bytes = serializeChannel(evil);
    await w.store.pushBlob(repo, EMPTY_CONFIG_BYTES);
    const layer = await w.store.pushBlob(repo, bytes);
    const m = channelManifest(evil, {
      mediaType: CHANNEL_ARTIFACT_TYPE,
      digest: layer.digest,
      size: layer.size,
    });
    await w.store.putManifest({ ...repo, tag: PENDING_TAG }, m, MediaTypes.OCI_MANIFEST);

    await promote(w, OLD);
    expectConverged(await published(w), old!);
    expect(w.warnings.join('\n')).toMatch(/ignoring .*channel:pending .*not signed by a trusted key/);
    await promote(w, NEW);
    expectConverged(await published(w), next);
  });

  describe('the scan rule', () => {
    it('refuses an image whose signature records scan=skipped, and one signed by hand without a scan; nothing moves', async () => {
      const w = await newWorld();
      worlds.push(w);
      await rebuild(w, OLD);
      w.scanning = false;
      const unscanned = await rebuild(w, NEW, { promote: false, allowUnscanned: true, variants: ['base'] });
      expect(unscanned.record.result).toBe('success');
      const before = await published(w);
      const err = await promote(w, NEW, { variants: ['base'] }).catch((e: unknown) => e);
      expect(isAiboxError(err, 'POLICY_REFUSED')).toBe(true);
      expect((err as Error).message).toMatch(
        /base: .*aibox\/base:24\.04-20260108 has no passed scan recorded in its signature \(dev\.aibox\.scan: skipped\)/,
      );
      expect(await published(w)).toEqual(before);

      // An image built and pushed outside the pipeline, then signed by hand (no scan annotation at all).
      await w.engine.build({
        contextDir: w.dir,
        containerfile: `${w.dir}/app/Containerfile`,
        tags: ['localhost/by-hand:1'],
        buildArgs: { BASE_IMAGE: 'localhost/aibox-local-base:test' },
        labels: { 'dev.aibox.variant': 'app' },
      });
      const { digest } = await w.engine.push(
        'localhost/by-hand:1',
        `${HOST}/${PROJECT}/app:1-24.04-20260108`,
      );
      await signByHand(w, `${PROJECT}/app`, digest);
      const err2 = await promote(w, NEW, { variants: ['app'] }).catch((e: unknown) => e);
      expect((err2 as Error).message).toMatch(/app: .* has no passed scan recorded in its signature/);
    });

    it('with allowUnscanned, promotes and records scan: unscanned in the channel entry', async () => {
      const w = await newWorld();
      worlds.push(w);
      w.scanning = false;
      const r = await rebuild(w, NEW, { allowUnscanned: true });
      expect(r.record.result, JSON.stringify(r.record.failure)).toBe('success');
      const s = await published(w);
      expectConverged(s, digestsOf(r.record));
      expect(s.current!.channel.variants.base?.scan).toBe('unscanned');
    });
  });

  describe('the lineage rule', () => {
    it('refuses a child built FROM another base digest than the base being promoted, naming both', async () => {
      const { w, old, next } = await staged();
      // app for NEW re-tagged to the OLD app image: built FROM the OLD base.
      const repo = { registry: HOST, repository: `${PROJECT}/app` };
      const oldApp = await w.store.getManifest({ ...repo, digest: old!.app! });
      await w.store.putManifest({ ...repo, tag: '1-24.04-20260108' }, oldApp.bytes, MediaTypes.OCI_MANIFEST);
      const err = await promote(w, NEW).catch((e: unknown) => e);
      expect(isAiboxError(err, 'POLICY_REFUSED')).toBe(true);
      expect((err as Error).message).toContain(
        `app:1-24.04-20260108 was built FROM base@${old!.base}, but the base being promoted is ${next.base}`,
      );
      expectConverged(await published(w), old!);
    });

    it('checks a child promoted alone against its parent in the current channel', async () => {
      const { w, old, next } = await staged();
      const err = await promote(w, NEW, { variants: ['app'] }).catch((e: unknown) => e);
      expect((err as Error).message).toContain(
        `app:1-24.04-20260108 was built FROM base@${next.base}, but the base in the current channel is ${old!.base}`,
      );
      await promote(w, NEW, { variants: ['base'] });
      await promote(w, NEW, { variants: ['app'] });
      expect((await published(w)).latest).toEqual({ ...old, base: next.base, app: next.app });
    });
  });
});
