/**
 * A whole registry world in memory for fast workflow tests: MemoryImageStore, the fake Engine and Scanner,
 * one signing key, a ticking clock, and a config of three variants (`base`, and `app` and `tool` built FROM it)
 * whose Containerfiles live in a temp dir. `runRebuild` / `runPromote` run exactly as the CLI runs them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel } from '../../channel/channel.js';
import { channelRepository, readChannel } from '../../channel/store.js';
import { validatePlatformConfig, type PlatformConfig } from '../../config/schema.js';
import type { Logger } from '../../core/log.js';
import { MemoryImageStore } from '../../oci/memory-store.js';
import type { Reference } from '../../oci/reference.js';
import type { ImageStore } from '../../oci/store.js';
import { publicKeyMaterial, type SigningKey } from '../../signing/keys.js';
import type { TrustedKey } from '../../signing/trust.js';
import { signImage, verifyImage } from '../../signing/workflows.js';
import { FakeEngine } from '../../../test/doubles/fake-engine.js';
import { FakeScanner } from '../../../test/doubles/fake-scanner.js';
import { PENDING_TAG } from '../promote.js';
import type { RunRecord } from '../record.js';
import { memoryChannelState, type ChannelState } from '../../channel/state.js';
import { runPromote, runRebuild, type RunDeps } from '../run.js';

export const HOST = 'registry.test';
export const PROJECT = 'aibox';
export const VARIANTS = ['app', 'base', 'tool'] as const;
export const OLD = '2026-01-01';
export const NEW = '2026-01-08';
const CONTAINERFILE = (name: string) => `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nRUN echo ${name}\n`;

let keyOnce: SigningKey | undefined;
/** One ECDSA P-256 key for every test in a file (no key file: nothing to decrypt). */
export function testKey(): SigningKey {
  if (!keyOnce) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keyOnce = { privateKey, publicKey: publicKeyMaterial(publicKey) };
  }
  return keyOnce;
}

export function trustOf(key: SigningKey): TrustedKey[] {
  return [{ name: 'test', publicKey: key.publicKey, notBefore: null, notAfter: null, createdAt: null }];
}

export interface World {
  readonly store: MemoryImageStore;
  /** This machine's channel state, in memory (forked with the store). */
  readonly channelState: ReturnType<typeof memoryChannelState>;
  readonly engine: FakeEngine;
  readonly scanner: FakeScanner;
  readonly key: SigningKey;
  readonly config: PlatformConfig;
  readonly dir: string;
  readonly warnings: string[];
  readonly deps: RunDeps;
  /** Every successful write through the workflows' store, in order (what `forks` replays). */
  readonly writes: readonly Write[];
  /** The clock's current time (ms). */
  clock(): number;
  /** Move the clock forward (ms). */
  advance(ms: number): void;
  /** Whether the scanner port is given at all (false = scan.scanner: none). */
  scanning: boolean;
  dispose(): Promise<void>;
}

type Write = readonly ['pushBlob' | 'putManifest' | 'mountBlob' | 'deleteManifest', readonly unknown[]];

/** The store the workflows see: the memory store, with every successful write logged (for `fork`). */
function recording(store: MemoryImageStore, log: Write[]): ImageStore {
  const write =
    <A extends unknown[], R>(op: Write[0], f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const r = await f(...a);
      log.push([op, a]);
      return r;
    };
  return {
    headManifest: (r) => store.headManifest(r),
    getManifest: (r) => store.getManifest(r),
    putManifest: write('putManifest', (r: Reference, b: Uint8Array, m: string) => store.putManifest(r, b, m)),
    deleteManifest: write('deleteManifest', (r: Reference) => store.deleteManifest(r)),
    headBlob: (r, d) => store.headBlob(r, d),
    getBlob: (r, d, o) => store.getBlob(r, d, o),
    pushBlob: write('pushBlob', (r: Reference, d: Uint8Array, o?: { mediaType?: string }) =>
      store.pushBlob(r, d, o),
    ),
    mountBlob: write('mountBlob', (r: Reference, f: string, d: string) => store.mountBlob(r, f, d)),
    listTags: (r) => store.listTags(r),
    catalog: (h) => store.catalog(h),
    referrers: (r, o) => store.referrers(r, o),
  };
}

interface Shared {
  readonly dir: string;
  readonly config: PlatformConfig;
  readonly t: number;
  readonly writes: readonly Write[];
  /** This machine's channel state (published/seen marks) at fork time. */
  readonly state: Record<string, ChannelState>;
}

/** A fresh world; nothing published yet. */
export async function newWorld(): Promise<World> {
  // Run records are saved after every step: keep them in memory-backed storage where there is one.
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'aibox-world-'));
  for (const v of VARIANTS) {
    await mkdir(join(dir, v), { recursive: true });
    await writeFile(join(dir, v, 'Containerfile'), CONTAINERFILE(v));
  }
  const config = validatePlatformConfig({
    registry: { project: PROJECT },
    baseImage: 'localhost/aibox-local-base:test',
    scan: { scanner: 'trivy' },
    variants: {
      base: { tagPrefix: '24.04', from: null, containerfile: 'base/Containerfile' },
      app: { tagPrefix: '1-24.04', from: 'base', containerfile: 'app/Containerfile' },
      tool: { tagPrefix: '2-24.04', from: 'base', containerfile: 'tool/Containerfile' },
    },
  });
  const w = await makeWorld({ dir, config, t: Date.parse('2026-01-08T02:00:00Z'), writes: [], state: {} });
  w.dispose = () => rm(dir, { recursive: true, force: true });
  return w;
}

