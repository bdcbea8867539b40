/**
 * Test helper: the realistic retention data set of issue 11, pushed through any `ImageStore` (the
 * memory store or a real docker-registry): per variant 20 weekly date tags over 20 weeks, `-cve-`
 * tags aged 10, 80, 100 and 200 days, `latest` rolled back onto an old digest that a date tag shares,
 * a channel history of 6 sequences, a security floor on `base`, a cosign signature on every image,
 * the CVE records artifact and a staging leftover. Images are tiny synthetic manifests (config with
 * `created` + one small layer), so seeding takes well under a second per variant.
 */
import { createHash } from 'node:crypto';
import { buildChannel, type Channel, type ChannelEntry } from '../../src/channel/channel.js';
import { channelRepository, publishChannel } from '../../src/channel/store.js';
import { defaultVariants } from '../../src/config/model.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import type { ImageStore } from '../../src/oci/store.js';
import type { SigningKey } from '../../src/signing/keys.js';
import { signImage } from '../../src/signing/workflows.js';
import { formatTag } from '../../src/tags/tags.js';

const DAY = 86_400_000;
const enc = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Push one tiny image (config with `created`, one layer) under `repository:tag`; returns its digest. */
export async function pushSyntheticImage(
  store: ImageStore,
  registry: string,
  repository: string,
  tag: string,
  created: string,
): Promise<string> {
  const ref = { registry, repository };
  const layer = enc(`layer ${repository} ${tag}`);
  const config = enc(
    JSON.stringify({
      created,
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'dev.aibox.managed': 'true' } },
      rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    }),
  );
  await store.pushBlob(ref, layer);
  await store.pushBlob(ref, config);
  const manifest = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: { mediaType: MediaTypes.OCI_CONFIG, digest: sha(config), size: config.byteLength },
      layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: sha(layer), size: layer.byteLength }],
    }),
  );
  return (await store.putManifest({ ...ref, tag }, manifest, MediaTypes.OCI_MANIFEST)).digest;
}

export interface SeedOptions {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  readonly key: SigningKey;
  /** The time the data set is "now" for (plan with the same `now`). */
  readonly now: Date;
  /** Variants to seed (default: the runbook's five). */
  readonly variants?: readonly string[];
  /** Weekly tags per variant (default 20). */
  readonly weeks?: number;
}

export interface SeededVariant {
  readonly repository: string;
  readonly prefix: string;
  /** weekly[w] = tag and digest of the build w weeks (+1 day) ago. */
  readonly weekly: readonly { tag: string; digest: string; created: string }[];
  readonly cve: readonly { tag: string; digest: string; ageDays: number }[];
  readonly latest: string;
}

export interface SeededData {
  readonly variants: Readonly<Record<string, SeededVariant>>;
  /** The tags (signatures included) that must remain after `retention apply` with the default config. */
  readonly expectedKept: Readonly<Record<string, readonly string[]>>;
  readonly expectedDeletedDigests: number;
}

/** Weeks the channel sequences 1..6 point at (6 = current: the rollback onto week 12). */
const CHANNEL_WEEKS = [17, 16, 15, 14, 0, 12];
const LATEST_WEEK = 12;
const FLOOR_WEEK = 13;
const CVE_AGES = [10, 80, 100, 200];

const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

