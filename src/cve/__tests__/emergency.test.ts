/**
 * The emergency rebuild on the in-memory world (MemoryImageStore + fake engine + advisory-driven fake scanner):
 * targeted patches, the re-scan gate, the floor (precise, per variant, carried into the next weekly build),
 * bad input and faults — each asserting what users trust (latest, channel) moved or did not.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AiboxError, isAiboxError } from '../../core/errors.js';
import { LABELS, parseSecurityFixes } from '../../core/labels.js';
import { describeImage } from '../../inspect/describe.js';
import type { Notice, Notifier } from '../../notify/notifier.js';
import {
  forks,
  HOST,
  newWorld,
  OLD,
  PROJECT,
  published,
  rebuild,
  type World,
} from '../../pipeline/__tests__/world.js';
import { runEmergency, type EmergencyRequest } from '../emergency.js';
import { imageCreated } from '../floor.js';
import { pipelineStatus } from '../../pipeline/status.js';
import { promote as promoteDate } from '../../pipeline/__tests__/world.js';
import { readCveRecords, writeCveRecords, type CveRecordDeps } from '../record-store.js';
import { trustOf } from '../../pipeline/__tests__/world.js';
import type { Scanner } from '../../scan/scanner.js';

const CVE = 'CVE-2026-12345';
let fork: () => Promise<World>;
let worlds: World[] = [];

/** One world with a promoted weekly build of OLD; each test forks it. */
let root: World | undefined;
async function world(): Promise<World> {
  if (!root) {
    root = await newWorld();
    const r = await rebuild(root, OLD);
    expect(r.record.result).toBe('success');
    fork = forks(root);
  }
  const w = await fork();
  w.scanner.store = w.store;
  worlds.push(w);
  return w;
}

beforeEach(() => {
  worlds = [];
});
afterEach(() => {
  for (const w of worlds) w.store.setHooks({ beforeCall: undefined, afterCall: undefined });
});

function req(over: Partial<EmergencyRequest> = {}): EmergencyRequest {
  return { cves: [CVE], packages: [], variants: [], full: false, revision: 'test', ...over };
}

const repo = (v: string) => ({ registry: HOST, repository: `${PROJECT}/${v}` });

async function image(w: World, v: string, tag: string) {
  return describeImage(w.store, { ...repo(v), tag });
}

function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

