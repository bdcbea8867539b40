/**
 * Test helpers for the pipeline end-to-end tests (`aiboxctl rebuild` on the bundled CLI): temp
 * configs built from the local profile's engine section, a key pair made with `aiboxctl keys
 * generate`, a registry that can be stopped and restarted on the same port and data dir, run
 * records, and plain registry reads (tags, manifest digests) that do not go through aibox.
 */
import { Podman } from '../../src/engine/podman.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createExec } from '../../src/adapters/exec.js';
import type { RunRecord } from '../../src/pipeline/record.js';
import { runBin, type CliResult } from './cli.js';
import { testEngineSettings } from './engine.js';
import { freePort } from './free-port.js';
import { registryConfigYaml } from '../../src/registry/config.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/pipeline/', import.meta.url));
/** One RUN, a few labels: seconds to build on the busybox base. */
export const TINY_CONTAINERFILE = join(FIXTURES, 'tiny', 'Containerfile');
/** Like tiny, with a 6 s sleep in its RUN (time to act while it builds). */
export const SLOW_CONTAINERFILE = join(FIXTURES, 'slow', 'Containerfile');
/** trivy double choosing TRIVY_STUB_REPORT_DIR/<variant>.json, else clean.json. */
export const TRIVY_PER_VARIANT = join(FIXTURES, 'trivy-per-variant.mjs');

export interface VariantSpec {
  readonly tagPrefix: string;
  readonly from: string | null;
  readonly containerfile: string;
}

export interface PipelineConfigSpec {
  readonly baseImage: string;
  readonly variants: Readonly<Record<string, VariantSpec>>;
  readonly key: string;
  readonly pub: string;
  readonly scanner?: 'none' | 'trivy';
  readonly trivyPath?: string;
  readonly buildConcurrency?: number;
}

/** Write a platform config: the local profile's engine (host quirks) plus the given variants. */
export async function writePipelineConfig(path: string, spec: PipelineConfigSpec): Promise<string> {
  const engine = testEngineSettings();
  const doc = {
    registry: { project: 'aibox' },
    engine: {
      ...(engine.runtime ? { runtime: engine.runtime } : {}),
      ...(engine.cgroupManager ? { cgroupManager: engine.cgroupManager } : {}),
      ulimits: engine.ulimits,
      podman: engine.podman,
      buildConcurrency: spec.buildConcurrency ?? 2,
    },
    scan: { scanner: spec.scanner ?? 'none', ...(spec.trivyPath ? { trivyPath: spec.trivyPath } : {}) },
    baseImage: spec.baseImage,
    variants: spec.variants,
    signing: { key: spec.key, trustedKeys: [{ name: 'test', path: spec.pub }] },
  };
  await writeFile(path, stringify(doc));
  return path;
}

/** `aiboxctl keys generate` into dir; returns the key paths. */
export async function generateKeys(dir: string, password: string): Promise<{ key: string; pub: string }> {
  const r = await runBin('aiboxctl', ['keys', 'generate', '--output-dir', dir], {
    env: { COSIGN_PASSWORD: password },
  });
  if (r.code !== 0) throw new Error(`keys generate failed: ${r.stderr}`);
  return { key: join(dir, 'cosign.key'), pub: join(dir, 'cosign.pub') };
}

/** `aiboxctl --config C --registry R …` with an isolated data dir and the key password. */
export function pipelineCli(o: { config: string; registry: () => string; xdg: string; password: string }) {
  return (args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
    runBin('aiboxctl', ['--config', o.config, '--registry', `${o.registry()}/aibox`, ...args], {
      env: { XDG_DATA_HOME: o.xdg, COSIGN_PASSWORD: o.password, ...env },
    });
}

/** The last non-empty line of a text. */
export function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** Every run record under $XDG_DATA_HOME/aibox/runs, oldest first. */
export async function readRecords(xdg: string): Promise<RunRecord[]> {
  const dir = join(xdg, 'aibox', 'runs');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const out: RunRecord[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as RunRecord);
    } catch {
      /* being replaced right now */
    }
  }
  return out;
}

/** Poll until `f` returns a value (not undefined), or fail after timeoutMs. */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Digest the registry serves for repo:tag (plain HEAD), or null when the tag is absent. */
export async function tagDigest(url: string, repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: ACCEPT },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`HEAD ${repo}:${tag}: HTTP ${res.status}`);
  return res.headers.get('docker-content-digest');
}

/** Tags of a repository (empty when the repository does not exist). */
export async function listTags(url: string, repo: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags?: string[] | null };
  return [...(body.tags ?? [])].sort();
}

/** What users trust: `latest` of each repository and the channel's current digest. */
export async function publishedState(
  url: string,
  repos: readonly string[],
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const r of repos) out[`${r}:latest`] = await tagDigest(url, r, 'latest');
  out['aibox/channel:current'] = await tagDigest(url, 'aibox/channel', 'current');
  return out;
}

/** Every tag of the given repositories, for "nothing was pushed" checks. */
export async function allTags(url: string, repos: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const r of repos) out[r] = await listTags(url, r);
  return out;
}

export interface RestartableRegistry {
  readonly host: string;
  readonly url: string;
  readonly dataDir: string;
  /** Stop the process (SIGTERM, then SIGKILL); data stays. */
  stop(): Promise<void>;
  /** Start it again on the same port and data dir; resolves once /v2/ answers. */
  start(): Promise<void>;
  /** Stop and delete everything. */
  dispose(): Promise<void>;
}

/**
 * A real docker-registry on a free loopback port whose process can be stopped and restarted on the
 * same port and data dir (test/helpers/registry.ts deletes its data on stop).
 */
export async function startRestartableRegistry(): Promise<RestartableRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-registry-restart-'));
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.yml');
  const host = `127.0.0.1:${await freePort()}`;
  const url = `http://${host}`;
  // As in startRegistry, minus the blob descriptor cache: a restarted registry must not answer from memory.
  await writeFile(
    configPath,
    registryConfigYaml({ host, storage: dataDir, logLevel: 'warn', blobDescriptorCache: false }),
  );
  let child: ChildProcess | undefined;
  let logs = '';
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async (): Promise<void> => {
    if (running()) return;
    const c = spawn(process.env.AIBOX_TEST_REGISTRY_BIN ?? 'docker-registry', ['serve', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const keep = (b: Buffer) => (logs = (logs + b.toString('utf8')).slice(-4000));
    c.stdout.on('data', keep);
    c.stderr.on('data', keep);
    c.on('error', (e) => (logs += `\nspawn error: ${e.message}`));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited with ${c.exitCode}: ${logs}`);
      try {
        const res = await fetch(`${url}/v2/`);
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline)
        throw new Error(`docker-registry at ${url} did not answer within 15 s: ${logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || !running()) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  await start();
  return {
    host,
    url,
    dataDir,
    start,
    stop,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Remove from local Podman storage what the pipeline pulled from a test registry (children are
 * built FROM their parent by digest, so the parent lands in storage as HOST/aibox/<variant>).
 */
export async function removeImagesFrom(host: string, project = 'aibox'): Promise<void> {
  const engine = testEngineSettings();
  const exec = createExec();
  const global = new Podman(engine, exec).globalArgs();
  const ls = await exec(
    engine.podman,
    [...global, 'images', '-q', '--filter', `reference=${host}/${project}/*`],
    { allowFailure: true },
  );
  const ids = [
    ...new Set(
      ls.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ];
  if (ids.length > 0)
    await exec(engine.podman, [...global, 'rmi', '--force', ...ids], { allowFailure: true });
}
