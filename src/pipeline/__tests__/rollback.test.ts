/**
 * `rollback` on the in-memory registry (runbook §6): latest and the channel move back together, the announcement
 * is the runbook's text exactly, an audit record is written; a missing, unsigned or below-floor target is refused
 * before anything moves; a fault at every registry call converges on a re-run; `--list`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeError, isAiboxError } from '../../core/errors.js';
import { failNthCall } from '../../oci/memory-store.js';
import type { Notice, Notifier } from '../../notify/notifier.js';
import { planRun } from '../plan.js';
import { checkAll, promote as promoteChecked, promotionCandidates, type PromotionDeps } from '../promote.js';
import {
  listRollbackCandidates,
  parseRollbackTarget,
  runRollback,
  type RollbackRequest,
} from '../rollback.js';
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
  type World,
} from './world.js';

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

const DAY = 86_400_000;
const REASON = 'a broken apt mirror in the 20260108 build';

/** A notifier that records what it is given (the #aibox-announce post). */
function recordingNotifier(): Notifier & { notices: Notice[] } {
  const notices: Notice[] = [];
  return { notices, notify: async (n) => void notices.push(n) };
}

function withNotifier(w: World, n: Notifier | undefined): World {
  return { ...w, deps: { ...w.deps, notifier: n } };
}

function rollback(w: World, o: Partial<RollbackRequest> = {}) {
  return runRollback(w.deps, {
    to: '24.04-20260101',
    variants: [],
    reason: REASON,
    forceBelowFloor: false,
    allowUnscanned: false,
    apply: true,
    ...o,
  });
}

/** OLD built and promoted; three days later NEW built and promoted (the bad release). */
async function released(o: { floorOnNew?: boolean } = {}) {
  const w = await newWorld();
  worlds.push(w);
  const old = digestsOf((await rebuild(w, OLD)).record);
  w.advance(3 * DAY);
  const next = digestsOf((await rebuild(w, NEW, { promote: o.floorOnNew ? false : true })).record);
  if (o.floorOnNew) {
    // NEW promoted with a security floor two days after OLD was built: OLD is below it.
    const t = await w.deps.target();
    const d: PromotionDeps = {
      store: t.store,
      host: HOST,
      project: PROJECT,
      key: w.key,
      signer: 'test',
      trust: trustOf(w.key),
      now: w.deps.now,
      channelState: w.channelState,
    };
    const checked = await checkAll(d, promotionCandidates(planRun(w.config, { date: NEW })));
    const floorDate = new Date(Date.parse('2026-01-08T02:00:00Z') + 2 * DAY).toISOString().slice(0, 10);
    await promoteChecked(
      d,
      checked.map((c) => ({ ...c, mandatoryUpdate: true, minImageDate: floorDate })),
    );
  }
  w.store.resetCalls();
  return { w, old, next };
}

const latestOf = async (w: World) => (await published(w)).latest;

describe('parseRollbackTarget', () => {
  const prefixes = ['24.04', '1-24.04', '2-24.04'];
  it('reads a date tag of any variant, a dashed date and a compact date', () => {
    expect(parseRollbackTarget('24.04-20260214', prefixes)).toEqual({
      date: '2026-02-14',
      shown: '24.04-20260214',
    });
    expect(parseRollbackTarget('1-24.04-20260214', prefixes).date).toBe('2026-02-14');
    expect(parseRollbackTarget('2026-02-14', prefixes).date).toBe('2026-02-14');
    expect(parseRollbackTarget('20260214', prefixes).date).toBe('2026-02-14');
    expect(parseRollbackTarget('24.04-20260214-cve-2026-1234', prefixes).cve).toBe('CVE-2026-1234');
  });
  it.each(['latest', '24.04-20260230', '22.04-20260214', '', '24.04-2026021'])('refuses %j', (to) => {
    let err: unknown;
    try {
      parseRollbackTarget(to, prefixes);
    } catch (e: unknown) {
      err = e;
    }
    expect(isAiboxError(err, 'USAGE') || isAiboxError(err, 'INVALID_DATE')).toBe(true);
  });
});