/**
 * Forks of a world as it is now: each a new memory store holding the same content (the writes so far are
 * replayed), the same clock and files. Milliseconds each, so a test can start from one state for every k.
 */
export function forks(w: World): () => Promise<World> {
  const shared: Shared = {
    dir: w.dir,
    config: w.config,
    t: w.clock(),
    writes: [...w.writes],
    state: structuredClone(w.channelState.data),
  };
  return () => makeWorld(shared);
}

async function makeWorld(sh: Shared): Promise<World> {
  const store = new MemoryImageStore();
  for (const [op, args] of sh.writes) await (store[op] as (...a: unknown[]) => Promise<unknown>)(...args);
  store.resetCalls();
  const writes: Write[] = [...sh.writes];
  const port = recording(store, writes);
  const engine = new FakeEngine(port);
  engine.addLocalImage('localhost/aibox-local-base:test', 'debootstrap');
  const scanner = new FakeScanner();
  const key = testKey();
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (m) => warnings.push(m),
    error: (m) => warnings.push(m),
  };
  let t = sh.t;
  const channelState = memoryChannelState(structuredClone(sh.state));
  const world: World = {
    store,
    channelState,
    engine,
    scanner,
    key,
    config: sh.config,
    dir: sh.dir,
    warnings,
    writes,
    clock: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    scanning: true,
    deps: {
      config: sh.config,
      configDir: sh.dir,
      target: async () => ({ store: port, host: HOST, project: PROJECT }),
      engine,
      scanner: () => (world.scanning ? scanner : undefined),
      notifier: undefined,
      key: { spec: undefined, load: async () => key },
      trustedKeys: async () => [],
      dataDir: join(sh.dir, 'data'),
      channelState,
      logger,
      now: () => new Date((t += 1000)),
      progress: () => ({ step() {}, note() {}, done() {} }),
    },
    dispose: async () => {},
  };
  return world;
}

/** `aiboxctl rebuild --date D [--no-promote] [--variant …]` in the world. */
export function rebuild(
  w: World,
  date: string,
  o: { promote?: boolean; variants?: string[]; allowUnscanned?: boolean } = {},
): Promise<{ record: RunRecord }> {
  return runRebuild(w.deps, {
    date,
    variants: o.variants ?? [],
    promote: o.promote ?? true,
    replace: false,
    allowUnscanned: o.allowUnscanned ?? false,
    revision: 'test',
  });
}

/** `aiboxctl promote --date D` in the world. */
export function promote(w: World, date: string, o: { variants?: string[]; allowUnscanned?: boolean } = {}) {
  return runPromote(w.deps, { date, variants: o.variants ?? [], allowUnscanned: o.allowUnscanned ?? false });
}

/** The digests a passed record published, per variant. */
export function digestsOf(r: RunRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [v, x] of Object.entries(r.variants)) if (x.digest) out[v] = x.digest;
  return out;
}

export interface Published {
  readonly latest: Record<string, string | null>;
  readonly current: { digest: string; channel: Channel; signed: boolean } | null;
  readonly pending: { digest: string; channel: Channel; signed: boolean } | null;
}

/** What users trust (every latest, channel:current) and the recorded intent (channel:pending), read without faults. */
export async function published(w: World): Promise<Published> {
  const hooks = { beforeCall: undefined, afterCall: undefined };
  w.store.setHooks(hooks);
  const latest: Record<string, string | null> = {};
  for (const v of VARIANTS) {
    latest[v] =
      (await w.store.headManifest({ registry: HOST, repository: `${PROJECT}/${v}`, tag: 'latest' }))
        ?.digest ?? null;
  }
  const repo = channelRepository(HOST, PROJECT);
  const read = async (tag: string) => {
    const head = await w.store.headManifest({ ...repo, tag });
    if (!head) return null;
    const r = await readChannel(w.store, repo, { digest: head.digest });
    const v = await verifyImage({
      client: w.store,
      ref: { ...repo, digest: head.digest },
      trustedKeys: trustOf(w.key),
      now: new Date('2026-01-09T00:00:00Z'),
    });
    return { digest: head.digest, channel: r.channel, signed: v.ok };
  };
  return { latest, current: await read('current'), pending: await read(PENDING_TAG) };
}

/** Sign an image by hand (as `aiboxctl sign` does), with the given payload annotations. */
export async function signByHand(
  w: World,
  repository: string,
  digest: string,
  annotations?: Record<string, string>,
) {
  await signImage({
    client: w.store,
    ref: { registry: HOST, repository, digest },
    key: w.key,
    signer: 'someone',
    now: new Date('2026-01-08T03:00:00Z'),
    ...(annotations ? { annotations } : {}),
  });
}