describe('cve rebuild (targeted)', () => {
  it('patches base, rebuilds its children FROM it, re-scans, promotes and sets the precise floor on all', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    const before = await published(w);
    const r = await runEmergency(w.deps, req());
    expect(r.outcome).toBe('published');
    expect(r.cves).toEqual([{ id: CVE, cvss: 9.8 }]);
    expect(Object.fromEntries(Object.entries(r.variants).map(([v, x]) => [v, [x.build, x.tag]]))).toEqual({
      base: ['patch', '24.04-20260108-cve-2026-12345'],
      app: ['rebuild', '1-24.04-20260108-cve-2026-12345'],
      tool: ['rebuild', '2-24.04-20260108-cve-2026-12345'],
    });
    const after = await published(w);
    for (const v of ['base', 'app', 'tool']) {
      expect(after.latest[v]).toBe(r.variants[v]?.digest);
      expect(after.latest[v]).not.toBe(before.latest[v]);
    }
    expect(after.current?.channel.sequence).toBe((before.current?.channel.sequence ?? 0) + 1);
    // The floor is the created of the first fixed image (base), precise, one value with the image's config.
    const base = await image(w, 'base', '24.04-20260108-cve-2026-12345');
    const created = imageCreated(base);
    expect(created).toBeDefined();
    expect(base.labels[LABELS.created]).toBe(created);
    expect(base.created).toBe(created);
    expect(r.floor).toEqual({
      minImageCreated: created,
      mandatoryUpdate: true,
      variants: ['app', 'base', 'tool'],
    });
    for (const v of ['base', 'app', 'tool']) {
      const entry = after.current?.channel.variants[v];
      expect(entry).toMatchObject({
        mandatoryUpdate: true,
        minImageCreated: created,
        minImageDate: '2026-01-08',
        cve: { id: CVE, cvss: 9.8 },
      });
    }
    for (const src of [base.labels, base.annotations]) {
      expect(src[LABELS.mandatoryUpdate]).toBe('true');
      expect(src[LABELS.minImageCreated]).toBe(created);
      expect(src[LABELS.minImageDate]).toBe('2026-01-08');
      expect(parseSecurityFixes(src[LABELS.securityFixes])).toEqual([{ id: CVE, cvss: 9.8 }]);
    }
    expect(base.labels[LABELS.patchedFrom]).toBe(before.latest.base);
    // Re-scan on the real patched images: every rebuilt image was scanned after the build.
    for (const v of ['base', 'app', 'tool'])
      expect(w.scanner.scanned.some((s) => s.digest === r.variants[v]?.digest)).toBe(true);
  });

  it('a CVE only in one child raises only that child', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'libicu', severity: 'HIGH', cvss: 7.5, in: ['/tool'] }];
    const before = await published(w);
    const r = await runEmergency(w.deps, req());
    expect(Object.keys(r.variants)).toEqual(['tool']);
    const after = await published(w);
    expect(after.latest.base).toBe(before.latest.base);
    expect(after.latest.app).toBe(before.latest.app);
    expect(after.current?.channel.variants.tool).toMatchObject({ mandatoryUpdate: true, cve: { id: CVE } });
    expect(after.current?.channel.variants.base?.minImageCreated).toBeNull();
    expect(after.current?.channel.variants.app?.minImageCreated).toBeNull();
  });

  it('below cve.mandatoryMinCvss: published with the -cve- tag, no floor', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'MEDIUM', cvss: 5.3, in: ['/app'] }];
    const r = await runEmergency(w.deps, req());
    expect(r.floor).toBeUndefined();
    const after = await published(w);
    expect(after.current?.channel.variants.app).toMatchObject({
      tag: '1-24.04-20260108-cve-2026-12345',
      mandatoryUpdate: false,
      minImageCreated: null,
    });
  });

  it('several CVEs: the highest-scored names the tag, all are recorded', async () => {
    const w = await world();
    w.scanner.advisories = [
      { id: 'CVE-2026-1111', pkg: 'openssl', severity: 'HIGH', cvss: 7.5, in: ['/app'] },
      { id: 'CVE-2026-2222', pkg: 'zlib1g', severity: 'CRITICAL', cvss: 9.1, in: ['/app'] },
    ];
    const r = await runEmergency(w.deps, req({ cves: ['cve-2026-1111', 'CVE-2026-2222'] }));
    expect(r.variants.app?.tag).toBe('1-24.04-20260108-cve-2026-2222');
    const app = await image(w, 'app', '1-24.04-20260108-cve-2026-2222');
    expect(parseSecurityFixes(app.labels[LABELS.securityFixes])).toEqual([
      { id: 'CVE-2026-2222', cvss: 9.1 },
      { id: 'CVE-2026-1111', cvss: 7.5 },
    ]);
  });

  it('the floor is carried into the next weekly build, recomputed from the registry', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    const r = await runEmergency(w.deps, req());
    // From now on the archive has the fix: the weekly build installs it.
    w.scanner.advisories = [
      {
        id: CVE,
        pkg: 'openssl',
        severity: 'CRITICAL',
        cvss: 9.8,
        fixedFrom: new Date(w.clock()).toISOString(),
      },
    ];
    // This machine forgets everything it published: the floor comes from the registry alone.
    Reflect.deleteProperty(w.channelState.data, `${HOST}/${PROJECT}`);
    expect(w.channelState.data).toEqual({});
    const weekly = await rebuild(w, '2026-01-15');
    expect(weekly.record.result).toBe('success');
    const after = await published(w);
    for (const v of ['base', 'app', 'tool']) {
      const img = await image(
        w,
        v,
        `${v === 'base' ? '24.04' : v === 'app' ? '1-24.04' : '2-24.04'}-20260115`,
      );
      expect(img.labels[LABELS.minImageCreated]).toBe(r.floor?.minImageCreated);
      expect(img.annotations[LABELS.mandatoryUpdate]).toBe('true');
      expect(after.current?.channel.variants[v]?.minImageCreated).toBe(r.floor?.minImageCreated);
    }
  });
});

