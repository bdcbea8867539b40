/**
 * Test helpers for the developer CLI end-to-end tests (`aibox setup/update/check/status` on the bundled CLI): a real
 * docker-registry, tiny busybox images built with real Podman and pushed to it, signed by our signer, a signed
 * release channel published with the real publisher, and an isolated developer (XDG dirs, a config carrying the local
 * profile's engine quirks). Everything is labelled/named per test file and removed in `dispose`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildChannel, type Channel, type ChannelEntry } from '../../src/channel/channel.js';
import { channelRepository, publishChannel } from '../../src/channel/store.js';
import { createExec } from '../../src/adapters/exec.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { Podman } from '../../src/engine/podman.js';
import { generateKeyPair, loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import { signImage } from '../../src/signing/workflows.js';
import { runBin, type CliResult } from './cli.js';
import { testEngineSettings, testRunId } from './engine.js';
import { buildTestImage } from './image.js';
import { startRegistry, type TestRegistry } from './registry.js';

export const SIGNER = 'platform-ci@aibox.internal';

export interface PublishedImage {
  readonly variant: string;
  readonly tag: string;
  readonly digest: string;
  readonly created: string;
}

export interface DevWorld {
  readonly reg: TestRegistry;
  /** The counting proxy in front of the registry: the host everything (signing, developers) uses. */
  readonly proxy: CountingProxy;
  readonly host: string;
  readonly client: RegistryClient;
  readonly podman: Podman;
  readonly dir: string;
  readonly runId: string;
  readonly key: SigningKey;
  readonly pubPath: string;
  /** A second key pair nobody trusts (the attacker's). */
  readonly evilKey: SigningKey;
  readonly evilPubPath: string;
  /** Build a tiny image (distinct content per `content`), push it as variant:tag, optionally sign it. */
  publishImage(
    variant: string,
    tag: string,
    opts?: { content?: string; labels?: Record<string, string>; sign?: SigningKey | null },
  ): Promise<PublishedImage>;
  /** Publish the next channel (sequence prev+1) naming these entries, signed by `key` (default: ours). */
  publishChannel(
    entries: readonly ChannelEntry[],
    opts?: { key?: SigningKey; now?: Date; ttlDays?: number; lowerFloors?: string[] },
  ): Promise<Channel>;
  /** The current channel as last published by this helper. */
  readonly channel: Channel | null;
  /** A developer: isolated XDG dirs and a config with the local engine quirks. */
  developer(name: string): Promise<Developer>;
  dispose(): Promise<void>;
}

export interface Developer {
  readonly home: string;
  readonly env: {
    readonly HOME: string;
    readonly XDG_CONFIG_HOME: string;
    readonly XDG_DATA_HOME: string;
    readonly XDG_CACHE_HOME: string;
  };
  readonly configPath: string;
  readonly statePath: string;
  aibox(args: readonly string[], env?: Record<string, string | undefined>): Promise<CliResult>;
}

