/**
 * aiboxctl signing commands in-process against a real registry: key files and sources (file,
 * env://, vault:// against a KV v2 double), trust store with rotation windows, keys status/rotate,
 * cosign v3 bundles read from the referrers tag, verify-blob, and secrets never leaking.
 */
import { sign as cryptoSign } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/app.js';
import { registerKeysCommands } from '../../src/cli/commands/keys.js';
import { registerSigningCommands } from '../../src/cli/commands/signing.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { copyByDigest } from '../../src/oci/copy.js';
import { dssePae } from '../../src/signing/bundle.js';
import { encodeBase64 } from '../../src/signing/encoding.js';
import { loadPrivateKey } from '../../src/signing/keys.js';
import { sha256 } from '../../src/signing/sigmanifest.js';
import { envelopeOf, jsonError, jsonOf } from '../helpers/cli.js';
import { getCosign, pushTinyImage, runCosign } from '../helpers/cosign.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startVaultDouble, type VaultDouble } from '../helpers/vault-double.js';
import { maybeUnset } from '../helpers/unset.js';

const PW = 'pw-7f3a-secret';
let reg: TestRegistry;
let vault: VaultDouble;
let client: RegistryClient;
let dir: string;

async function ctl(args: string[], env: Record<string, string | undefined> = {}, now?: Date) {
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
      ...(now ? { now: () => now } : {}),
    },
  );
  return { code, out, err };
}

beforeAll(async () => {
  [reg, vault] = await Promise.all([startRegistry(), startVaultDouble()]);
  client = createRegistryClient();
  dir = await mkdtemp(join(tmpdir(), 'aibox-signing-cli-'));
  for (const sub of ['k1', 'k2']) expect((await ctl(['keys', 'generate', '--output-dir', sub])).code).toBe(0);
});

