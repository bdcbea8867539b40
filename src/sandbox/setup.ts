/**
 * `aibox setup` (issue 10 §1, runbook §5 "distributed to all developer machines via `aibox setup`"): check the
 * registry is reachable and its channel verifies with the given keys BEFORE writing anything, then install the keys
 * (copies in the data dir), write the developer config, seed the developer state (trusted keys, the verified
 * channel, its floors), and optionally merge the podman signature policy. Returns what it did, line by line.
 */
import { AiboxError } from '../core/errors.js';
import { loadPublicKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import type { DevStatePort } from './state.js';
import type { ImageStore } from '../oci/store.js';
import { toStored } from './trust.js';
import { verifiedChannel } from './verified-channel.js';

export interface SetupFiles {
  /** Copy a key into the data dir; returns its path. */
  installKey(name: string, pem: string): Promise<string>;
  /** Write the developer config document (atomic, 0600, previous file kept as a backup). */
  writeConfig(doc: Readonly<Record<string, unknown>>): Promise<{ path: string; backup: string | null }>;
  /** Where installKey puts a key (known before anything is written). */
  keyPath(name: string): string;
  /**
   * Read and merge the podman policy for `scope` (policy.json + registries.d) without writing; throws when a file
   * cannot be read or merged. `commit` writes them (each with a backup).
   */
  preparePodmanPolicy(
    scope: string,
    keyPaths: readonly string[],
  ): Promise<{ commit(): Promise<readonly { path: string; backup: string | null; changed: boolean }[]> }>;
}

export interface SetupDeps {
  readonly registry: () => Promise<ImageStore>;
  readonly state: DevStatePort;
  readonly files: SetupFiles;
  readonly now: Date;
}

export interface SetupInput {
  readonly host: string;
  readonly project: string;
  /** Key files as read: name (file name without .pub), source path, PEM text. */
  readonly keys: readonly { readonly name: string; readonly source: string; readonly pem: string }[];
  readonly variant: string;
  readonly fleet: { readonly url: string | null; readonly tokenFile: string | null };
  readonly podmanPolicy: boolean;
  /** The existing developer config (its other settings, e.g. engine, are kept). */
  readonly existing: Readonly<Record<string, unknown>>;
}

export interface SetupResult {
  readonly config: string;
  readonly configBackup: string | null;
  readonly keys: readonly { readonly name: string; readonly path: string; readonly fingerprint: string }[];
  readonly channelSequence: number;
  readonly variants: readonly string[];
  readonly policyFiles: readonly { path: string; backup: string | null; changed: boolean }[];
  readonly lines: readonly string[];
}

/** Run setup; nothing is written unless the registry answered and its channel verified with the given keys. */
export async function setup(deps: SetupDeps, input: SetupInput): Promise<SetupResult> {
  const names = new Set<string>();
  const trusted: TrustedKey[] = input.keys.map((k) => {
    if (names.has(k.name)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `two --key files are both named "${k.name}"`,
        hint: 'rename one of them (the file name is the key name)',
      });
    }
    names.add(k.name);
    return {
      name: k.name,
      publicKey: loadPublicKey(k.pem, k.source),
      notBefore: null,
      notAfter: null,
      createdAt: null,
    };
  });
  // Fresh trust: the keys given now; floors and the highest sequence seen are kept (they never go down).
  const prior = await deps.state.read();
  const base = { ...prior };
  delete (base as { trusted?: unknown }).trusted;
  const step = await verifiedChannel(
    {
      registry: deps.registry,
      host: input.host,
      project: input.project,
      state: deps.state,
      trustedKeys: trusted,
      now: deps.now,
    },
    base,
    { online: true, refuseExpired: true },
  );
  if (!step.channel || step.offline) {
    throw new AiboxError({
      code: 'REGISTRY_UNREACHABLE',
      message: `cannot reach ${input.host} to verify its release channel: ${step.warnings.join(' ')}`,
      hint: 'nothing was written; check the host name and your network, then run setup again',
    });
  }
  if (!step.channel.variants[input.variant]) {
    throw new AiboxError({
      code: 'USAGE',
      message: `the release channel has no variant "${input.variant}" (it has: ${Object.keys(step.channel.variants).join(', ')})`,
      hint: 'pass --variant with one of those; nothing was written',
    });
  }
  // Everything that can fail is checked before the first write (nothing partial is left behind).
  const policy = input.podmanPolicy
    ? await deps.files.preparePodmanPolicy(
        `${input.host}/${input.project}`,
        input.keys.map((k) => deps.files.keyPath(k.name)),
      )
    : undefined;
  const installed = [];
  for (const k of input.keys) {
    const key = trusted.find((t) => t.name === k.name) as TrustedKey;
    installed.push({
      name: k.name,
      path: await deps.files.installKey(k.name, key.publicKey.pem),
      fingerprint: key.publicKey.fingerprint,
    });
  }
  const doc = {
    ...input.existing,
    registry: {
      ...((input.existing.registry as Record<string, unknown> | undefined) ?? {}),
      host: input.host,
      project: input.project,
    },
    variant: input.variant,
    trustedKeys: installed.map((k) => ({ name: k.name, path: k.path, notBefore: null, notAfter: null })),
    fleet: { url: input.fleet.url, tokenFile: input.fleet.tokenFile },
  };
  const written = await deps.files.writeConfig(doc);
  await deps.state.write({ ...step.state, trusted: toStored(step.trust, 'setup') });
  const policyFiles = policy ? await policy.commit() : [];
  const lines = [
    `Registry ${input.host}/${input.project}: reachable; release channel sequence ${step.channel.sequence} verified (variants: ${Object.keys(step.channel.variants).join(', ')})`,
    ...installed.map((k) => `Installed trusted key ${k.name} (${k.fingerprint}) at ${k.path}`),
    `Wrote ${written.path}${written.backup ? ` (previous config kept as ${written.backup})` : ''}`,
    ...policyFiles.map((f) =>
      f.changed
        ? `Updated ${f.path}${f.backup ? ` (backup ${f.backup})` : ''}`
        : `${f.path} already requires aibox signatures`,
    ),
    ...(input.fleet.url ? [`Fleet reports go to ${input.fleet.url}`] : []),
    `Next: run 'aibox update' to pull and verify aibox-${input.variant}.`,
  ];
  return {
    config: written.path,
    configBackup: written.backup,
    keys: installed,
    channelSequence: step.channel.sequence,
    variants: Object.keys(step.channel.variants),
    policyFiles,
    lines,
  };
}