/** Start the world: registry, client, keys. */
export async function startDevWorld(prefix: string): Promise<DevWorld> {
  const reg = await startRegistry();
  const proxy = await startCountingProxy(reg.host);
  const host = proxy.host;
  const client = createRegistryClient({ env: {}, retries: 1 });
  const podman = new Podman(testEngineSettings(), createExec());
  const dir = await mkdtemp(join(tmpdir(), `aibox-${prefix}-`));
  const runId = testRunId(prefix);
  const pair = await generateKeyPair('pw');
  const key = await loadPrivateKey(pair.privateKeyPem, 'pw', 'platform key');
  const pubPath = join(dir, 'cosign.pub');
  await writeFile(pubPath, pair.publicKeyPem);
  const evil = await generateKeyPair('pw');
  const evilKey = await loadPrivateKey(evil.privateKeyPem, 'pw', 'evil key');
  const evilPubPath = join(dir, 'evil.pub');
  await writeFile(evilPubPath, evil.publicKeyPem);
  const localTags: string[] = [];
  let channel: Channel | null = null;
  let current: string | null = null;

  const world: DevWorld = {
    reg,
    proxy,
    host,
    client,
    podman,
    dir,
    runId,
    key,
    pubPath,
    evilKey,
    evilPubPath,
    get channel() {
      return channel;
    },
    async publishImage(variant, tag, opts = {}) {
      const local = `localhost/${runId}-${variant}:${tag}`;
      localTags.push(local);
      await buildTestImage(podman, local, {
        runId,
        labels: opts.labels ?? {},
        files: { '/etc/aibox-test': `${variant} ${tag} ${opts.content ?? ''}\n` },
      });
      const { digest } = await podman.push(local, `${host}/aibox/${variant}:${tag}`);
      const info = await podman.inspectImage(local);
      // Out of local storage again, so a developer's pull is a real pull.
      await podman.rmi([local], { force: true });
      const signWith = opts.sign === undefined ? key : opts.sign;
      if (signWith) {
        await signImage({
          client,
          ref: { registry: host, repository: `aibox/${variant}`, digest },
          key: signWith,
          signer: SIGNER,
          now: new Date(),
        });
      }
      const created = new Date(Date.parse(info.created.replace(/(\.\d{3})\d+/, '$1')))
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
      return { variant, tag, digest, created };
    },
    async publishChannel(entries, opts = {}) {
      const now = opts.now ?? new Date();
      const next = buildChannel(channel, entries, now, {
        ...(opts.ttlDays ? { ttlDays: opts.ttlDays } : {}),
        ...(opts.lowerFloors ? { lowerFloors: opts.lowerFloors } : {}),
      });
      const repo = channelRepository(host, 'aibox');
      const signer = opts.key ?? key;
      const pub = await publishChannel(client, repo, next, {
        expectCurrent: current,
        sign: async (ref) => {
          await signImage({ client, ref, key: signer, signer: SIGNER, now });
        },
      });
      current = pub.digest;
      channel = next;
      return next;
    },
    async developer(name) {
      const home = join(dir, name);
      const env = {
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_DATA_HOME: join(home, 'data'),
        XDG_CACHE_HOME: join(home, 'cache'),
      };
      const configPath = join(home, 'config', 'aibox', 'config.yaml');
      const engine = testEngineSettings();
      await rm(home, { recursive: true, force: true });
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(home, 'config', 'aibox'), { recursive: true });
      await writeFile(
        configPath,
        stringify({
          engine: {
            podman: engine.podman,
            ...(engine.runtime ? { runtime: engine.runtime } : {}),
            ...(engine.cgroupManager ? { cgroupManager: engine.cgroupManager } : {}),
            ulimits: engine.ulimits,
          },
        }),
      );
      return {
        home,
        env,
        configPath,
        statePath: join(home, 'data', 'aibox', 'developer', 'state.json'),
        aibox: (args, extra = {}) => runBin('aibox', args, { env: { ...env, ...extra } }),
      };
    },
    async dispose() {
      await client.close();
      await proxy.stop();
      await reg.stop();
      // What this file put in local storage: its build tags and what the developers pulled from this registry.
      const exec = createExec();
      const g = podman.globalArgs();
      const s = testEngineSettings();
      const ls = await exec(s.podman, [...g, 'images', '--format', '{{.Id}} {{.Repository}}'], {
        allowFailure: true,
      });
      const ids = ls.stdout
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter(([, repo]) => repo !== undefined && (repo.startsWith(host) || repo.includes(runId)))
        .map(([id]) => id as string);
      if (ids.length > 0)
        await exec(s.podman, [...g, 'rmi', '--force', ...new Set(ids)], { allowFailure: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Entry for a published image (no floor unless given). */
export function entry(img: PublishedImage, floor?: Partial<ChannelEntry>): ChannelEntry {
  return { variant: img.variant, tag: img.tag, digest: img.digest, created: img.created, ...floor };
}

export interface CountingProxy {
  readonly host: string;
  /** Requests seen since the last reset (method + path). */
  readonly requests: string[];
  reset(): void;
  /** Stop forwarding: every request is answered by a closed connection (registry unreachable). */
  setDown(down: boolean): void;
  stop(): Promise<void>;
}

/** A plain HTTP forwarder on 127.0.0.1 in front of a registry, logging every request it forwards. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const http = await import('node:http');
  const requests: string[] = [];
  let down = false;
  const [thost, tport] = target.split(':');
  const server = http.createServer((req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    requests.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    const up = http.request(
      {
        host: thost,
        port: Number(tport),
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    reset: () => void requests.splice(0),
    setDown: (d) => void (down = d),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
