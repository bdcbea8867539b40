/**
 * The developer workflows (preflight, update) in seconds on MemoryImageStore and a fake engine: the rules that the
 * e2e tests cannot cover cheaply (the high-severity text, floors that never go down, offline without cached
 * material, verification before pull, the state file's integrity checks).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileDevState } from '../../adapters/dev-files.js';
import { exitCodeFor } from '../../cli/exit.js';
import { buildChannel, type Channel, type ChannelEntry } from '../../channel/channel.js';
import { channelRepository, publishChannel } from '../../channel/store.js';
import { isAiboxError } from '../../core/errors.js';
import type { ImageInfo } from '../../engine/engine.js';
import { MediaTypes } from '../../oci/manifest.js';
import { MemoryImageStore } from '../../oci/memory-store.js';
import { publicKeyMaterial, type SigningKey } from '../../signing/keys.js';
import type { TrustedKey } from '../../signing/trust.js';
import { signImage } from '../../signing/workflows.js';
import { preflight, securityUpdateMessage } from '../preflight.js';
import { emptyDevState, memoryDevState, type DevState } from '../state.js';
import { update } from '../update.js';

const HOST = 'registry.test';
const enc = (s: string) => new TextEncoder().encode(s);
const key = (): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: publicKeyMaterial(publicKey) };
};
const ours = key();
const theirs = key();
const trust: TrustedKey[] = [
  { name: 'platform', publicKey: ours.publicKey, notBefore: null, notAfter: null, createdAt: null },
];

interface World {
  store: MemoryImageStore;
  channel: Channel | null;
  current: string | null;
}

/** Image created times by digest: what the fake engine reports after a pull (podman reads the config). */
const createdOf = new Map<string, string>();

async function pushImage(w: World, variant: string, tag: string, signer: SigningKey | null) {
  const ref = { registry: HOST, repository: `aibox/${variant}` };
  const cfg = await w.store.pushBlob(ref, enc(JSON.stringify({ os: 'linux', tag })));
  const lay = await w.store.pushBlob(ref, enc(`layer ${tag}`));
  const m = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: lay.digest, size: lay.size }],
    }),
  );
  const d = await w.store.putManifest({ ...ref, tag }, m, MediaTypes.OCI_MANIFEST);
  if (signer)
    await signImage({
      client: w.store,
      ref: { ...ref, digest: d.digest },
      key: signer,
      signer: 'ci',
      now: new Date(),
    });
  return d.digest;
}

async function publish(w: World, entries: ChannelEntry[], opts: { lowerFloors?: string[] } = {}) {
  const next = buildChannel(w.channel, entries, new Date(), opts);
  const pub = await publishChannel(w.store, channelRepository(HOST, 'aibox'), next, {
    expectCurrent: w.current,
    sign: async (ref) => {
      await signImage({ client: w.store, ref, key: ours, signer: 'ci', now: new Date() });
    },
  });
  w.channel = next;
  w.current = pub.digest;
}

/** A fake engine holding local images by reference; records pulls. */
function fakeEngine(images: Record<string, Partial<ImageInfo>>) {
  const pulls: string[] = [];
  const info = (ref: string): ImageInfo => {
    const i = images[ref] ?? {};
    return {
      id: 'x',
      digest: '',
      created: '',
      labels: {},
      architecture: '',
      os: '',
      size: 0,
      repoTags: [],
      repoDigests: [],
      ...i,
    };
  };
  return {
    pulls,
    inspectImage: async (ref: string) => {
      const { AiboxError } = await import('../../core/errors.js');
      if (!images[ref]) throw new AiboxError({ code: 'NOT_FOUND', message: `${ref} not local` });
      return info(ref);
    },
    pull: (ref: string) => {
      pulls.push(ref);
      const digest = ref.slice(ref.indexOf('@') + 1);
      images[ref] = { digest, created: createdOf.get(digest) ?? new Date().toISOString() };
      return Promise.resolve({ imageId: 'x' });
    },
    tag: (src: string, dst: string) => {
      images[dst] = images[src] as Partial<ImageInfo>;
      return Promise.resolve();
    },
  };
}

