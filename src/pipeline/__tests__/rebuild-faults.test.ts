/**
 * `rebuild` (build → stage → scan → tag → sign → verify, then promote) on the in-memory registry with a fault
 * at every registry call: after each fault the invariants hold (a date tag names only the scanned digest; latest
 * and the channel are untouched, fully moved, or covered by a signed intent; the record says what failed), and
 * a re-run converges.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { failNthCall, type CallHook } from '../../oci/memory-store.js';
import { verifyImage } from '../../signing/workflows.js';
import {
  digestsOf,
  forks,
  HOST,
  newWorld,
  NEW,
  OLD,
  PROJECT,
  published,
  rebuild,
  trustOf,
  VARIANTS,
  type Published,
  type World,
} from './world.js';

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

const TAGS: Record<string, string> = {
  base: '24.04-20260108',
  app: '1-24.04-20260108',
  tool: '2-24.04-20260108',
};
const crashFrom =
  (k: number): CallHook =>
  (op, ref, n) => {
    if (n >= k) throw new Error(`process killed before ${op} ${ref}`);
  };

const named = (c: Published['current']) =>
  c ? Object.fromEntries(Object.entries(c.channel.variants).map(([v, x]) => [v, x.digest])) : null;

/** Date tags of NEW: each absent, or naming the digest the record staged and the scanner saw. */
async function expectDateTagsScanned(w: World, record: Awaited<ReturnType<typeof rebuild>>['record']) {
  w.store.setHooks({ beforeCall: undefined, afterCall: undefined });
  const scanned = new Set(w.scanner.scanned.map((s) => s.digest));
  for (const v of VARIANTS) {
    const repo = { registry: HOST, repository: `${PROJECT}/${v}` };
    const head = await w.store.headManifest({ ...repo, tag: TAGS[v]! });
    if (!head) continue;
    expect(head.digest).toBe(record.variants[v]?.digest);
    expect(scanned.has(head.digest)).toBe(true);
    const ver = await verifyImage({
      client: w.store,
      ref: { ...repo, digest: head.digest },
      trustedKeys: trustOf(w.key),
      now: new Date('2026-01-09T00:00:00Z'),
    });
    // A tag without a valid signature exists only when the run failed that variant at tag/sign/verify.
    if (!ver.ok) {
      expect(record.variants[v]?.status).toBe('failed');
      expect(['tag', 'sign', 'verify']).toContain(record.variants[v]?.error?.step);
    }
  }
}

/** latest/current: old everywhere, new everywhere, or a signed intent naming new. */
function expectTrusted(s: Published, old: Record<string, string>, next: Record<string, string> | null) {
  const isOld = VARIANTS.every((v) => s.latest[v] === old[v]) && named(s.current)?.base === old.base;
  if (isOld || !next) {
    expect(s.latest).toEqual(old);
    expect(named(s.current)).toEqual(old);
    return;
  }
  for (const v of VARIANTS) expect([old[v], next[v]]).toContain(s.latest[v]);
  if (VARIANTS.every((v) => s.latest[v] === next[v]) && named(s.current)?.base === next.base) {
    expect(named(s.current)).toEqual(next);
    return;
  }
  expect(s.pending?.signed).toBe(true);
  expect(named(s.pending)).toEqual(next);
}

describe('rebuild with a fault at the k-th registry call', () => {
  for (const mode of ['transient', 'crash'] as const) {
    it(`for every k (${mode}): invariants hold, the record names the failure, a re-run converges`, async () => {
      const w0 = await newWorld();
      worlds.push(w0);
      const old = digestsOf((await rebuild(w0, OLD)).record);
      const fork = forks(w0);
      const probe = await fork();
      const clean = await rebuild(probe, NEW);
      expect(clean.record.result).toBe('success');
      const calls = probe.store.calls.length;
      expect(calls).toBeGreaterThan(50);
      let failedRuns = 0;
      for (let k = 1; k <= calls; k++) {
        const w = await fork();
        w.store.setHooks({ beforeCall: mode === 'crash' ? crashFrom(k) : failNthCall(k) });
        const { record } = await rebuild(w, NEW);
        const s = await published(w);
        if (record.result === 'failed') {
          failedRuns++;
          expect(record.failure?.step, `k=${k}`).toMatch(
            /^(resolve-base|build|stage|scan|tag|sign|verify|promote)$/,
          );
          expect(record.failure?.reason).toBeTruthy();
        } else {
          expect(record.promoted).toBe(true);
        }
        await expectDateTagsScanned(w, record);
        expectTrusted(s, old, digestsOf(record));
        // A re-run without faults converges: every variant published and signed, latest = channel everywhere.
        const again = await rebuild(w, NEW);
        expect(again.record.result, `k=${k}: ${JSON.stringify(again.record.failure)}`).toBe('success');
        const after = await published(w);
        expect(after.current?.signed).toBe(true);
        expect(named(after.current)).toEqual(after.latest);
        expect(after.latest).toEqual(digestsOf(again.record));
        await expectDateTagsScanned(w, again.record);
      }
      expect(failedRuns).toBeGreaterThan(calls / 2);
    });
  }
});

describe('build images on a shared engine', () => {
  it('are named per run, so one run never removes the images another run is still pushing', async () => {
    const w = await newWorld();
    worlds.push(w);
    const { record } = await rebuild(w, OLD);
    const built = w.engine.calls.filter((c) => c.op === 'build').map((c) => c.ref);
    const removed = w.engine.calls.filter((c) => c.op === 'rmi').flatMap((c) => c.ref.split(','));
    expect(built).toHaveLength(VARIANTS.length);
    for (const ref of built) expect(ref).toContain(record.runId.toLowerCase());
    // The run removes exactly its own build images, nothing named for another run.
    expect(new Set(removed)).toEqual(new Set(built));
  });
});
