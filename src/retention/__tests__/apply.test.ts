import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { silentLogger } from '../../core/log.js';
import { failNthOp, MemoryImageStore, type CallHook } from '../../oci/memory-store.js';
import { acquirePipelineLock } from '../../pipeline/lock.js';
import { verifyImage } from '../../signing/workflows.js';
import { seedRetentionData, type SeededData } from '../../../test/helpers/retention-data.js';
import { testKey, trustOf } from '../../pipeline/__tests__/world.js';
import { applyRetention, buildRetentionPlan, type ApplyDeps } from '../apply.js';
import { fileRetentionAudit, memoryRetentionAudit } from '../audit-file.js';
import { defaultRetentionConfig } from '../rules.js';
import { defaultVariants } from '../../config/model.js';

const HOST = 'registry.test';
const NOW = new Date('2026-12-01T12:00:00Z');

function deps(store: MemoryImageStore, over: Partial<ApplyDeps> = {}): ApplyDeps {
  return {
    store,
    host: HOST,
    project: 'aibox',
    config: defaultRetentionConfig(),
    variants: defaultVariants(),
    now: () => NOW,
    logger: silentLogger,
    audit: memoryRetentionAudit(),
    lock: () => Promise.resolve({ release: () => Promise.resolve() }),
    runId: 'test-run',
    ...over,
  };
}

async function tagsOf(store: MemoryImageStore, repository: string): Promise<string[]> {
  return (await store.listTags({ registry: HOST, repository }).catch(() => [] as string[])).sort();
}

async function keptState(store: MemoryImageStore, data: SeededData) {
  const out: Record<string, string[]> = {};
  for (const repo of Object.keys(data.expectedKept)) out[repo] = await tagsOf(store, repo);
  return out;
}

async function seeded(variants?: string[]) {
  const store = new MemoryImageStore();
  const data = await seedRetentionData({
    store,
    host: HOST,
    project: 'aibox',
    key: testKey(),
    now: NOW,
    ...(variants ? { variants } : {}),
  });
  return { store, data };
}