/** Seed the data set; returns what must be kept. */
export async function seedRetentionData(o: SeedOptions): Promise<SeededData> {
  const all = defaultVariants();
  const names = o.variants ?? Object.keys(all);
  const weeks = o.weeks ?? 20;
  const now = o.now.getTime();
  const variants: Record<string, SeededVariant> = {};
  const sign = async (repository: string, digest: string) => {
    await signImage({
      client: o.store,
      ref: { registry: o.host, repository, digest },
      key: o.key,
      signer: 'test',
      now: o.now,
    });
  };
  for (const name of names) {
    const prefix = all[name]?.tagPrefix ?? name;
    const repository = `${o.project}/${name}`;
    const weekly: { tag: string; digest: string; created: string }[] = [];
    for (let w = 0; w < weeks; w++) {
      const created = new Date(now - (7 * w + 1) * DAY + 4 * 3_600_000).toISOString();
      const tag = formatTag({ prefix, date: created.slice(0, 10) });
      const digest = await pushSyntheticImage(o.store, o.host, repository, tag, created);
      await sign(repository, digest);
      weekly.push({ tag, digest, created });
    }
    const cve: { tag: string; digest: string; ageDays: number }[] = [];
    for (const [i, ageDays] of CVE_AGES.entries()) {
      const created = new Date(now - ageDays * DAY + 5 * 3_600_000).toISOString();
      const tag = formatTag({ prefix, date: created.slice(0, 10), cve: `CVE-2026-${10000 + i}` });
      const digest = await pushSyntheticImage(o.store, o.host, repository, tag, created);
      await sign(repository, digest);
      cve.push({ tag, digest, ageDays });
    }
    // `latest` rolled back onto an old build (same manifest bytes: same digest as that date tag).
    const back = weekly[Math.min(LATEST_WEEK, weeks - 1)];
    if (!back) throw new Error('need weeks');
    const got = await o.store.getManifest({ registry: o.host, repository, digest: back.digest });
    await o.store.putManifest(
      { registry: o.host, repository, tag: 'latest' },
      got.bytes,
      got.descriptor.mediaType,
    );
    variants[name] = { repository, prefix, weekly, cve, latest: back.digest };
  }

  // Channel history: 6 sequences, the last one current; base carries a floor (its first fixed image: week 13).
  const repo = channelRepository(o.host, o.project);
  let prev: Channel | null = null;
  let current: string | null = null;
  for (const [i, w] of CHANNEL_WEEKS.entries()) {
    const entries: ChannelEntry[] = names.map((name) => {
      const v = variants[name];
      const b = v?.weekly[Math.min(w, weeks - 1)];
      if (!v || !b) throw new Error('seed');
      const floor = name === 'base' && i === CHANNEL_WEEKS.length - 1 ? v.weekly[FLOOR_WEEK] : undefined;
      return {
        variant: name,
        tag: b.tag,
        digest: b.digest,
        created: b.created,
        ...(floor
          ? {
              mandatoryUpdate: true,
              minImageDate: floor.created.slice(0, 10),
              minImageCreated: floor.created,
            }
          : {}),
      };
    });
    const doc: Channel = buildChannel(prev, entries, now - (CHANNEL_WEEKS.length - i) * 60_000);
    const pub = await publishChannel(o.store, repo, doc, {
      sign: async (ref) => {
        await signImage({ client: o.store, ref, key: o.key, signer: 'test', now: o.now });
      },
      expectCurrent: current,
    });
    current = pub.digest;
    prev = doc;
  }

  // The CVE records (issue 9) and a staging leftover of a crashed run.
  await pushSyntheticImage(o.store, o.host, `${o.project}/cve-records`, 'current', o.now.toISOString());
  const stagingVariant = names[0] ?? 'base';
  await pushSyntheticImage(
    o.store,
    o.host,
    `${o.project}/staging/${stagingVariant}`,
    'run-crashed',
    o.now.toISOString(),
  );

  // What the default config keeps.
  const expectedKept: Record<string, string[]> = {};
  let expectedDeletedDigests = 0;
  const protectedWeeks = new Set([...CHANNEL_WEEKS.slice(-4), LATEST_WEEK]);
  for (const [name, v] of Object.entries(variants)) {
    const keep = new Set<number>();
    for (let w = 0; w < Math.min(8, weeks); w++) keep.add(w);
    for (const w of protectedWeeks) if (w < weeks) keep.add(w);
    if (name === 'base' && FLOOR_WEEK < weeks) keep.add(FLOOR_WEEK);
    const tags = ['latest'];
    v.weekly.forEach((b, w) => {
      if (keep.has(w)) tags.push(b.tag, sigTag(b.digest));
      else expectedDeletedDigests += 2;
    });
    for (const c of v.cve) {
      if (c.ageDays < 90) tags.push(c.tag, sigTag(c.digest));
      else expectedDeletedDigests += 2;
    }
    expectedKept[v.repository] = tags.sort();
  }
  expectedDeletedDigests += 1; // the staging leftover
  return { variants, expectedKept, expectedDeletedDigests };
}
