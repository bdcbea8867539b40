/**
 * The rebuild workflow's resume rules against a real CNCF distribution registry, with a fake Engine (the Engine
 * port; "builds" push a tiny image whose config carries the build's labels) and a fake Scanner:
 *  - a published date tag never moves without --replace; a tag left unsigned (crash between tag and sign) is
 *    re-scanned and signed in place (issue 7 §4);
 *  - the inputs hash the whole build context and the build args (a changed file forces a rebuild);
 *  - staging manifests are removed once the run is promoted; a registry without deletes keeps them, said once.
 */
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryChannelState } from '../../src/channel/state.js';
import { validatePlatformConfig, type PlatformConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/log.js';
import type { Engine } from '../../src/engine/engine.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/reference.js';
import { planRun } from '../../src/pipeline/plan.js';
import { newRunRecord, type RunRecord } from '../../src/pipeline/record.js';
import { rebuild, type RebuildDeps } from '../../src/pipeline/rebuild.js';
import type { ScanReport } from '../../src/scan/report.js';
import type { Scanner, ScanTarget } from '../../src/scan/scanner.js';
import { generateKeyPair, loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import { signatureTag } from '../../src/signing/sigmanifest.js';
import type { TrustedKey } from '../../src/signing/trust.js';
import { verifyImage } from '../../src/signing/workflows.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const enc = (s: string) => new TextEncoder().encode(s);
const DATE = '2026-02-22';
const TAG = '24.04-20260222';
let reg: TestRegistry;
let noDelete: TestRegistry;
let client: RegistryClient;
let key: SigningKey;
let trust: TrustedKey[];
let dir: string;
let run = 0;

beforeAll(async () => {
  [reg, noDelete] = await Promise.all([startRegistry(), startRegistry({ deleteEnabled: false })]);
  client = createRegistryClient({ env: {}, retries: 1 });
  const pair = await generateKeyPair('pw');
  key = await loadPrivateKey(pair.privateKeyPem, 'pw', 'test');
  trust = [{ name: 't', publicKey: key.publicKey, notBefore: null, notAfter: null, createdAt: null }];
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await Promise.all([maybeUnset(reg)?.stop(), maybeUnset(noDelete)?.stop()]);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-resume-'));
  await writeFile(join(dir, 'Containerfile'), 'ARG BASE_IMAGE\nFROM $BASE_IMAGE\nCOPY motd /etc/motd\n');
  await writeFile(join(dir, 'motd'), 'hello\n');
  return () => rm(dir, { recursive: true, force: true });
});

/** A fake engine: build records its labels; push uploads a tiny image whose config holds them. */
function fakeEngine(host: string) {
  const builds: Record<string, string>[] = [];
  const labelsOf = new Map<string, Record<string, string>>();
  const engine: Engine = {
    build: async (o) => {
      builds.push({ ...o.labels });
      for (const t of o.tags) labelsOf.set(t, { ...o.labels });
      return { imageId: `id${builds.length}` };
    },
    push: async (local, dest) => {
      const ref = parseReference(dest);
      const repo = { registry: host, repository: ref.repository };
      const labels = labelsOf.get(local) ?? {};
      const cfg = await client.pushBlob(
        repo,
        enc(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: labels } })),
      );
      const lay = await client.pushBlob(repo, enc(`layer ${labels['org.opencontainers.image.created']}`));
      const manifest = enc(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_MANIFEST,
          config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
          layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: lay.digest, size: lay.size }],
        }),
      );
      const d = await client.putManifest({ ...repo, tag: ref.tag ?? 'x' }, manifest, MediaTypes.OCI_MANIFEST);
      return { digest: d.digest };
    },
    pull: async () => ({ imageId: 'base' }),
    tag: async () => {},
    inspectImage: async () => {
      throw new Error('not used');
    },
    imageExists: async () => true,
    run: async () => {
      throw new Error('not used');
    },
    rm: async () => {},
    rmi: async () => {},
  };
  return { engine, builds };
}

function fakeScanner() {
  const scanned: ScanTarget[] = [];
  const scanner: Scanner = {
    name: 'trivy',
    scan: async (t): Promise<ScanReport> => {
      scanned.push(t);
      return {
        scanner: 'trivy',
        image: t.reference,
        digest: t.digest,
        summary: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
        findings: [],
      };
    },
  };
  return { scanner, scanned };
}

async function setup(r: TestRegistry) {
  // an upstream base image in the registry (resolve-base pins it by digest)
  const baseRepo = { registry: r.host, repository: 'upstream/ubuntu' };
  const cfg = await client.pushBlob(baseRepo, enc('{"architecture":"amd64","os":"linux"}'));
  const m = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [],
    }),
  );
  await client.putManifest({ ...baseRepo, tag: '24.04' }, m, MediaTypes.OCI_MANIFEST);
  const project = `r${++run}`;
  const config: PlatformConfig = validatePlatformConfig({
    registry: { project },
    scan: { scanner: 'trivy' },
    baseImage: `${r.host}/upstream/ubuntu:24.04`,
    variants: { base: { tagPrefix: '24.04', from: null, containerfile: 'Containerfile' } },
  });
  return { project, config };
}