afterAll(async () => {
  await maybeUnset(client)?.close();
  await Promise.all([maybeUnset(reg)?.stop(), maybeUnset(vault)?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('keys generate', () => {
  it('writes cosign.key 0600 and cosign.pub, and refuses to overwrite without --force', async () => {
    expect((await stat(join(dir, 'k1/cosign.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'k1/cosign.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const again = await ctl(['keys', 'generate', '--output-dir', 'k1']);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exists; refusing to overwrite/);
    const before = await readFile(join(dir, 'k1/cosign.key'), 'utf8');
    expect(await readFile(join(dir, 'k1/cosign.key'), 'utf8')).toBe(before);
  });

  it('fails without COSIGN_PASSWORD and no terminal, naming the variable', async () => {
    const r = await ctl(['keys', 'generate', '--output-dir', 'k9'], { COSIGN_PASSWORD: undefined });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/COSIGN_PASSWORD is not set/);
  });

  it('--force never writes or chmods through a planted symlink, and leaves the target untouched', async () => {
    await mkdir(join(dir, 'k5'), { recursive: true });
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'not yours\n', { mode: 0o644 });
    await symlink(victim, join(dir, 'k5/cosign.key'));
    const r = await ctl(['--json', 'keys', 'generate', '--force', '--output-dir', 'k5']);
    expect(r.code).toBe(1);
    expect(jsonError(r)).toMatchObject({ code: 'UNSAFE_PATH' });
    expect(jsonError(r).message).toMatch(/refusing to write .*k5\/cosign\.key: it is a symbolic link/);
    expect(await readFile(victim, 'utf8')).toBe('not yours\n');
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
    expect((await lstat(join(dir, 'k5/cosign.key'))).isSymbolicLink()).toBe(true);
    expect(await readdir(join(dir, 'k5'))).toEqual(['cosign.key']); // no cosign.pub, no temp file
  });

  it('--force replaces a regular file by rename (new inode, 0600 whatever it was), leaving no temp files', async () => {
    await mkdir(join(dir, 'k6'), { recursive: true });
    await writeFile(join(dir, 'k6/cosign.key'), 'old\n', { mode: 0o666 });
    const hard = join(dir, 'k6-hardlink');
    await link(join(dir, 'k6/cosign.key'), hard); // a second name for the old file must keep the old bytes
    const r = await ctl(['keys', 'generate', '--force', '--output-dir', 'k6']);
    expect(r.code, r.err).toBe(0);
    expect(await readFile(hard, 'utf8')).toBe('old\n');
    expect((await stat(join(dir, 'k6/cosign.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'k6/cosign.key'), 'utf8')).toMatch(
      /^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----/,
    );
    expect((await readdir(join(dir, 'k6'))).sort()).toEqual(['cosign.key', 'cosign.pub']);
  });
});

describe('key sources', () => {
  it('signs with env://VAR and with vault://secret/aibox/cosign-key; the token never leaks', async () => {
    const keyText = await readFile(join(dir, 'k1/cosign.key'), 'utf8');
    await pushTinyImage(client, reg.host, 'aibox/src', 'env', 'src-env');
    const e = await ctl(['sign', '--key', 'env://AIBOX_TEST_KEY', 'src:env'], { AIBOX_TEST_KEY: keyText });
    expect(e.code, e.err).toBe(0);

    vault.put('secret', 'aibox/cosign-key', { 'cosign.key': keyText, 'cosign.password': PW });
    await pushTinyImage(client, reg.host, 'aibox/src', 'vault', 'src-vault');
    const venv = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token, COSIGN_PASSWORD: undefined };
    const v = await ctl(['--debug', 'sign', '--key', 'vault://secret/aibox/cosign-key', 'src:vault'], venv);
    expect(v.code, v.err).toBe(0);
    expect(vault.requests.at(-1)?.url).toBe('/v1/secret/data/aibox/cosign-key');
    expect(v.err + v.out).not.toContain(vault.token);
    expect(v.err + v.out).not.toContain(PW);
    for (const tag of ['env', 'vault'])
      expect((await ctl(['verify', '--key', 'k1/cosign.pub', `src:${tag}`])).code).toBe(0);

    const denied = await ctl(['sign', '--key', 'vault://secret/aibox/cosign-key', 'src:vault'], {
      ...venv,
      VAULT_TOKEN: 'bad-token-123',
    });
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/Vault refused to read vault:\/\/secret\/aibox\/cosign-key \(HTTP 403/);
    expect(denied.err).not.toContain('bad-token-123');
    const missing = await ctl(['sign', '--key', 'vault://secret/aibox/nope', 'src:vault'], venv);
    expect(missing.err).toMatch(/no secret at vault:\/\/secret\/aibox\/nope/);
  });

  it('reads the signing key from the config (signing.key, relative to the config dir)', async () => {
    const cfgDir = join(dir, 'cfg');
    await mkdir(cfgDir, { recursive: true });
    await writeFile(
      join(cfgDir, 'aibox.yaml'),
      'signing:\n  key: ../k2/cosign.key\n  identity: release-bot@aibox.internal\n',
    );
    await pushTinyImage(client, reg.host, 'aibox/cfg', 'v1', 'cfg');
    const r = await ctl(['--config', join(cfgDir, 'aibox.yaml'), 'sign', 'cfg:v1']);
    expect(r.code, r.err).toBe(0);
    const v = await ctl(['verify', '--key', 'k2/cosign.pub', 'cfg:v1']);
    expect(v.out).toMatch(/signed by release-bot@aibox\.internal, /);
  });
});

describe('sign', () => {
  it('a wrong password is reported as such, even when the registry answers first (image missing)', async () => {
    for (const image of ['nosuch:tag', 'src:env']) {
      const r = await ctl(['--json', 'sign', '--key', 'k1/cosign.key', image], {
        COSIGN_PASSWORD: 'wrong-pw-x1',
      });
      expect(r.code).toBe(1);
      expect(jsonError(r).code).toBe('KEY_PASSWORD');
    }
  });
});

describe('trust store and rotation', () => {
  const cfg = async (name: string, body: string) => {
    const p = join(dir, name);
    await writeFile(p, body);
    return p;
  };

  it('verifies images signed with the old or the new key during the overlap, and not after', async () => {
    await pushTinyImage(client, reg.host, 'aibox/rot', 'old', 'rot-old');
    await pushTinyImage(client, reg.host, 'aibox/rot', 'new', 'rot-new');
    expect((await ctl(['sign', '--key', 'k1/cosign.key', 'rot:old'])).code).toBe(0);
    expect((await ctl(['sign', '--key', 'k2/cosign.key', 'rot:new'])).code).toBe(0);
    const p = await cfg(
      'rot.yaml',
      'signing:\n  trustedKeys:\n    - {name: ci-2025, path: k1/cosign.pub, notBefore: "2025-03-01", notAfter: "2026-03-31"}\n    - {name: ci-2026, path: k2/cosign.pub, notBefore: "2026-03-01"}\n',
    );
    const during = new Date('2026-03-15T00:00:00Z');
    const old = await ctl(['--config', p, 'verify', 'rot:old'], {}, during);
    expect(old.code, old.err).toBe(0);
    expect(old.out).toMatch(/key ci-2025/);
    expect((await ctl(['--config', p, 'verify', 'rot:new'], {}, during)).code).toBe(0);
    const after = await ctl(
      ['--config', p, '--debug', 'verify', 'rot:old'],
      {},
      new Date('2026-04-02T00:00:00Z'),
    );
    expect(after.code).toBe(12);
    expect(after.err).toMatch(/key "ci-2025" was retired at 2026-03-31/);
  });

  it('keys status shows fingerprint, age and rotation due, in text and --json', async () => {
    const p = await cfg(
      'status.yaml',
      'signing:\n  trustedKeys:\n    - {name: ci-2025, path: k1/cosign.pub, notBefore: "2025-03-01", notAfter: null}\n    - {name: ci-2026, path: k2/cosign.pub, notBefore: "2026-02-01", notAfter: null}\n',
    );
    const now = new Date('2026-02-10T00:00:00Z');
    const t = await ctl(['--config', p, 'keys', 'status'], {}, now);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^NAME\s+FINGERPRINT\s+AGE\s+ROTATION DUE\s+STATE\n/);
    expect(t.out).toMatch(/ci-2025\s+sha256:[0-9a-f]{16}\s+346d\s+2026-03-01\s+rotation-due-soon/);
    expect(t.err).toMatch(/warn: key ci-2025: rotation due 2026-03-01 \(in 19 days\)/);
    const j = jsonOf<{
      keys: { name: string; state: string; fingerprint: string; ageDays: number }[];
    }>(await ctl(['--config', p, '--json', 'keys', 'status'], {}, now));
    expect(j.keys.map((k) => [k.name, k.state, k.ageDays])).toEqual([
      ['ci-2025', 'rotation-due-soon', 346],
      ['ci-2026', 'ok', 9],
    ]);
  });

  it('keys status never takes key age from the file mtime: age unknown, and the warning says why', async () => {
    const old = new Date(Date.now() - 400 * 86_400_000);
    await utimes(join(dir, 'k1/cosign.pub'), old, old);
    const r = await ctl(['--json', 'keys', 'status', '--key', 'k1/cosign.pub']);
    expect(r.code, r.err).toBe(0);
    const j = jsonOf<{ keys: { state: string; ageDays: number | null; createdAt: string | null }[] }>(r);
    expect(j.keys[0]).toMatchObject({ state: 'age-unknown', ageDays: null, createdAt: null });
    expect(r.err).toMatch(
      /warn: key k1\/cosign\.pub: age unknown, so rotation cannot be checked: the trust store has no notBefore/,
    );
    const t = await ctl(['keys', 'status', '--key', 'k1/cosign.pub']);
    expect(t.out).toMatch(/k1\/cosign\.pub\s+sha256:[0-9a-f]{16}\s+unknown\s+-\s+age-unknown/);
  });

  it('keys status exits 1 when a trusted key is retired or not yet valid (text and --json)', async () => {
    const p = await cfg(
      'windows.yaml',
      'signing:\n  trustedKeys:\n    - {name: old, path: k1/cosign.pub, notBefore: "2025-01-01", notAfter: "2026-01-31"}\n    - {name: next, path: k2/cosign.pub, notBefore: "2026-03-01"}\n',
    );
    const now = new Date('2026-02-10T00:00:00Z');
    const t = await ctl(['--config', p, 'keys', 'status'], {}, now);
    expect(t.code).toBe(1);
    expect(t.out).toMatch(/old\s+.*retired\n/);
    expect(t.out).toMatch(/next\s+.*not-yet-valid\n/);
    const j = await ctl(['--config', p, '--json', 'keys', 'status'], {}, now);
    expect(envelopeOf(j)).toMatchObject({ outcome: 'failed', exitCode: 1, data: { ok: false } });
    const fine = await ctl(['--config', p, 'keys', 'status'], {}, new Date('2026-01-15T00:00:00Z'));
    expect(fine.out).toMatch(/next\s+.*not-yet-valid/);
    const onlyOld = await cfg(
      'window-ok.yaml',
      'signing:\n  trustedKeys:\n    - {name: old, path: k1/cosign.pub, notBefore: "2026-01-01", notAfter: "2026-01-31"}\n',
    );
    expect(
      (await ctl(['--config', onlyOld, 'keys', 'status'], {}, new Date('2026-01-15T00:00:00Z'))).code,
    ).toBe(0);
  });

  it('a date-only notAfter is inclusive: the key verifies all of that UTC day, and not a millisecond after', async () => {
    await pushTinyImage(client, reg.host, 'aibox/rot', 'last', 'rot-last');
    expect((await ctl(['sign', '--key', 'k1/cosign.key', 'rot:last'])).code).toBe(0);
    const p = await cfg(
      'inclusive.yaml',
      'signing:\n  trustedKeys:\n    - {name: ci-2025, path: k1/cosign.pub, notBefore: "2026-03-31", notAfter: "2026-03-31"}\n',
    );
    for (const at of ['2026-03-31T00:00:00.000Z', '2026-03-31T12:00:00Z', '2026-03-31T23:59:59.999Z']) {
      const r = await ctl(['--config', p, 'verify', 'rot:last'], {}, new Date(at));
      expect(r.code, `${at}: ${r.err}`).toBe(0);
    }
    const after = await ctl(
      ['--config', p, '--debug', 'verify', 'rot:last'],
      {},
      new Date('2026-04-01T00:00:00.000Z'),
    );
    expect(after.code).toBe(12);
    expect(after.err).toMatch(/key "ci-2025" was retired at 2026-03-31T23:59:59\.999Z/);
    const before = await ctl(['--config', p, 'verify', 'rot:last'], {}, new Date('2026-03-30T23:59:59.999Z'));
    expect(before.code).toBe(12);
  });

  it('keys rotate writes the new pair and prints the steps', async () => {
    const r = await ctl(['keys', 'rotate'], {}, new Date('2026-02-21T00:00:00Z'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/New key pair written to .*cosign-2026-02-21/);
    expect(r.out).toMatch(/Dual-sign until 2026-03-23/);
    expect(r.out).toMatch(/Publish the new cosign\.pub/);
    expect((await stat(join(dir, 'cosign-2026-02-21/cosign.key'))).mode & 0o777).toBe(0o600);
  });
});

/**
 * Attach a cosign v3 style DSSE bundle (by key k1) for `digest` to `repository` as a referrer,
 * through the referrers tag schema; `subjectName` is the repository the statement names.
 */
async function attachBundle(repository: string, digest: string, subjectName: string): Promise<void> {
  const d = digest;
  const key = await loadPrivateKey(await readFile(join(dir, 'k1/cosign.key'), 'utf8'), PW, 'k1');
  const stmt = new TextEncoder().encode(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: subjectName, digest: { sha256: d.slice(7) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  );
  const sig = cryptoSign('sha256', dssePae('application/vnd.in-toto+json', stmt), {
    key: key.privateKey,
    dsaEncoding: 'der',
  });
  const bundle = new TextEncoder().encode(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      dsseEnvelope: {
        payload: encodeBase64(stmt),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: encodeBase64(sig), keyid: '' }],
      },
    }),
  );
  const ref = { registry: reg.host, repository };
  const empty = new TextEncoder().encode('{}');
  await client.pushBlob(ref, bundle);
  await client.pushBlob(ref, empty);
  const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  const m = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: bundleType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: bundleType, digest: sha256(bundle), size: bundle.byteLength }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 1 },
    }),
  );
  const md = await client.putManifest(
    { ...ref, digest: sha256(m) },
    m,
    'application/vnd.oci.image.manifest.v1+json',
  );
  const index = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: md.digest,
          size: md.size,
          artifactType: bundleType,
        },
      ],
    }),
  );
  await client.putManifest(
    { ...ref, tag: d.replace(':', '-') },
    index,
    'application/vnd.oci.image.index.v1+json',
  );
}