describe('rollback', () => {
  it('moves every latest back, publishes a new signed sequence naming them, posts the runbook text, audits', async () => {
    const { w, old } = await released();
    const before = (await published(w)).current!.channel.sequence;
    const slack = recordingNotifier();
    const r = await rollback(withNotifier(w, slack));
    expect(r.status).toBe('published');
    const s = await published(w);
    expect(s.latest).toEqual(old);
    expect(s.current?.signed).toBe(true);
    expect(s.current!.channel.sequence).toBe(before + 1);
    expect(
      Object.fromEntries(Object.entries(s.current!.channel.variants).map(([v, x]) => [v, x.digest])),
    ).toEqual(old);
    // Golden: exactly the runbook §6 text, date and reason filled in.
    expect(slack.notices.map((n) => n.text)).toEqual([
      "Image rollback: aibox images have been rolled back to 24.04-20260101 due to\na broken apt mirror in the 20260108 build. Run 'aibox update' to get the stable image.",
    ]);
    expect(r.notified).toBe(true);
    const audit = (await readFile(join(w.deps.dataDir, 'audit', 'rollback.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      event: 'rollback',
      to: '24.04-20260101',
      reason: REASON,
      forceBelowFloor: false,
      status: 'published',
      notified: true,
      channel: { sequence: before + 1 },
    });
  });

  it('without apply (no --yes): shows the moves, and nothing moves', async () => {
    const { w, old, next } = await released();
    const r = await rollback(w, { apply: false });
    expect(r.status).toBe('pending');
    expect(Object.fromEntries(r.moves.map((m) => [m.variant, m.digest]))).toEqual(old);
    expect(Object.fromEntries(r.moves.map((m) => [m.variant, m.from?.digest]))).toEqual(next);
    expect(await latestOf(w)).toEqual(next);
    expect(w.store.calls.filter((c) => c.op === 'putManifest' || c.op === 'deleteManifest')).toEqual([]);
  });

  it('a variant subset moves only those variants (the others stay in the channel as they were)', async () => {
    const { w, old, next } = await released();
    await rollback(w, { variants: ['base', 'app', 'tool'].filter((v) => v !== 'tool') });
    const s = await published(w);
    expect(s.latest).toEqual({ app: old.app, base: old.base, tool: next.tool });
  });

  describe('refuses before anything moves', () => {
    async function expectRefusedUnmoved(w: World, next: Record<string, string>, pattern: RegExp, o = {}) {
      const seqBefore = (await published(w)).current!.channel.sequence;
      w.store.resetCalls();
      const err = await rollback(w, o).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAiboxError(err, 'POLICY_REFUSED'), describeError(err)).toBe(true);
      expect(describeError(err)).toMatch(pattern);
      expect(w.store.calls.filter((c) => c.op === 'putManifest' || c.op === 'deleteManifest')).toEqual([]);
      const s = await published(w);
      expect(s.latest).toEqual(next);
      expect(s.current!.channel.sequence).toBe(seqBefore);
    }

    it('when the target is missing for one variant', async () => {
      const { w, next } = await released();
      // 2026-01-05 was built for base and app only.
      await rebuild(w, '2026-01-05', { promote: false, variants: ['base', 'app'] });
      await expectRefusedUnmoved(w, next, /tool: .*2-24\.04-20260105.*not publishable/, {
        to: '24.04-20260105',
      });
    });

    it('when one variant is unsigned', async () => {
      const { w, old, next } = await released();
      const sig = `sha256-${old.tool!.slice(7)}.sig`;
      const ref = { registry: HOST, repository: `${PROJECT}/tool`, tag: sig };
      const head = await w.store.headManifest(ref);
      await w.store.deleteManifest({ registry: HOST, repository: `${PROJECT}/tool`, digest: head!.digest });
      await expectRefusedUnmoved(w, next, /tool: .*no valid signature/);
    });

    it('when the target is below a variant floor, naming the floor', async () => {
      const { w, next } = await released({ floorOnNew: true });
      await expectRefusedUnmoved(w, next, /below the security floor 2026-01-10T00:00:00Z/);
    });

    it('without a reason', async () => {
      const { w } = await released();
      const err = await rollback(w, { reason: '  ' }).catch((e: unknown) => e);
      expect(isAiboxError(err, 'USAGE')).toBe(true);
    });
  });

  it('--force-below-floor: publishes with a signed belowFloor marker; the floor itself stays', async () => {
    const { w, old } = await released({ floorOnNew: true });
    const floorBefore = (await published(w)).current!.channel.variants['base']!.minImageCreated;
    const r = await rollback(w, { forceBelowFloor: true });
    expect(r.moves.every((m) => m.belowFloor)).toBe(true);
    const s = await published(w);
    expect(s.latest).toEqual(old);
    expect(s.current?.signed).toBe(true);
    for (const v of VARIANTS) {
      const e = s.current!.channel.variants[v]!;
      expect(e.minImageCreated).toBe(floorBefore);
      expect(e.mandatoryUpdate).toBe(true);
      expect(e.belowFloor?.reason).toBe(REASON);
    }
    const audit = await readFile(join(w.deps.dataDir, 'audit', 'rollback.jsonl'), 'utf8');
    expect(JSON.parse(audit.trim())).toMatchObject({
      forceBelowFloor: true,
      belowFloor: ['base', 'app', 'tool'],
    });
  });

  it('for every k, the k-th registry call failing: nothing or everything moved, and a re-run converges', async () => {
    const { w, old, next } = await released();
    const fork = forks(w);
    const probe = await fork();
    await rollback(probe);
    const calls = probe.store.calls.length;
    expect(calls).toBeGreaterThan(20);
    for (let k = 1; k <= calls; k++) {
      const f = await fork();
      const slack = recordingNotifier();
      const wf = withNotifier(f, slack);
      f.store.setHooks({ beforeCall: failNthCall(k) });
      await rollback(wf).catch(() => undefined);
      f.store.setHooks({ beforeCall: undefined });
      const mid = (await published(f)).latest;
      for (const v of VARIANTS) expect([old[v], next[v]], `k=${k}`).toContain(mid[v]);
      const r = await rollback(wf);
      const s = await published(f);
      expect(s.latest, `k=${k}`).toEqual(old);
      expect(
        Object.fromEntries(Object.entries(s.current!.channel.variants).map(([v, x]) => [v, x.digest])),
      ).toEqual(old);
      expect(r.notified).toBe(true);
      // Announced once per published rollback, however it got there.
      expect(slack.notices.length, `k=${k}`).toBeLessThanOrEqual(2);
    }
  });

  it('a re-run of a completed rollback publishes nothing new and does not announce twice', async () => {
    const { w } = await released();
    const slack = recordingNotifier();
    const a = await rollback(withNotifier(w, slack));
    const b = await rollback(withNotifier(w, slack));
    expect(b.status).toBe('unchanged');
    expect(b.channel).toEqual(a.channel);
    expect(slack.notices).toHaveLength(1);
  });
});

describe('rollback --list', () => {
  it('lists dates present for every variant, signed and at or above the floor; says why others are not', async () => {
    const { w } = await released();
    await rebuild(w, '2026-01-05', { promote: false, variants: ['base', 'app'] });
    const l = await listRollbackCandidates(w.deps, { variants: [] });
    expect(l.candidates.map((c) => [c.date, c.current])).toEqual([
      ['2026-01-08', true],
      ['2026-01-01', false],
    ]);
    expect(l.candidates[1]!.tags).toEqual({
      app: '1-24.04-20260101',
      base: '24.04-20260101',
      tool: '2-24.04-20260101',
    });
    expect(l.excluded).toEqual([]);
  });

  it('excludes a date below the floor, with the reason', async () => {
    const { w } = await released({ floorOnNew: true });
    const l = await listRollbackCandidates(w.deps, { variants: [] });
    expect(l.candidates.map((c) => c.date)).toEqual(['2026-01-08']);
    expect(l.excluded.map((e) => e.date)).toEqual(['2026-01-01']);
    expect(l.excluded[0]!.reasons.join(' ')).toMatch(/below the security floor/);
  });
});