describe('a same-day weekly image below min-image-created', () => {
  it('cannot be promoted again, and status reports latest below the floor', async () => {
    const w = await world();
    // The OLD weekly images were built at 02:00 on 2026-01-08, the day of the emergency: same day, earlier.
    const before = await published(w);
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    const r = await runEmergency(w.deps, req());
    const floor = r.floor?.minImageCreated ?? '';
    expect(floor.slice(0, 10)).toBe('2026-01-08');
    const old = await describeImage(w.store, { ...repo('base'), digest: before.latest.base ?? '' });
    expect(Date.parse(imageCreated(old) ?? '')).toBeLessThan(Date.parse(floor));
    expect(imageCreated(old)?.slice(0, 10)).toBe('2026-01-08');
    w.scanner.advisories = [];
    const e = await failure(promoteDate(w, OLD));
    expect((e as Error).message).toMatch(/before the security floor/);
    // Someone moves latest back by hand: status says it is below the floor.
    const m = await w.store.getManifest({ ...repo('base'), digest: before.latest.base ?? '' });
    await w.store.putManifest({ ...repo('base'), tag: 'latest' }, m.bytes, m.descriptor.mediaType);
    const st = await pipelineStatus({
      store: w.store,
      host: HOST,
      project: PROJECT,
      config: w.config,
      trust: trustOf(w.key),
      scanner: undefined,
      now: new Date('2026-01-09T00:00:00Z'),
      maxAgeDays: 30,
    });
    const base = st.variants.find((v) => v.variant === 'base');
    expect(base?.floor).toMatchObject({ minImageCreated: floor, below: true });
    expect(base?.ok).toBe(false);
  });
});

describe('cve rebuild faults: nothing published, floor unchanged', () => {
  async function unchanged(w: World, before: Awaited<ReturnType<typeof published>>) {
    const after = await published(w);
    expect(after.latest).toEqual(before.latest);
    expect(after.current?.digest).toBe(before.current?.digest);
    for (const v of ['base', 'app', 'tool']) {
      const tags = await w.store.listTags(repo(v));
      expect(tags.filter((t) => t.includes('-cve-'))).toEqual([]);
    }
  }

  it('the patch does not remove the CVE: refused, nothing published', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'HIGH', cvss: 8.1, patchable: false }];
    const before = await published(w);
    const e = await failure(runEmergency(w.deps, req()));
    expect(isAiboxError(e, 'POLICY_REFUSED')).toBe(true);
    expect((e as Error).message).toMatch(/still has CVE-2026-12345 in openssl/);
    await unchanged(w, before);
  });

  it('the scanner fails mid-way: the error names the image, nothing published', async () => {
    const w = await world();
    // Only tool lists it, so base's latest is scanned first, then app's and tool's: the second scan fails.
    w.scanner.advisories = [{ id: CVE, pkg: 'libicu', severity: 'CRITICAL', cvss: 9.8, in: ['/tool'] }];
    w.scanner.failOnCall = 2;
    const before = await published(w);
    const e = await failure(runEmergency(w.deps, req()));
    expect(isAiboxError(e, 'SCAN_FAILED')).toBe(true);
    await unchanged(w, before);
    // …and during the re-scan of the patched image
    const w2 = await world();
    w2.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    // Scan 1: base's latest (app and tool inherit the CVE, not scanned first); scan 2: the patched base.
    w2.scanner.failOnCall = 2;
    const e2 = await failure(runEmergency(w2.deps, req()));
    expect(isAiboxError(e2)).toBe(true);
    await unchanged(w2, before);
  });

  it('the registry goes down during promotion: the re-run converges', async () => {
    let failedFirst = 0;
    for (const k of [1, 2, 3, 4, 5, 6]) {
      const w = await world();
      w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8, in: ['/tool'] }];
      // The k-th write of the promotion (channel by digest, pending, latest, current, history) fails.
      let n = 0;
      w.store.setHooks({
        beforeCall: (op, ref) => {
          if (op === 'putManifest' && /\/channel[:@]|:latest$/.test(ref) && ++n === k) {
            throw new AiboxError({
              code: 'REGISTRY_UNREACHABLE',
              message: `${op} ${ref}: injected (connection refused)`,
            });
          }
        },
      });
      const first = await runEmergency(w.deps, req()).catch((e: unknown) => e);
      failedFirst += first instanceof Error ? 1 : 0;
      w.store.setHooks({ beforeCall: undefined });
      const again = await runEmergency(w.deps, req()).catch((e: unknown) => e);
      expect(again, `k=${k}: ${String(again)} (first: ${String(first)})`).not.toBeInstanceOf(Error);
      const after = await published(w);
      expect(after.current?.channel.variants.tool?.tag).toBe('2-24.04-20260108-cve-2026-12345');
      expect(after.latest.tool).toBe(after.current?.channel.variants.tool?.digest);
      expect(after.current?.channel.variants.tool?.mandatoryUpdate).toBe(true);
      if (again instanceof Error || again === undefined) continue;
      // A re-run that found the fix already published says so, with the recorded score.
      const r = again as Awaited<ReturnType<typeof runEmergency>>;
      expect(r.cves).toEqual([{ id: CVE, cvss: 9.8 }]);
      if (!(first instanceof Error)) expect(r.outcome).toBe('converged');
    }
    // The fault really interrupted the first run (for most k); the re-run converged every time.
    expect(failedFirst).toBeGreaterThan(0);
  });
});