async function runOnce(
  r: TestRegistry,
  s: { project: string; config: PlatformConfig },
  opts: { replace?: boolean; promote?: boolean } = {},
) {
  const fe = fakeEngine(r.host);
  const fs = fakeScanner();
  const notes: string[] = [];
  const plan = planRun(s.config, { date: DATE });
  const record = newRunRecord({
    runId: `run${++run}`,
    date: DATE,
    now: new Date(),
    registry: r.host,
    project: s.project,
    variants: plan.variants.map((p) => ({ name: p.name, tag: p.tag, repository: p.repository })),
  });
  const deps: RebuildDeps = {
    engine: fe.engine,
    store: client,
    scanner: fs.scanner,
    key,
    trust,
    logger: silentLogger,
    progress: { step: () => {}, note: (l) => void notes.push(l), done: () => {} },
    now: () => new Date(),
    save: async () => {},
    channelState: memoryChannelState(),
  };
  const out: RunRecord = await rebuild(deps, {
    config: s.config,
    configDir: dir,
    host: r.host,
    plan,
    record,
    revision: 'test',
    signer: 'ci@test',
    replace: opts.replace ?? false,
    promote: opts.promote ?? false,
  });
  return { record: out, builds: fe.builds, scanned: fs.scanned, notes };
}

const tagDigest = async (r: TestRegistry, project: string, tag = TAG) =>
  (await client.headManifest({ registry: r.host, repository: `${project}/base`, tag }))?.digest ?? null;

describe('a published date tag never moves without --replace', () => {
  it('a tag left unsigned (crash between tag and sign) is re-scanned and signed in place, not rebuilt', async () => {
    const s = await setup(reg);
    const first = await runOnce(reg, s);
    expect(first.record.result).toBe('success');
    const digest = (await tagDigest(reg, s.project))!;
    // the crash: the signature never got written
    await client.deleteManifest({
      registry: reg.host,
      repository: `${s.project}/base`,
      digest: (await client.headManifest({
        registry: reg.host,
        repository: `${s.project}/base`,
        tag: signatureTag(digest),
      }))!.digest,
    });
    const ref = { registry: reg.host, repository: `${s.project}/base`, digest };
    expect((await verifyImage({ client, ref, trustedKeys: trust, now: new Date() })).ok).toBe(false);

    const again = await runOnce(reg, s);
    expect(again.record.result).toBe('success');
    expect(again.builds).toHaveLength(0); // not rebuilt
    expect(await tagDigest(reg, s.project)).toBe(digest); // the tag did not move
    expect(again.scanned.map((t) => t.digest)).toEqual([digest]); // the bytes being signed were scanned
    expect((await verifyImage({ client, ref, trustedKeys: trust, now: new Date() })).ok).toBe(true);
    const v = again.record.variants.base!;
    expect(v.steps.find((x) => x.name === 'build')?.status).toBe('skipped');
    expect(v.steps.find((x) => x.name === 'sign')?.status).toBe('ok');
    expect(again.notes.join('\n')).toMatch(
      /not signed: re-scanning and signing .* \(the tag does not move\)/,
    );
  });

  it('--replace still rebuilds and moves it deliberately', async () => {
    const s = await setup(reg);
    await runOnce(reg, s);
    const before = await tagDigest(reg, s.project);
    await writeFile(join(dir, 'motd'), 'changed\n');
    const replaced = await runOnce(reg, s, { replace: true });
    expect(replaced.record.result).toBe('success');
    expect(replaced.builds).toHaveLength(1);
    expect(await tagDigest(reg, s.project)).not.toBe(before);
  });
});

describe('resume inputs cover the whole build context and the build args', () => {
  it('same context: resumed without building; a changed, added or chmod-ed file: not the same inputs', async () => {
    const s = await setup(reg);
    const first = await runOnce(reg, s);
    expect(first.builds).toHaveLength(1);
    const same = await runOnce(reg, s);
    expect(same.record.variants.base?.status).toBe('resumed');
    expect(same.builds).toHaveLength(0);

    for (const change of [
      () => writeFile(join(dir, 'motd'), 'hello, changed\n'),
      () => writeFile(join(dir, 'extra.conf'), 'x\n'),
      () => chmod(join(dir, 'motd'), 0o755),
    ]) {
      await change();
      const r = await runOnce(reg, s);
      // the date tag exists with other inputs: refused without --replace (a rebuild is forced, deliberately)
      expect(r.record.variants.base?.status).toBe('failed');
      expect(r.record.variants.base?.error?.message).toMatch(/already exists with another image/);
      expect(r.builds).toHaveLength(0);
      expect(r.record.variants.base?.inputs).not.toBe(first.record.variants.base?.inputs);
    }
  });
});

describe('staging repositories', () => {
  it('hold no manifest once the run is promoted (leftovers of a crashed run included)', async () => {
    const s = await setup(reg);
    const staging = { registry: reg.host, repository: `${s.project}/staging/base` };
    // a crashed earlier run left a staging manifest behind
    const cfg = await client.pushBlob(staging, enc('{"architecture":"amd64","os":"linux"}'));
    await client.putManifest(
      { ...staging, tag: 'crashed-run' },
      enc(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_MANIFEST,
          config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
          layers: [],
        }),
      ),
      MediaTypes.OCI_MANIFEST,
    );
    const r = await runOnce(reg, s, { promote: true });
    expect(r.record.failure).toBeUndefined();
    expect(r.record.promoted).toBe(true);
    expect(await client.listTags(staging).catch(() => [])).toEqual([]);
    // distribution keeps the (now empty) repository name in the catalog: documented in docs/pipeline.md
    expect(await client.catalog(reg.host)).toContain(`${s.project}/staging/base`);
  });

  it('a registry without deletes keeps them, and the run says so once (never fatal)', async () => {
    const s = await setup(noDelete);
    const r = await runOnce(noDelete, s, { promote: true });
    expect(r.record.promoted).toBe(true);
    expect(r.record.result).toBe('success');
    const staging = { registry: noDelete.host, repository: `${s.project}/staging/base` };
    expect((await client.listTags(staging)).length).toBe(1);
    expect(r.notes.filter((n) => /^staging: 1 manifest\(s\) left in .*staging/.test(n))).toHaveLength(1);
  });
});