const hour = 3_600_000;
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function installed(w: World, variant: string, created: number) {
  const digest = await pushImage(w, variant, '24.04-20260215', ours);
  createdOf.set(digest, iso(created));
  const state = memoryDevState();
  const engine = fakeEngine({});
  const deps = {
    registry: () => Promise.resolve(w.store),
    host: HOST,
    project: 'aibox',
    state,
    trustedKeys: trust,
    now: new Date(),
    engine,
    clock: () => 0,
  };
  await publish(w, [{ variant, tag: '24.04-20260215', digest, created: iso(created) }]);
  const r = await update(deps, { variant, onLine: () => {} });
  expect(r.status).toBe('updated');
  return { deps, state, engine, digest };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('preflight', () => {
  it('a high-severity floor: "A high-severity vulnerability" with the real CVE and score, exit 3', async () => {
    expect(securityUpdateMessage({ id: 'CVE-2026-23456', cvss: 7.5 })).toBe(
      [
        'SECURITY UPDATE REQUIRED: A high-severity vulnerability (CVE-2026-23456, CVSS 7.5) has been',
        "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
      ].join('\n'),
    );
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps } = await installed(w, 'base', Date.now() - 48 * hour);
    const newer = await pushImage(w, 'base', '24.04-20260221', ours);
    const created = iso(Date.now() - hour);
    await publish(w, [
      {
        variant: 'base',
        tag: '24.04-20260221',
        digest: newer,
        created,
        minImageCreated: created,
        cve: { id: 'CVE-2026-23456', cvss: 7.5 },
      },
    ]);
    const p = await preflight(deps, { variant: 'base', online: true });
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.kind).toBe('floor');
    expect(p.error.message).toContain('A high-severity vulnerability (CVE-2026-23456, CVSS 7.5)');
    expect(exitCodeFor(p.error)).toBe(3);
  });

  it('the local image from the storage lookup (no podman process) when given; its digest still decides', async () => {
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps, digest } = await installed(w, 'base', Date.now() - 48 * hour);
    const asked: string[] = [];
    const engine = {
      ...deps.engine,
      inspectImage: () => Promise.reject(new Error('podman must not run: storage answered')),
    };
    const localImage = (ref: string, wanted: string) => {
      asked.push(`${ref} ${wanted}`);
      return Promise.resolve({ digest, repoDigests: [], created: iso(Date.now() - 48 * hour) });
    };
    const p = await preflight({ ...deps, engine, localImage }, { variant: 'base', online: false });
    expect(p.ok).toBe(true);
    expect(asked).toEqual([`${HOST}/aibox/base:24.04-20260215 ${digest}`]);
    // a lookup answering another digest (podman's answer for a replaced image): exit 12, as with inspect
    const other = {
      ...deps,
      engine,
      localImage: () =>
        Promise.resolve({ digest: `sha256:${'e'.repeat(64)}`, repoDigests: [], created: iso(Date.now()) }),
    };
    const bad = await preflight(other, { variant: 'base', online: false });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.kind).toBe('signature');
  });

  it('the highest floor ever seen is kept: a channel that lowers it does not let the old image pass', async () => {
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps, digest } = await installed(w, 'base', Date.now() - 48 * hour);
    const newer = await pushImage(w, 'base', '24.04-20260221', ours);
    const created = iso(Date.now() - hour);
    await publish(w, [
      {
        variant: 'base',
        tag: '24.04-20260221',
        digest: newer,
        created,
        minImageCreated: created,
        cve: { id: 'CVE-2026-1', cvss: 9.1 },
      },
    ]);
    expect((await preflight(deps, { variant: 'base', online: true })).ok).toBe(false);
    await publish(
      w,
      [{ variant: 'base', tag: '24.04-20260215', digest, created: iso(Date.now() - 48 * hour) }],
      { lowerFloors: ['base'] },
    );
    expect(w.channel?.variants.base?.minImageCreated).toBeNull();
    const p = await preflight(deps, { variant: 'base', online: true });
    expect(p.ok ? 'ok' : p.kind).toBe('floor');
  });

  it('offline with no signature cached for the local digest: refused as a signature failure (exit 12), never passed', async () => {
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps, state } = await installed(w, 'base', Date.now() - hour);
    expect((await preflight(deps, { variant: 'base', online: false })).ok).toBe(true);
    const s = state.state;
    const img = s.images.base;
    if (!img) throw new Error('no image');
    state.state = {
      ...s,
      images: { base: { ...img, signatures: { ...img.signatures, digest: `sha256:${'0'.repeat(64)}` } } },
    };
    const p = await preflight(deps, { variant: 'base', online: false });
    expect(p.ok ? 'ok' : p.kind).toBe('signature');
    if (!p.ok) expect(exitCodeFor(p.error)).toBe(12);
  });
});

describe('preflight writes', () => {
  it('a check that learns nothing new writes nothing (the state file is not rewritten on every start)', async () => {
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps, state } = await installed(w, 'base', Date.now() - hour);
    expect((await preflight(deps, { variant: 'base', online: true })).ok).toBe(true);
    let writes = 0;
    const write = state.write.bind(state);
    state.write = (s) => {
      writes++;
      return write(s);
    };
    expect((await preflight(deps, { variant: 'base', online: true })).ok).toBe(true);
    expect((await preflight(deps, { variant: 'base', online: false })).ok).toBe(true);
    expect(writes).toBe(0);
  });
});

describe('update', () => {
  it('verifies the remote digest before pulling: an image signed by another key is never pulled', async () => {
    const w: World = { store: new MemoryImageStore(), channel: null, current: null };
    const { deps, engine } = await installed(w, 'base', Date.now() - hour);
    const evil = await pushImage(w, 'base', '24.04-20260221', theirs);
    await publish(w, [{ variant: 'base', tag: '24.04-20260221', digest: evil, created: iso(Date.now()) }]);
    const before = engine.pulls.length;
    const e = await update(deps, { variant: 'base', onLine: () => {} }).catch((x: unknown) => x);
    expect(isAiboxError(e, 'NO_MATCHING_SIGNATURE')).toBe(true);
    expect(engine.pulls.length).toBe(before);
  });
});

describe('the developer state file', () => {
  it('round-trips, and a changed byte or a foreign file is CACHE_INVALID naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-devstate-'));
    dirs.push(dir);
    const port = fileDevState(dir);
    expect(await port.read()).toEqual(emptyDevState());
    const s: DevState = {
      ...emptyDevState(),
      seen: { key: 'h/p', sequence: 7, digest: `sha256:${'a'.repeat(64)}`, at: 'now' },
    };
    await port.write(s);
    expect(await port.read()).toEqual(s);
    const text = await readFile(port.where, 'utf8');
    for (const bad of [text.replace('7', '8'), '[]', '{"sha256":"x","body":"{}"}', 'x'.repeat(10)]) {
      await writeFile(port.where, bad);
      const e = await port.read().catch((x: unknown) => x);
      expect(isAiboxError(e, 'CACHE_INVALID')).toBe(true);
      expect((e as Error).message).toContain(port.where);
    }
  });
});
