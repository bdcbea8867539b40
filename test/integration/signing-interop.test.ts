/**
 * Interoperability with real cosign (2.5.x) against a real registry (CNCF distribution on
 * loopback): aibox signs → cosign verifies; cosign signs → aibox verifies; keys both ways; both
 * signers on one image; and the attack cases. cosign always runs offline-flagged.
 * When no cosign can be had (not Debian, no cosign on PATH), these tests say so loudly and skip.
 */
import { sign as cryptoSign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/app.js';
import { registerKeysCommands } from '../../src/cli/commands/keys.js';
import { registerSigningCommands } from '../../src/cli/commands/signing.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { encodeBase64 } from '../../src/signing/encoding.js';
import { loadPrivateKey } from '../../src/signing/keys.js';
import { buildPayload } from '../../src/signing/payload.js';
import { appendSignatureLayer, sha256, signatureTag } from '../../src/signing/sigmanifest.js';
import { jsonOf } from '../helpers/cli.js';
import { cosignSign, cosignVerify, getCosign, pushTinyImage, runCosign } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const PW = 'correct horse battery staple';
const cosign = await getCosign();

let reg: TestRegistry;
let client: RegistryClient;
let dir: string;

async function ctl(args: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(
    'aiboxctl',
    [registerKeysCommands, registerSigningCommands],
    ['--registry', `${reg.host}/aibox`, ...args],
    {
      io: { out: (s) => void (out += s), err: (s) => void (err += s) },
      env: { HOME: dir, COSIGN_PASSWORD: PW, ...env },
      cwd: dir,
    },
  );
  return { code, out, err };
}

const img = (repo: string, tag: string) => `${reg.host}/aibox/${repo}:${tag}`;
const sigRef = (repo: string, digest: string) => ({
  registry: reg.host,
  repository: `aibox/${repo}`,
  tag: signatureTag(digest),
});

async function readSig(repo: string, digest: string) {
  const { bytes } = await client.getManifest(sigRef(repo, digest));
  return JSON.parse(new TextDecoder().decode(bytes)) as {
    layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
  };
}

/** Replace the .sig manifest with one whose layers are produced by `edit` (blobs pushed as needed). */
async function writeSig(
  repo: string,
  digest: string,
  layers: { payload: Uint8Array; signatureB64: string }[],
) {
  const ref = { registry: reg.host, repository: `aibox/${repo}` };
  let manifest: Uint8Array | null = null;
  for (const l of layers) {
    const r = appendSignatureLayer(manifest, l);
    await client.pushBlob(ref, l.payload);
    await client.pushBlob(ref, r.config);
    manifest = r.manifest;
  }
  manifest ??= new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        size: 2,
        digest: sha256(new TextEncoder().encode('{}')),
      },
      layers: [],
    }),
  );
  if (layers.length === 0) await client.pushBlob(ref, new TextEncoder().encode('{}'));
  await client.putManifest(sigRef(repo, digest), manifest, 'application/vnd.oci.image.manifest.v1+json');
}

async function aiboxKey(sub: string) {
  const r = await ctl(['keys', 'generate', '--output-dir', sub]);
  expect(r.code, r.err).toBe(0);
  return { key: join(dir, sub, 'cosign.key'), pub: join(dir, sub, 'cosign.pub') };
}

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient();
  dir = await mkdtemp(join(tmpdir(), 'aibox-signing-interop-'));
});

afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!cosign)('interop with real cosign', () => {
  const bin = cosign!;
  let ours: { key: string; pub: string };
  let theirs: { key: string; pub: string };

  beforeAll(async () => {
    ours = await aiboxKey('ours');
    const r = await runCosign(bin, ['generate-key-pair', '--output-key-prefix', 'theirs'], {
      cwd: dir,
      password: PW,
    });
    expect(r.code, r.stderr).toBe(0);
    theirs = { key: join(dir, 'theirs.key'), pub: join(dir, 'theirs.pub') };
  });

  describe('keys', () => {
    it('loads a cosign-generated key and derives its exact cosign.pub', async () => {
      const r = await ctl(['keys', 'public', '--key', theirs.key]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(await readFile(theirs.pub, 'utf8'));
    });

    it('cosign signs with an aibox-generated key (COSIGN label, N=32768)', async () => {
      expect(await readFile(ours.key, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n/);
      const d = await pushTinyImage(client, reg.host, 'aibox/keys', 'v1', 'keys');
      const s = await cosignSign(bin, ours.key, img('keys', 'v1'), { cwd: dir, password: PW });
      expect(s.code, s.stderr).toBe(0);
      const v = await ctl(['verify', '--key', ours.pub, `keys@${d}`]);
      expect(v.code, v.err).toBe(0);
    });

    it('reports a wrong password clearly and never prints it', async () => {
      for (const key of [ours.key, theirs.key]) {
        const r = await ctl(['keys', 'public', '--key', key], { COSIGN_PASSWORD: 'not-the-password-x9' });
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/wrong password/);
        expect(r.err + r.out).not.toContain('not-the-password-x9');
        expect(r.err + r.out).not.toContain(PW);
      }
    });
  });

  describe('aibox signs, cosign verifies', () => {
    let digest: string;
    beforeAll(async () => {
      digest = await pushTinyImage(client, reg.host, 'aibox/base', '24.04-20260221', 'base');
      const r = await ctl(['sign', '--key', ours.key, '-a', 'git=abc123', 'base:24.04-20260221']);
      expect(r.code, r.err).toBe(0);
    });

    it('cosign verify --key accepts it and prints our payload', async () => {
      const r = await cosignVerify(bin, ours.pub, img('base', '24.04-20260221'), { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const payloads = JSON.parse(r.stdout.trim()) as {
        critical: { image: Record<string, string>; identity: Record<string, string> };
        optional: Record<string, unknown>;
      }[];
      expect(payloads[0]?.critical.image['docker-manifest-digest']).toBe(digest);
      expect(payloads[0]?.critical.identity['docker-reference']).toBe(`${reg.host}/aibox/base`);
      expect(payloads[0]?.optional.signer).toBe('platform-ci@aibox.internal');
      expect(Number.isInteger(payloads[0]?.optional.timestamp)).toBe(true);
    });

    it('cosign verify with another key is rejected (exit 12)', async () => {
      const r = await cosignVerify(bin, theirs.pub, img('base', '24.04-20260221'), { cwd: dir });
      expect(r.code).toBe(12);
    });

    it('aibox verify prints the runbook line; --json prints cosign-shaped payloads', async () => {
      const t = await ctl(['verify', '--key', ours.pub, 'base:24.04-20260221']);
      expect(t.code, t.err).toBe(0);
      expect(t.out).toMatch(
        /^Verifying image signature\.\.\. valid \(signed by platform-ci@aibox\.internal, \d{4}-\d{2}-\d{2}\)\n/,
      );
      const j = await ctl(['--json', 'verify', '--key', ours.pub, 'base:24.04-20260221']);
      const ourJson = jsonOf<unknown[]>(j);
      const theirJson = JSON.parse(
        (await cosignVerify(bin, ours.pub, img('base', '24.04-20260221'), { cwd: dir })).stdout.trim(),
      ) as unknown[];
      expect(ourJson).toEqual(theirJson);
    });

    it('signing again with the same key appends nothing (idempotent)', async () => {
      const before = (await readSig('base', digest)).layers.length;
      const r = await ctl(['sign', '--key', ours.key, '-a', 'git=abc123', 'base:24.04-20260221']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/already carries a signature by this key/);
      expect((await readSig('base', digest)).layers).toHaveLength(before);
    });
  });

  describe('cosign signs, aibox verifies', () => {
    it('accepts signatures from a cosign-generated key and rejects another key (exit 12)', async () => {
      const d = await pushTinyImage(client, reg.host, 'aibox/peer', 'v1', 'peer');
      const s = await cosignSign(bin, theirs.key, `${reg.host}/aibox/peer@${d}`, {
        cwd: dir,
        password: PW,
        annotations: { team: 'peers' },
      });
      expect(s.code, s.stderr).toBe(0);
      const ok = await ctl(['verify', '--key', theirs.pub, 'peer:v1']);
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out).toMatch(/signed by .*theirs\.pub\)/); // no signer in cosign payloads: the key's name
      expect((await ctl(['verify', '-a', 'team=peers', '--key', theirs.pub, 'peer:v1'])).code).toBe(0);
      expect((await ctl(['verify', '-a', 'team=other', '--key', theirs.pub, 'peer:v1'])).code).toBe(12);
      expect((await ctl(['verify', '--key', ours.pub, 'peer:v1'])).code).toBe(12);
    });
  });

  describe('both signers on one image', () => {
    it('keeps every layer and both tools verify with either key', async () => {
      const d = await pushTinyImage(client, reg.host, 'aibox/dual', 'v1', 'dual');
      expect((await ctl(['sign', '--key', ours.key, 'dual:v1'])).code).toBe(0);
      expect((await cosignSign(bin, theirs.key, img('dual', 'v1'), { cwd: dir, password: PW })).code).toBe(0);
      expect((await ctl(['sign', '--key', theirs.key, '-a', 'round=2', 'dual:v1'])).code).toBe(0);
      const layers = (await readSig('dual', d)).layers;
      expect(layers).toHaveLength(3);
      for (const pub of [ours.pub, theirs.pub]) {
        expect((await cosignVerify(bin, pub, img('dual', 'v1'), { cwd: dir })).code).toBe(0);
        expect((await ctl(['verify', '--key', pub, 'dual:v1'])).code).toBe(0);
      }
      const both = await ctl(['--json', 'verify', '--key', ours.pub, '--key', theirs.pub, 'dual:v1']);
      expect(jsonOf<unknown[]>(both)).toHaveLength(3);
    });
  });

  describe('attack cases', () => {
    let key: Awaited<ReturnType<typeof loadPrivateKey>>;
    beforeAll(async () => {
      key = await loadPrivateKey(await readFile(ours.key, 'utf8'), PW, 'ours');
    });
    const signed = (repo: string, digest: string) => {
      const payload = buildPayload({
        repository: repo,
        manifestDigest: digest,
        signer: 'platform-ci@aibox.internal',
        timestamp: new Date(),
      });
      return {
        payload,
        sig: new Uint8Array(cryptoSign('sha256', payload, { key: key.privateKey, dsaEncoding: 'der' })),
      };
    };
    const both = async (repo: string, tag: string) => ({
      aibox: await ctl(['--debug', 'verify', '--key', ours.pub, `${repo}:${tag}`]),
      cosign: await cosignVerify(bin, ours.pub, img(repo, tag), { cwd: dir }),
    });

    it('wrong key', async () => {
      await pushTinyImage(client, reg.host, 'aibox/atk-key', 'v1', 'k');
      expect((await ctl(['sign', '--key', theirs.key, 'atk-key:v1'])).code).toBe(0);
      const r = await both('atk-key', 'v1');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/does not verify with any trusted key/);
      expect(r.cosign.code).toBe(12);
    });

    it.each([
      ['payload byte changed', 'payload'],
      ['signature byte changed', 'signature'],
    ])('%s', async (_, what) => {
      const repo = `atk-${what}`;
      const d = await pushTinyImage(client, reg.host, `aibox/${repo}`, 'v1', repo);
      const { payload, sig } = signed(`${reg.host}/aibox/${repo}`, d);
      if (what === 'payload')
        payload[payload.length - 5] = 0x30; // a digit of the timestamp
      else sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0xff;
      await writeSig(repo, d, [{ payload, signatureB64: encodeBase64(sig) }]);
      const r = await both(repo, 'v1');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/does not verify/);
      expect(r.cosign.code).toBe(12);
    });

    it('payload names another digest / signature copied from another image', async () => {
      const dA = await pushTinyImage(client, reg.host, 'aibox/atk-copy', 'a', 'copy-a');
      const dB = await pushTinyImage(client, reg.host, 'aibox/atk-copy', 'b', 'copy-b');
      expect((await ctl(['sign', '--key', ours.key, 'atk-copy:b'])).code).toBe(0);
      const layersB = (await readSig('atk-copy', dB)).layers;
      const blob = await client.getBlob(
        { registry: reg.host, repository: 'aibox/atk-copy' },
        layersB[0]!.digest,
      );
      await writeSig('atk-copy', dA, [
        { payload: blob, signatureB64: layersB[0]!.annotations['dev.cosignproject.cosign/signature']! },
      ]);
      const r = await both('atk-copy', 'a');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/payload names image sha256:[0-9a-f]+, not sha256:/);
      expect(r.cosign.code).toBe(12);
    });

    it('payload names another repository (aibox rejects; cosign ignores the identity by design)', async () => {
      const d = await pushTinyImage(client, reg.host, 'aibox/atk-repo', 'v1', 'repo');
      const { payload, sig } = signed(`${reg.host}/evil/other`, d);
      await writeSig('atk-repo', d, [{ payload, signatureB64: encodeBase64(sig) }]);
      const r = await both('atk-repo', 'v1');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/payload names repository .*evil\/other/);
      expect(r.cosign.code).toBe(0); // cosign spec: "critical.identity.docker-reference is ignored"
    });

    it('.sig tag present but empty → no signatures (exit 10)', async () => {
      const d = await pushTinyImage(client, reg.host, 'aibox/atk-empty', 'v1', 'empty');
      await writeSig('atk-empty', d, []);
      const r = await both('atk-empty', 'v1');
      expect(r.aibox.code).toBe(10);
      expect(r.aibox.err).toMatch(/no signatures found .*\.sig tag is empty/);
      expect(r.cosign.code).toBe(10);
    });

    it('manifest replaced under the signed tag → no signatures for the new digest (exit 10)', async () => {
      await pushTinyImage(client, reg.host, 'aibox/atk-swap', 'v1', 'swap-1');
      expect((await ctl(['sign', '--key', ours.key, 'atk-swap:v1'])).code).toBe(0);
      expect((await both('atk-swap', 'v1')).aibox.code).toBe(0);
      await pushTinyImage(client, reg.host, 'aibox/atk-swap', 'v1', 'swap-2');
      const r = await both('atk-swap', 'v1');
      expect(r.aibox.code).toBe(10);
      expect(r.cosign.code).toBe(10);
    });

    it.each([
      ['truncated base64', (s: Uint8Array) => encodeBase64(s).slice(0, 40)],
      ['garbled base64', (s: Uint8Array) => `${encodeBase64(s).slice(0, 20)}*%${encodeBase64(s).slice(22)}`],
    ])('%s', async (name, mangle) => {
      const repo = `atk-b64-${name.split(' ')[0]}`;
      const d = await pushTinyImage(client, reg.host, `aibox/${repo}`, 'v1', repo);
      const { payload, sig } = signed(`${reg.host}/aibox/${repo}`, d);
      await writeSig(repo, d, [{ payload, signatureB64: mangle(sig) }]);
      const r = await both(repo, 'v1');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/not valid base64|truncated/);
      expect(r.cosign.code).not.toBe(0);
    });

    it('DER vs raw (IEEE P1363) encoding confusion', async () => {
      const d = await pushTinyImage(client, reg.host, 'aibox/atk-p1363', 'v1', 'p1363');
      const payload = buildPayload({ repository: `${reg.host}/aibox/atk-p1363`, manifestDigest: d });
      const raw = cryptoSign('sha256', payload, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
      await writeSig('atk-p1363', d, [{ payload, signatureB64: encodeBase64(raw) }]);
      const r = await both('atk-p1363', 'v1');
      expect(r.aibox.code).toBe(12);
      expect(r.aibox.err).toMatch(/IEEE P1363 r\|\|s\), not ASN.1 DER/);
      // cosign >= 2.2.4 (sigstore >= 1.8.3) also accepts P1363; older verifiers do not. Recorded, not asserted.
      console.info(`cosign verify on a P1363 signature: exit ${r.cosign.code}`);
    });

    it('image tag not found → exit 11 in both tools', async () => {
      const r = await both('atk-none', 'missing');
      expect(r.aibox.code).toBe(11);
      expect(r.cosign.code).toBe(11);
    });
  });
});

describe.skipIf(!!cosign)('interop with real cosign (unavailable)', () => {
  it.skip('SKIPPED: cosign could not be found or fetched on this machine — see the warning above', () => {});
});