describe('cosign v3 Sigstore bundles (referrers tag fallback on distribution 2.8)', () => {
  it('does not verify an image and its bundle copied to another repository (the .sig rule)', async () => {
    const d = await pushTinyImage(client, reg.host, 'aibox/dev-experimental', 'v1', 'copied');
    await attachBundle('aibox/dev-experimental', d, `${reg.host}/aibox/dev-experimental`);
    // The copy: same manifest, same bundle bytes, now in aibox/prodbase.
    const copied = await copyByDigest(
      client,
      { registry: reg.host, repository: 'aibox/dev-experimental', digest: d },
      { registry: reg.host, repository: 'aibox/prodbase' },
    );
    expect(copied.digest).toBe(d);
    await client.putManifest(
      { registry: reg.host, repository: 'aibox/prodbase', tag: 'v1' },
      copied.bytes,
      copied.mediaType,
    );
    await attachBundle('aibox/prodbase', d, `${reg.host}/aibox/dev-experimental`);

    const original = await ctl(['verify', '--key', 'k1/cosign.pub', 'dev-experimental:v1']);
    expect(original.code, original.err).toBe(0);
    const copy = await ctl(['verify', '--key', 'k1/cosign.pub', 'prodbase:v1']);
    expect(copy.code).toBe(12);
    expect(copy.err).toMatch(/names repository .*aibox\/dev-experimental, not .*aibox\/prodbase/);
  });

  it('verifies a DSSE bundle attached as a referrer, with no .sig tag', async () => {
    const d = await pushTinyImage(client, reg.host, 'aibox/v3', 'v1', 'v3');
    await attachBundle('aibox/v3', d, `${reg.host}/aibox/v3`);

    const ok = await ctl(['--json', 'verify', '--key', 'k1/cosign.pub', 'v3:v1']);
    expect(ok.code, ok.err).toBe(0);
    expect(jsonOf(ok)).toEqual([
      {
        critical: {
          identity: { 'docker-reference': `${reg.host}/aibox/v3` },
          image: { 'docker-manifest-digest': d },
          type: 'https://sigstore.dev/cosign/sign/v1',
        },
        optional: {},
      },
    ]);
    expect((await ctl(['verify', '--key', 'k2/cosign.pub', 'v3:v1'])).code).toBe(12);
    expect((await ctl(['verify', '--no-bundles', '--key', 'k1/cosign.pub', 'v3:v1'])).code).toBe(10);
  });
});