describe('cve rebuild bad input: a clear error naming the input, nothing published', () => {
  const cases: [string, Partial<EmergencyRequest>, RegExp][] = [
    ['malformed CVE id', { cves: ['CVE-26-1'] }, /invalid --cve "CVE-26-1"/],
    ['CVSS above 10', { cvss: '10.5' }, /invalid --cvss "10.5"/],
    ['CVSS below 0', { cvss: '-1' }, /invalid --cvss "-1"/],
    ['CVSS not a number', { cvss: 'high' }, /invalid --cvss "high"/],
    ['unknown variant', { variants: ['rust'] }, /unknown variant "rust"/],
    ['bad package name', { packages: ['Open SSL'] }, /invalid --package "Open SSL"/],
  ];
  it.each(cases)('%s', async (_name, over, message) => {
    const w = await world();
    const writes = w.writes.length;
    const e = await failure(runEmergency(w.deps, req(over)));
    expect(isAiboxError(e, 'USAGE')).toBe(true);
    expect((e as Error).message).toMatch(message);
    expect(w.writes.length).toBe(writes);
  });

  it('--cve not in the current scan: nothing to patch (refused), unless --full', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: 'CVE-2026-9999', pkg: 'openssl', severity: 'HIGH', cvss: 7.5 }];
    const before = await published(w);
    const e = await failure(runEmergency(w.deps, req()));
    expect(isAiboxError(e, 'POLICY_REFUSED')).toBe(true);
    expect((e as Error).message).toMatch(/nothing to patch: CVE-2026-12345 is not in the current scan/);
    expect((await published(w)).current?.digest).toBe(before.current?.digest);
    // --variant naming a variant whose scan does not list it
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'HIGH', cvss: 7.5, in: ['/tool'] }];
    const e2 = await failure(runEmergency(w.deps, req({ variants: ['app'] })));
    expect((e2 as Error).message).toMatch(/nothing to patch.* app$/);
    // --full rebuilds anyway (the archive now has the fix)
    w.scanner.advisories = [
      {
        id: CVE,
        pkg: 'openssl',
        severity: 'HIGH',
        cvss: 7.5,
        in: ['/tool'],
        fixedFrom: '2026-01-08T00:00:00Z',
      },
    ];
    const r = await runEmergency(w.deps, req({ variants: ['app'], full: true, cvss: '7.5' }));
    expect(r.variants.app).toMatchObject({ build: 'full', tag: '1-24.04-20260108-cve-2026-12345' });
  });

  it('scan.scanner none: refused before anything starts', async () => {
    const w = await world();
    const deps = {
      ...w.deps,
      config: { ...w.deps.config, scan: { ...w.deps.config.scan, scanner: 'none' as const } },
    };
    const e = await failure(runEmergency(deps, req()));
    expect(isAiboxError(e, 'CONFIG_INVALID')).toBe(true);
  });
});

