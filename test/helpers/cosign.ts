/**
 * Test helper: a real cosign (the interop peer; Debian 12's podman/skopeo cannot do sigstore).
 * `getCosign()` uses a `cosign` on PATH, else a cached copy of Debian 13's package fetched once per
 * machine by scripts/fetch-cosign.sh (apt-get download with a private sources list; /etc/apt is
 * never touched). Every run is offline-flagged by the callers (`--tlog-upload=false`,
 * `--insecure-ignore-tlog=true`, `--allow-http-registry`) with COSIGN_PASSWORD always set.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const COSIGN_CACHE_DIR = `${process.env.AIBOX_TEST_TOOLS ?? '/var/tmp/aibox-test-tools'}/cosign`;
const CACHED = `${COSIGN_CACHE_DIR}/root/usr/bin/cosign`;

let found: Promise<string | null> | undefined;

function onPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v cosign'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

function works(bin: string): boolean {
  return spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 20_000 }).status === 0;
}

/** Path of a working cosign binary, or null (logged loudly) when none can be had here. */
export function getCosign(): Promise<string | null> {
  found ??= (async () => {
    const fromPath = onPath();
    if (fromPath && works(fromPath)) return fromPath;
    if (existsSync(CACHED) && works(CACHED)) return CACHED;
    const r = spawnSync('sh', [`${ROOT}/scripts/fetch-cosign.sh`, COSIGN_CACHE_DIR], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status === 0 && existsSync(CACHED) && works(CACHED)) return CACHED;
    process.stderr.write(
      `\n${'!'.repeat(78)}\n!! cosign is NOT available: the cosign interop tests are SKIPPED.\n` +
        `!! Install cosign on PATH, or run on Debian 12/13 where scripts/fetch-cosign.sh works.\n` +
        `!! fetch-cosign: ${(r.stderr || r.error?.message || '').trim().slice(-500)}\n${'!'.repeat(78)}\n\n`,
    );
    return null;
  })();
  return found;
}

export interface CosignResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run cosign with COSIGN_PASSWORD set (never prompts) in `cwd`; callers add the offline flags. */
export function runCosign(
  bin: string,
  args: readonly string[],
  opts: { password?: string; cwd?: string } = {},
): Promise<CosignResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH,
        HOME: opts.cwd ?? process.env.HOME,
        COSIGN_PASSWORD: opts.password ?? '',
        // Belt and braces: no proxy, no TUF mirror, nothing leaves the machine.
        SIGSTORE_NO_CACHE: 'true',
        TUF_ROOT: `${opts.cwd ?? '/tmp'}/.sigstore-test-tuf`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}

/** `cosign sign --key KEY IMAGE`, offline (no transparency log), plain-HTTP registry allowed. */
export function cosignSign(
  bin: string,
  key: string,
  image: string,
  opts: { password?: string; cwd?: string; annotations?: Record<string, string> } = {},
) {
  const a = Object.entries(opts.annotations ?? {}).flatMap(([k, v]) => ['-a', `${k}=${v}`]);
  return runCosign(
    bin,
    ['sign', '--yes', '--tlog-upload=false', '--allow-http-registry', '--key', key, ...a, image],
    opts,
  );
}

/** `cosign verify --key PUB IMAGE`, offline. Exit 0 ok, 10 no signatures, 11 tag not found, 12 no match. */
export function cosignVerify(bin: string, pub: string, image: string, opts: { cwd?: string } = {}) {
  return runCosign(
    bin,
    ['verify', '--key', pub, '--insecure-ignore-tlog=true', '--allow-http-registry', image],
    opts,
  );
}

/**
 * Push a tiny OCI image (config + one layer + manifest) under `repository:tag` with the OCI
 * client, so signing tests need no podman. `seed` makes distinct images; returns the digest.
 */
export async function pushTinyImage(
  client: import('../../src/oci/client.js').RegistryClient,
  registry: string,
  repository: string,
  tag: string,
  seed = 'aibox',
): Promise<string> {
  const { createHash } = await import('node:crypto');
  const enc = (s: string) => new TextEncoder().encode(s);
  const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const ref = { registry, repository };
  const layer = enc(`layer ${seed} ${Date.now()} ${Math.random()}`);
  const config = enc(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'dev.aibox.managed': 'true', 'dev.aibox.test-run': seed } },
      rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    }),
  );
  await client.pushBlob(ref, layer);
  await client.pushBlob(ref, config);
  const manifest = enc(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha(config),
        size: config.byteLength,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.byteLength },
      ],
    }),
  );
  const d = await client.putManifest({ ...ref, tag }, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return d.digest;
}
