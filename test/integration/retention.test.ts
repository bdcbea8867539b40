/**
 * Retention on a real docker-registry (deletes enabled): the realistic data set of issue 11 through
 * the bundled CLI (exact kept set, every kept image still verifies with real cosign), and a registry
 * killed mid-apply (the re-run converges, nothing kept is lost).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultVariants } from '../../src/config/model.js';
import { silentLogger } from '../../src/core/log.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import type { ImageStore } from '../../src/oci/store.js';
import { applyRetention } from '../../src/retention/apply.js';
import { memoryRetentionAudit } from '../../src/retention/audit-file.js';
import { defaultRetentionConfig } from '../../src/retention/rules.js';
import { acquirePipelineLock } from '../../src/pipeline/lock.js';
import { publicKeyMaterial, type SigningKey } from '../../src/signing/keys.js';
import { runBin } from '../helpers/cli.js';
import { cosignVerify, getCosign } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { seedRetentionData, type SeededData } from '../helpers/retention-data.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key: SigningKey = { privateKey, publicKey: publicKeyMaterial(publicKey) };

async function tagsOf(client: RegistryClient, registry: string, repository: string): Promise<string[]> {
  return (await client.listTags({ registry, repository }).catch(() => [] as string[])).sort();
}

describe('retention on docker-registry: the realistic data set', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let dir: string;
  let data: SeededData;
  const now = new Date();

  beforeAll(async () => {
    reg = await startRegistry();
    client = createRegistryClient({ env: {} });
    dir = await mkdtemp(join(tmpdir(), 'aibox-retention-it-'));
    data = await seedRetentionData({ store: client, host: reg.host, project: 'aibox', key, now });
  }, 120_000);
  afterAll(async () => {
    await client.close();
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const ctl = (...args: string[]) =>
    runBin('aiboxctl', ['--registry', `${reg.host}/aibox`, ...args], {
      cwd: dir,
      env: { XDG_DATA_HOME: join(dir, 'data'), XDG_CACHE_HOME: join(dir, 'cache') },
    });

  it('bad flags are usage errors (exit 2), a held pipeline lock refuses apply, over the limit is refused (exit 3)', async () => {
    const badNow = await ctl('retention', 'plan', '--now', 'yesterday', '--json');
    expect(badNow.code).toBe(2);
    expect(JSON.parse(badNow.stdout)).toMatchObject({ error: { code: 'INVALID_DATE' } });
    const badMax = await ctl('retention', 'apply', '--max-delete', '-1', '--json');
    expect(badMax.code).toBe(2);
    expect(JSON.parse(badMax.stdout)).toMatchObject({ error: { code: 'USAGE' } });
    const over = await ctl('retention', 'apply', '--yes', '--max-delete', '0', '--json');
    expect(over.code).toBe(3);
    expect(JSON.parse(over.stdout)).toMatchObject({ error: { code: 'POLICY_REFUSED' } });
    // A rebuild holds the lock (same file, same scope as the pipeline's).
    const lock = await acquirePipelineLock(
      join(dir, 'data', 'aibox', 'locks'),
      `${reg.host}/aibox`,
      'rebuild-run',
      new Date(),
    );
    try {
      const locked = await ctl('retention', 'apply', '--yes', '--json');
      expect(locked.code).toBe(1);
      expect(JSON.parse(locked.stdout)).toMatchObject({ error: { code: 'LOCKED' } });
    } finally {
      await lock.release();
    }
    expect(await tagsOf(client, reg.host, 'aibox/base')).toContain(data.variants.base!.weekly[19]!.tag);
  }, 60_000);

  it('plan shows every tag with its reason; apply without --yes deletes nothing; apply --yes keeps exactly the expected set', async () => {
    const plan = await ctl('retention', 'plan', '--json');
    expect(plan.code, plan.stderr).toBe(0);
    const doc = JSON.parse(plan.stdout) as { data: { tags: { tag: string; reason: { code: string } }[] } };
    const base = data.variants.base!;
    const reasonOf = (tag: string) => doc.data.tags.find((t) => t.tag === tag)?.reason.code;
    expect(reasonOf(base.weekly[12]!.tag)).toBe('channel-current');
    expect(reasonOf(base.weekly[13]!.tag)).toBe('floor');
    expect(reasonOf(base.weekly[14]!.tag)).toBe('channel-history');
    expect(reasonOf(base.weekly[16]!.tag)).toBe('no-rule');
    expect(reasonOf('latest')).toBe('rule');

    const dry = await ctl('retention', 'apply');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing was deleted');
    expect(await tagsOf(client, reg.host, 'aibox/base')).toContain(base.weekly[19]!.tag);

    const run = await ctl('retention', 'apply', '--yes', '--json');
    expect(run.code, run.stderr).toBe(0);
    for (const [repo, tags] of Object.entries(data.expectedKept))
      expect(await tagsOf(client, reg.host, repo), repo).toEqual(tags);
    expect(await tagsOf(client, reg.host, 'aibox/channel')).toHaveLength(13);
    expect(await tagsOf(client, reg.host, 'aibox/cve-records')).toEqual(['current']);
    expect(await tagsOf(client, reg.host, 'aibox/staging/base')).toEqual([]);
    const audit = (await readFile(join(dir, 'data', 'aibox', 'retention', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n');
    expect(audit.filter((l) => (JSON.parse(l) as { event: string }).event === 'deleted')).toHaveLength(
      data.expectedDeletedDigests,
    );

    const again = await ctl('retention', 'apply', '--yes', '--json');
    expect(
      (JSON.parse(again.stdout) as { data: { plan: { deletions: unknown[] } } }).data.plan.deletions,
    ).toEqual([]);
  }, 180_000);

  it('every kept image still verifies with real cosign', async () => {
    const bin = await getCosign();
    if (!bin) return; // getCosign logged loudly why the interop check is skipped
    const pub = join(dir, 'cosign.pub');
    await writeFile(pub, key.publicKey.pem);
    const targets: string[] = [];
    for (const [repo, tags] of Object.entries(data.expectedKept)) {
      const images = tags.filter((t) => !t.endsWith('.sig'));
      for (const t of images) targets.push(`${reg.host}/${repo}:${t}`);
    }
    for (const image of targets) {
      const r = await cosignVerify(bin, pub, image, { cwd: dir });
      expect(r.code, `${image}: ${r.stderr}`).toBe(0);
    }
    expect(targets.length).toBeGreaterThan(50);
    // And cosign really looked: a deleted build is gone for it too.
    const gone = await cosignVerify(
      bin,
      pub,
      `${reg.host}/aibox/base:${data.variants.base!.weekly[19]!.tag}`,
      { cwd: dir },
    );
    expect(gone.code).not.toBe(0);
  }, 300_000);
});

describe('retention on docker-registry: the registry stops mid-apply', () => {
  it('the deletes after the stop fail, the re-run after the restart converges, and no kept tag is lost', async () => {
    const reg = await startRegistry();
    const client = createRegistryClient({ env: {}, retries: 0 });
    try {
      const now = new Date();
      const data = await seedRetentionData({
        store: client,
        host: reg.host,
        project: 'aibox',
        key,
        now,
        variants: ['base'],
      });
      let deletes = 0;
      // The port, delegating to the client; the 6th delete stops the registry first.
      const stopping: ImageStore = {
        headManifest: (r) => client.headManifest(r),
        getManifest: (r) => client.getManifest(r),
        putManifest: (r, b, m) => client.putManifest(r, b, m),
        headBlob: (r, d) => client.headBlob(r, d),
        getBlob: (r, d, o) => client.getBlob(r, d, o),
        pushBlob: (r, d, o) => client.pushBlob(r, d, o),
        mountBlob: (r, f, d) => client.mountBlob(r, f, d),
        listTags: (r) => client.listTags(r),
        catalog: (h) => client.catalog(h),
        referrers: (r, o) => client.referrers(r, o),
        deleteManifest: async (ref) => {
          deletes++;
          if (deletes === 6) await reg.kill();
          return client.deleteManifest(ref);
        },
      };
      const deps = {
        host: reg.host,
        project: 'aibox',
        config: defaultRetentionConfig(),
        variants: { base: defaultVariants().base! },
        now: () => now,
        logger: silentLogger,
        audit: memoryRetentionAudit(),
        lock: () => Promise.resolve({ release: () => Promise.resolve() }),
        runId: 'it',
        concurrency: 1,
      };
      const first = await applyRetention({ ...deps, store: stopping }, { yes: true });
      expect(first.errors.length).toBeGreaterThan(0);
      expect(first.errors[0]?.message).toMatch(/127\.0\.0\.1/);
      await reg.restart();
      const kept = await tagsOf(client, reg.host, 'aibox/base');
      for (const t of data.expectedKept['aibox/base'] ?? []) expect(kept).toContain(t);
      const second = await applyRetention({ ...deps, store: client }, { yes: true });
      expect(second.errors).toEqual([]);
      expect(await tagsOf(client, reg.host, 'aibox/base')).toEqual(data.expectedKept['aibox/base']);
    } finally {
      await client.close();
      await reg.stop();
    }
  }, 120_000);
});