describe('verify-blob', () => {
  it('verifies a base64 DER signature over a file and rejects a changed file', async () => {
    const key = await loadPrivateKey(await readFile(join(dir, 'k1/cosign.key'), 'utf8'), PW, 'k1');
    await writeFile(join(dir, 'blob.txt'), 'hello aibox\n');
    await writeFile(
      join(dir, 'blob.sig'),
      encodeBase64(
        cryptoSign('sha256', Buffer.from('hello aibox\n'), { key: key.privateKey, dsaEncoding: 'der' }),
      ),
    );
    const ok = await ctl(['verify-blob', '--key', 'k1/cosign.pub', '--signature', 'blob.sig', 'blob.txt']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toBe('Verified OK\n');
    await writeFile(join(dir, 'blob.txt'), 'hello aibox!\n');
    expect(
      (await ctl(['verify-blob', '--key', 'k1/cosign.pub', '--signature', 'blob.sig', 'blob.txt'])).code,
    ).toBe(12);
  });

  it('accepts a `cosign sign-blob` signature (when cosign is available)', async () => {
    const cosign = await getCosign();
    if (!cosign) return;
    await writeFile(join(dir, 'b2.txt'), 'signed by cosign\n');
    const s = await runCosign(
      cosign,
      [
        'sign-blob',
        '--yes',
        '--tlog-upload=false',
        '--key',
        join(dir, 'k1/cosign.key'),
        '--output-signature',
        join(dir, 'b2.sig'),
        join(dir, 'b2.txt'),
      ],
      { cwd: dir, password: PW },
    );
    expect(s.code, s.stderr).toBe(0);
    const ok = await ctl(['verify-blob', '--key', 'k1/cosign.pub', '--signature', 'b2.sig', 'b2.txt']);
    expect(ok.code, ok.err).toBe(0);
  });
});

describe('unsigned images', () => {
  it('exit 10 when there is no .sig tag', async () => {
    await pushTinyImage(client, reg.host, 'aibox/unsigned', 'v1', 'unsigned');
    const r = await ctl(['verify', '--key', 'k1/cosign.pub', 'unsigned:v1']);
    expect(r.code).toBe(10);
    expect(r.err).toMatch(/no signatures found for /);
  });
});