describe('retention apply on the realistic data set (memory store)', () => {
  it('a dry run (no --yes) reports pending deletions and changes nothing', async () => {
    const { store, data } = await seeded();
    const before = await keptState(store, data);
    const r = await applyRetention(deps(store), { yes: false });
    expect(r.applied).toBe(false);
    expect(r.reports.every((x) => x.status === 'pending')).toBe(true);
    expect(r.reports.length).toBeGreaterThan(0);
    expect(await keptState(store, data)).toEqual(before);
  });

  it('keeps exactly the expected set, every kept image still verifies, and a second run deletes nothing', async () => {
    const { store, data } = await seeded();
    const audit = memoryRetentionAudit();
    const r = await applyRetention(deps(store, { audit }), { yes: true });
    expect(r.errors).toEqual([]);
    expect(await keptState(store, data)).toEqual(data.expectedKept);
    expect(r.reports.filter((x) => x.status === 'deleted')).toHaveLength(data.expectedDeletedDigests);
    expect(audit.entries.filter((e) => e.event === 'deleted')).toHaveLength(data.expectedDeletedDigests);
    // The channel, its history and the CVE records are untouched; staging is clean.
    expect(await tagsOf(store, 'aibox/channel')).toHaveLength(7 + 6); // current + seq-1..6, and 6 .sig tags
    expect(await tagsOf(store, 'aibox/cve-records')).toEqual(['current']);
    expect(await tagsOf(store, 'aibox/staging/base')).toEqual([]);
    for (const [repo, tags] of Object.entries(data.expectedKept)) {
      for (const tag of tags.filter((t) => !t.endsWith('.sig'))) {
        const v = await verifyImage({
          client: store,
          ref: { registry: HOST, repository: repo, tag },
          trustedKeys: trustOf(testKey()),
          now: NOW,
        });
        expect(v.ok, `${repo}:${tag}`).toBe(true);
      }
    }
    const again = await applyRetention(deps(store), { yes: true });
    expect(again.plan.deletions).toEqual([]);
  });

  it('refuses more than --max-delete (default 50 % of a repository) before deleting anything', async () => {
    const { store, data } = await seeded(['base']);
    const before = await keptState(store, data);
    const err = await applyRetention(deps(store, { variants: { base: defaultVariants().base! } }), {
      yes: true,
      maxDelete: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AiboxError);
    expect((err as AiboxError).code).toBe('POLICY_REFUSED');
    expect((err as AiboxError).message).toContain('refusing to delete 10 of 25 tags in aibox/base (limit 3)');
    const tight = await applyRetention(
      deps(store, {
        variants: { base: defaultVariants().base! },
        config: { ...defaultRetentionConfig(), maxDeletePercent: 20 },
      }),
      { yes: true },
    ).catch((e: unknown) => e);
    expect((tight as AiboxError).code).toBe('POLICY_REFUSED');
    expect(await keptState(store, data)).toEqual(before);
  });

  it('writes every deletion to the audit log file, redacted, one JSON line per event', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-retention-'));
    try {
      const { store } = await seeded(['base']);
      await applyRetention(
        deps(store, { variants: { base: defaultVariants().base! }, audit: fileRetentionAudit(dir) }),
        { yes: true },
      );
      const lines = (await readFile(join(dir, 'retention', 'audit.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; digest: string; repository: string });
      const starts = lines.filter((l) => l.event === 'delete-start');
      expect(starts.length).toBe(lines.filter((l) => l.event === 'deleted').length);
      expect(starts.length).toBe(21);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('faults: the registry fails the k-th delete', () => {
  const variants = { base: defaultVariants().base! };
  let expected: SeededData;
  let total = 0;
  beforeEach(async () => {
    if (total) return;
    const { store, data } = await seeded(['base']);
    expected = data;
    await applyRetention(deps(store, { variants }), { yes: true });
    total = store.calls.filter((c) => c.op === 'deleteManifest').length;
  });

  it('counts the deletes (the loop below covers each k)', () => {
    expect(total).toBe(expected.expectedDeletedDigests);
  });

  for (const when of ['before', 'after'] as const) {
    it(`for each k, a delete failing ${when} it takes effect: the re-run converges and no kept tag is lost`, async () => {
      for (let k = 1; k <= total; k++) {
        const { store, data } = await seeded(['base']);
        const hook: CallHook = failNthOp('deleteManifest', k);
        store.setHooks(when === 'before' ? { beforeCall: hook } : { afterCall: hook });
        const first = await applyRetention(deps(store, { variants }), { yes: true });
        expect(first.errors.length, `k=${k}`).toBeGreaterThan(0);
        const kept = await keptState(store, data);
        for (const [repo, tags] of Object.entries(data.expectedKept)) {
          for (const t of tags) expect(kept[repo], `k=${k} ${repo}:${t}`).toContain(t);
        }
        store.setHooks({});
        const second = await applyRetention(deps(store, { variants }), { yes: true });
        expect(second.errors, `k=${k}`).toEqual([]);
        expect(await keptState(store, data), `k=${k}`).toEqual(data.expectedKept);
        expect((await buildRetentionPlan(deps(store, { variants }))).plan.deletions, `k=${k}`).toEqual([]);
      }
    });
  }
});

describe('the pipeline lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-retention-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const scope = `${HOST}/aibox`;
  const lock = () => acquirePipelineLock(dir, scope, 'retention-run', NOW);

  it('apply refuses (LOCKED) while a rebuild holds the lock, and deletes nothing', async () => {
    const { store, data } = await seeded(['base']);
    const rebuild = await acquirePipelineLock(dir, scope, 'rebuild-run', NOW);
    try {
      const before = await keptState(store, data);
      const err = await applyRetention(deps(store, { variants: { base: defaultVariants().base! }, lock }), {
        yes: true,
      }).catch((e: unknown) => e);
      expect((err as AiboxError).code).toBe('LOCKED');
      expect(await keptState(store, data)).toEqual(before);
      expect(store.calls.filter((c) => c.op === 'deleteManifest')).toEqual([]);
    } finally {
      await rebuild.release();
    }
  });

  it('a rebuild starting while apply runs is refused (LOCKED); the lock is released after apply', async () => {
    const { store } = await seeded(['base']);
    let during: unknown;
    store.setHooks({
      beforeCall: (op, _ref, _n, nOfOp) => {
        if (op === 'deleteManifest' && nOfOp === 1)
          during = acquirePipelineLock(dir, scope, 'rebuild-run', NOW).catch((e: unknown) => e);
      },
    });
    await applyRetention(deps(store, { variants: { base: defaultVariants().base! }, lock }), { yes: true });
    expect(((await during) as AiboxError).code).toBe('LOCKED');
    const after = await acquirePipelineLock(dir, scope, 'rebuild-run', NOW);
    await after.release();
  });
});

describe('a promotion from another runner between plan and delete', () => {
  it('moving latest after the plan stops the run before the first delete', async () => {
    const { store, data } = await seeded(['base']);
    const before = await keptState(store, data);
    const newest = data.variants.base!.weekly[0]!.digest;
    let moved = false;
    store.setHooks({
      beforeCall: (op, ref) => {
        // The referrers probe runs after the gather and the plan, before the re-check: move latest there.
        if (op === 'referrers' && !moved) {
          moved = true;
          void store
            .getManifest({ registry: HOST, repository: 'aibox/base', digest: newest })
            .then((m) =>
              store.putManifest(
                { registry: HOST, repository: 'aibox/base', tag: 'latest' },
                m.bytes,
                m.descriptor.mediaType,
              ),
            );
          expect(ref).toContain('aibox/base');
        }
      },
    });
    const err = await applyRetention(deps(store, { variants: { base: defaultVariants().base! } }), {
      yes: true,
    }).catch((e: unknown) => e);
    expect((err as AiboxError).code).toBe('POLICY_REFUSED');
    expect((err as AiboxError).message).toContain('aibox/base:latest');
    expect(store.calls.filter((c) => c.op === 'deleteManifest')).toEqual([]);
    expect((await keptState(store, data))['aibox/base']).toEqual(before['aibox/base']);
  });
});

describe('attached artifacts and the tag-delete seam', () => {
  const variants = { base: defaultVariants().base! };

  async function pushReferrer(store: MemoryImageStore, subject: string, n: number): Promise<string> {
    const ref = { registry: HOST, repository: 'aibox/base' };
    const empty = await store.pushBlob(ref, new TextEncoder().encode('{}'));
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.sbom',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: empty.size },
        layers: [],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject, size: 1 },
        annotations: { n: String(n) },
      }),
    );
    const { sha256Digest } = await import('../../oci/digest.js');
    const digest = sha256Digest(bytes);
    await store.putManifest({ ...ref, digest }, bytes, 'application/vnd.oci.image.manifest.v1+json');
    return digest;
  }

  it('referrers (API) of a deleted digest go with it; those of a kept digest stay', async () => {
    const store = new MemoryImageStore({ referrersApi: true });
    const data = await seedRetentionData({
      store,
      host: HOST,
      project: 'aibox',
      key: testKey(),
      now: NOW,
      variants: ['base'],
    });
    const base = data.variants.base!;
    const doomed = await pushReferrer(store, base.weekly[19]!.digest, 1);
    const keep = await pushReferrer(store, base.weekly[0]!.digest, 2);
    const r = await applyRetention(deps(store, { variants }), { yes: true });
    expect(r.errors).toEqual([]);
    expect(r.reports.find((x) => x.digest === doomed)).toMatchObject({ kind: 'referrer', status: 'deleted' });
    expect(await store.headManifest({ registry: HOST, repository: 'aibox/base', digest: doomed })).toBeNull();
    expect(
      await store.headManifest({ registry: HOST, repository: 'aibox/base', digest: keep }),
    ).not.toBeNull();
  });

  it('with a deleteTag port (Harbor), a date tag the channel names keeps its tag although latest holds its digest', async () => {
    const store = new MemoryImageStore({ tagDelete: true });
    const data = await seedRetentionData({
      store,
      host: HOST,
      project: 'aibox',
      key: testKey(),
      now: NOW,
      variants: ['base'],
    });
    const base = data.variants.base!;
    const deleted: string[] = [];
    const r = await applyRetention(
      deps(store, {
        variants,
        deleteTag: async (ref) => {
          deleted.push(ref.tag);
          await store.deleteManifest({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
        },
      }),
      { yes: true },
    );
    expect(r.errors).toEqual([]);
    const tags = await tagsOf(store, 'aibox/base');
    expect(tags).toContain('latest');
    expect(
      (await store.headManifest({ registry: HOST, repository: 'aibox/base', tag: 'latest' }))?.digest,
    ).toBe(base.latest);
    // Week 12 is the current channel's digest: rollback finds it by its date tag, so the tag stays.
    expect(tags).toContain(base.weekly[12]!.tag);
    expect(deleted).toEqual([]);
    expect(r.plan.tagDeletions).toEqual([]);
  });
});

describe('the tag-delete seam', () => {
  it('with a deleteTag port (Harbor), a dropped date tag goes alone while latest keeps its digest', async () => {
    const store = new MemoryImageStore({ tagDelete: true });
    const data = await seedRetentionData({
      store,
      host: HOST,
      project: 'aibox',
      key: testKey(),
      now: NOW,
      variants: ['base'],
    });
    const old = data.variants.base!.weekly[18]!;
    const m = await store.getManifest({ registry: HOST, repository: 'aibox/base', digest: old.digest });
    await store.putManifest(
      { registry: HOST, repository: 'aibox/base', tag: 'latest' },
      m.bytes,
      m.descriptor.mediaType,
    );
    const deleted: string[] = [];
    const r = await applyRetention(
      deps(store, {
        variants: { base: defaultVariants().base! },
        deleteTag: async (ref) => {
          deleted.push(ref.tag);
          await store.deleteManifest({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
        },
      }),
      { yes: true },
    );
    expect(r.errors).toEqual([]);
    expect(deleted).toEqual([old.tag]);
    const tags = await tagsOf(store, 'aibox/base');
    expect(tags).not.toContain(old.tag);
    expect(
      (await store.headManifest({ registry: HOST, repository: 'aibox/base', tag: 'latest' }))?.digest,
    ).toBe(old.digest);
    expect(tags).toContain(`${old.digest.replace(':', '-')}.sig`);
  });
});