describe('cve rebuild notices', () => {
  it('start, complete and floor raised are posted; a failing webhook never fails the rebuild', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8, in: ['/tool'] }];
    const posted: Notice[] = [];
    const ok: Notifier = { notify: async (n) => void posted.push(n) };
    const r = await runEmergency({ ...w.deps, notifier: ok }, req());
    expect(posted.map((n) => n.title)).toEqual([
      'Emergency rebuild started',
      'Emergency rebuild completed',
      'Security floor raised: update required',
    ]);
    expect(posted[2]?.fields).toEqual(
      expect.arrayContaining([
        { label: 'CVE', value: `${CVE} (CVSS 9.8)` },
        { label: 'New tags', value: 'tool: 2-24.04-20260108-cve-2026-12345' },
      ]),
    );
    expect(r.notices.every((n) => n.delivered)).toBe(true);

    const w2 = await world();
    w2.scanner.advisories = w.scanner.advisories;
    const down: Notifier = {
      notify: async () => {
        throw new Error('webhook answered 500 after 4 attempts');
      },
    };
    const r2 = await runEmergency({ ...w2.deps, notifier: down }, req());
    expect(r2.outcome).toBe('published');
    expect(r2.notices.map((n) => [n.phase, n.delivered])).toEqual([
      ['started', false],
      ['completed', false],
      ['floor-raised', false],
    ]);
  });

  it('a failed rebuild posts the failure notice', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8, patchable: false }];
    const posted: Notice[] = [];
    await failure(runEmergency({ ...w.deps, notifier: { notify: async (n) => void posted.push(n) } }, req()));
    expect(posted.map((n) => n.title)).toEqual(['Emergency rebuild started', 'Emergency rebuild FAILED']);
    expect(posted[1]?.text).toMatch(/Nothing was published; the floor is unchanged/);
  });
});

describe('cve rebuild records the fix (CVE records, signed, in the registry)', () => {
  const rdeps = (w: World): CveRecordDeps => ({
    store: w.store,
    host: HOST,
    project: PROJECT,
    trust: trustOf(w.key),
    key: w.key,
    signer: 'test',
    now: () => new Date(w.clock()),
  });

  it('marks every CVE fixed by the new tags, and the notice says whether the triage deadline was met', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8, in: ['/tool'] }];
    // Triaged 10 hours ago with a 4-hour deadline: missed.
    const t = w.clock();
    await writeCveRecords(rdeps(w), {
      schemaVersion: 1,
      updatedAt: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      records: [
        {
          id: CVE,
          cvss: 9.8,
          severity: 'Critical',
          firstSeen: new Date(t - 10 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          deadline: new Date(t - 6 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          variants: ['tool'],
          packages: ['openssl'],
          state: { kind: 'open' },
        },
      ],
    });
    const posted: Notice[] = [];
    const r = await runEmergency(
      { ...w.deps, notifier: { notify: async (n) => void posted.push(n) } },
      req(),
    );
    expect(r.warnings).toEqual([]);
    const doc = await readCveRecords(rdeps(w));
    expect(doc?.records.find((x) => x.id === CVE)?.state).toMatchObject({
      kind: 'fixed',
      tags: { tool: '2-24.04-20260108-cve-2026-12345' },
    });
    expect(posted[1]?.fields).toContainEqual({
      label: 'Deadline',
      value: expect.stringMatching(/MISSED/) as string,
    });
  });
});

