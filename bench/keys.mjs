// Key-rotation benchmark (issue 10 item 4), one run, side by side, medians.
//   node --import tsx bench/keys.mjs            (AIBOX_BENCH_RUNS overrides the run count)
// (a) what a rotation adds to every `aibox check`: applyKeyAnnouncements on a channel carrying a typical block
//     (1 key added, 1 retired), the first time (parses the new key) and on every later check (steady state), next to the in-process verification of one image signature from cached bytes
//     (what check does anyway) and `node -e 0`;
// (b) `keys rotate --compromised` for 5 images on a real local registry (in process: re-sign 5 images + publish the
//     co-signed channel) next to what an operator would type instead: `cosign sign --key NEW` on each image.
// Writes bench/results/keys.json.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildChannel } from '../src/channel/channel.ts';
import { applyKeyAnnouncements } from '../src/channel/keys.ts';
import { memoryChannelState } from '../src/channel/state.ts';
import { createRegistryClient } from '../src/oci/client.ts';
import { promote } from '../src/pipeline/promote.ts';
import { runKeyRotation } from '../src/pipeline/rotate.ts';
import { generateKeyPair, loadPrivateKey } from '../src/signing/keys.ts';
import { parseSignatureManifest } from '../src/signing/sigmanifest.ts';
import { readPayload, readSignatureManifest } from '../src/signing/store.ts';
import { verifyImageSignatures } from '../src/signing/verify.ts';
import { signImage } from '../src/signing/workflows.ts';
import { cosignSign, getCosign, pushTinyImage } from '../test/helpers/cosign.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { median, writeResults } from './lib.mjs';

const RUNS = Number(process.env.AIBOX_BENCH_RUNS ?? 9);
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const VARIANTS = ['base', 'java', 'node', 'dotnet', 'full'];
const trusted = (pub, name) => ({ name, publicKey: pub, notBefore: null, notAfter: null, createdAt: null });

const reg = await startRegistry();
const client = createRegistryClient({ env: {}, retries: 1 });
const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-keys-'));
try {
  const oldPair = await generateKeyPair('pw');
  const oldKey = await loadPrivateKey(oldPair.privateKeyPem, 'pw', 'old');

  // (a) per-check cost
  const now = new Date();
  const images = [];
  for (const v of VARIANTS) {
    const digest = await pushTinyImage(client, reg.host, `aibox/${v}`, 'bench', v);
    await signImage({
      client,
      ref: { registry: reg.host, repository: `aibox/${v}`, digest },
      key: oldKey,
      signer: 'bench',
      now,
    });
    images.push({ variant: v, digest });
  }
  const newPair = await generateKeyPair('pw2');
  const newKey = await loadPrivateKey(newPair.privateKeyPem, 'pw2', 'new');
  const channel = buildChannel(
    null,
    images.map((i) => ({
      variant: i.variant,
      tag: '24.04-20260301',
      digest: i.digest,
      created: '2026-03-01T00:00:00Z',
    })),
    now,
    {
      keys: {
        add: [
          {
            keyId: newKey.publicKey.fingerprint,
            name: 'new',
            publicKey: newKey.publicKey.pem,
            notBefore: now.toISOString(),
            notAfter: null,
          },
        ],
        retire: [
          {
            keyId: oldKey.publicKey.fingerprint,
            effective: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
          },
        ],
      },
    },
  );
  const store = [trusted(oldKey.publicKey, 'old')];
  const sigRef = { registry: reg.host, repository: 'aibox/base', digest: images[0].digest };
  const sigManifestBytes = await readSignatureManifest(client, sigRef);
  const payloads = new Map();
  for (const layer of parseSignatureManifest(sigManifestBytes).layers)
    payloads.set(layer.digest, await readPayload(client, sigRef, layer));
  const material = { sigManifestBytes, payloads };
  const N = 2000;
  const loop = (f) => {
    const ts = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      for (let i = 0; i < N; i++) f();
      ts.push((performance.now() - t) / N);
    }
    return median(ts);
  };
  const apply = loop(() => applyKeyAnnouncements(store, channel, store[0], now));
  // Every later check: the store already holds the announced key (the carried-forward block changes nothing).
  const applied = applyKeyAnnouncements(store, channel, store[0], now).trusted;
  const steady = loop(() => applyKeyAnnouncements(applied, channel, applied[0], now));
  const verify = loop(() =>
    verifyImageSignatures({
      repository: `${reg.host}/aibox/base`,
      manifestDigest: images[0].digest,
      ...material,
      trustedKeys: store,
      now,
    }),
  );
  const nodeRuns = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    nodeRuns.push(performance.now() - t);
  }

  // (b) the compromise response for 5 images
  await promote(
    {
      store: client,
      host: reg.host,
      project: 'aibox',
      key: oldKey,
      signer: 'bench',
      trust: store,
      now: () => new Date(),
      channelState: memoryChannelState(),
    },
    images.map((i) => ({
      variant: i.variant,
      repository: `aibox/${i.variant}`,
      tag: 'bench',
      digest: i.digest,
      created: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      mandatoryUpdate: false,
      minImageDate: '',
      baseDigest: null,
      scan: 'passed',
    })),
  );
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const config = { signing: { identity: 'bench' } };
  const deps = {
    config,
    target: async () => ({ store: client, host: reg.host, project: 'aibox' }),
    key: { spec: undefined, load: async () => oldKey },
    trustedKeys: async () => [],
    dataDir: join(dir, 'data'),
    now: () => new Date(),
    channelState: memoryChannelState(),
    logger,
  };
  const t0 = performance.now();
  const r = await runKeyRotation(deps, {
    newKey: async () => newKey,
    newKeyName: 'new',
    compromised: true,
    overlapDays: 30,
    apply: true,
  });
  const rotateMs = performance.now() - t0;
  if (!r.published || r.resign.some((x) => x.status !== 'signed'))
    throw new Error('rotation did not complete');

  const cosign = await getCosign();
  let cosignMs = null;
  if (cosign) {
    const keyFile = join(dir, 'cosign-new.key');
    const p3 = await generateKeyPair('pw3');
    await writeFile(keyFile, p3.privateKeyPem);
    const t1 = performance.now();
    for (const i of images) {
      const c = await cosignSign(cosign, keyFile, `${reg.host}/aibox/${i.variant}@${i.digest}`, {
        password: 'pw3',
        cwd: dir,
      });
      if (c.code !== 0) throw new Error(c.stderr);
    }
    cosignMs = performance.now() - t1;
  }
  const results = {
    runs: RUNS,
    perCheck: {
      applyKeyAnnouncementsFirstMs: round(apply),
      applyKeyAnnouncementsSteadyMs: round(steady, 4),
      verifyOneSignatureFromBytesMs: round(verify),
      nodeMinusE0Ms: round(median(nodeRuns), 1),
    },
    compromised5Images: {
      aiboxRotateMs: round(rotateMs, 0),
      cosignSign5Ms: cosignMs === null ? null : round(cosignMs, 0),
      note: 'aibox: verify + re-sign 5 images and publish the co-signed channel, in process; cosign: sign only (no channel), 5 processes',
    },
  };
  console.log(JSON.stringify(results, null, 2));
  writeResults('keys', results);
} finally {
  await client.close();
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