describe('cve rebuild speed without weaker checks (issue 9 "Performance")', () => {
  /** The world's scanner wrapped to record what was scanned and how many scans were in flight at once. */
  function counting(w: World, concurrency: number) {
    const seen = { max: 0, now: 0 };
    const scanner: Scanner = {
      name: 'trivy',
      scan: async (t) => {
        seen.now++;
        seen.max = Math.max(seen.max, seen.now);
        try {
          // Yield first, so scans started together really overlap.
          await new Promise((go) => setImmediate(go));
          return await w.scanner.scan(t);
        } finally {
          seen.now--;
        }
      },
    };
    const deps = {
      ...w.deps,
      config: { ...w.deps.config, scan: { ...w.deps.config.scan, concurrency } },
      scanner: () => scanner,
    };
    return { deps, seen };
  }

  it('a CVE base lists: the children inherit it and are not scanned first; every rebuilt image is re-scanned', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    const before = await published(w);
    const r = await runEmergency(w.deps, req({ variants: ['base', 'app'] }));
    expect(Object.keys(r.variants).sort()).toEqual(['app', 'base', 'tool']);
    const scanned = w.scanner.scanned.map((s) => s.digest);
    // One scan before the build: base's latest; app's and tool's old images are not scanned.
    expect(scanned.filter((d) => d === before.latest.base)).toHaveLength(1);
    expect(scanned).not.toContain(before.latest.app);
    expect(scanned).not.toContain(before.latest.tool);
    // The re-scan still confirms the CVE gone on EVERY published image.
    for (const v of ['base', 'app', 'tool']) expect(scanned).toContain(r.variants[v]?.digest);
    expect(r.floor?.variants).toEqual(['app', 'base', 'tool']);
  });

  it('a second CVE only in a child: that child is still scanned (base does not list every named CVE)', async () => {
    const w = await world();
    w.scanner.advisories = [
      { id: 'CVE-2026-1111', pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 },
      // tool is rebuilt FROM the patched base: its own package gets the fix the archive now has.
      {
        id: 'CVE-2026-2222',
        pkg: 'libicu',
        severity: 'HIGH',
        cvss: 7.5,
        in: ['/tool'],
        fixedFrom: new Date(w.clock() + 1).toISOString(),
      },
    ];
    const before = await published(w);
    const r = await runEmergency(w.deps, req({ cves: ['CVE-2026-1111', 'CVE-2026-2222'] }));
    const scanned = w.scanner.scanned.map((s) => s.digest);
    expect(scanned).toContain(before.latest.app);
    expect(scanned).toContain(before.latest.tool);
    expect(r.variants.tool?.tag).toBe('2-24.04-20260108-cve-2026-1111');
    expect(
      parseSecurityFixes((await image(w, 'tool', r.variants.tool?.tag ?? '')).labels[LABELS.securityFixes]),
    ).toEqual([
      { id: 'CVE-2026-1111', cvss: 9.8 },
      { id: 'CVE-2026-2222', cvss: 7.5 },
    ]);
  });

  it('the scans of one generation run at once, never more than scan.concurrency', async () => {
    const w = await world();
    // Only tool lists it: base is scanned first, then app and tool together.
    w.scanner.advisories = [{ id: CVE, pkg: 'libicu', severity: 'HIGH', cvss: 7.5, in: ['/tool'] }];
    const two = counting(w, 2);
    await runEmergency(two.deps, req());
    expect(two.seen.max).toBe(2);
    const w1 = await world();
    w1.scanner.advisories = [{ id: CVE, pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8 }];
    // Bound 1: neither the first scans nor the re-scans of the children (built two at once) overlap.
    const one = counting(w1, 1);
    const r = await runEmergency(one.deps, req());
    expect(Object.keys(r.variants)).toHaveLength(3);
    expect(one.seen.max).toBe(1);
  });

  it('a failing first scan stops the run: nothing built or published', async () => {
    const w = await world();
    w.scanner.advisories = [{ id: CVE, pkg: 'libicu', severity: 'HIGH', cvss: 7.5, in: ['/tool'] }];
    // The third scan (tool, in the same generation as app) fails.
    w.scanner.failOnCall = 3;
    const before = await published(w);
    const e = await failure(runEmergency(w.deps, req()));
    expect(isAiboxError(e, 'SCAN_FAILED')).toBe(true);
    expect((e as Error).message).toMatch(/could not scan .*\/aibox\/(app|tool)@sha256:/);
    const after = await published(w);
    expect(after.latest).toEqual(before.latest);
    expect(after.current?.digest).toBe(before.current?.digest);
  });
});
