/**
 * The signing key and trusted keys a command uses: from flags, else from the config's `signing`
 * section (paths relative to the config file). Shared by the sign/verify commands and the pipeline.
 */
import { AiboxError } from '../core/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { loadPrivateKey, type SigningKey } from './keys.js';
import { getPassword } from './password.js';
import { readKeyMaterial } from './sources.js';
import { keyStatus, UNUSABLE_KEY_STATES, type KeyStatus, type TrustedKey } from './trust.js';
import { loadKeyFlags, loadTrustedKeys } from './truststore.js';

type Env = Readonly<Record<string, string | undefined>>;

interface SigningKeySpec {
  readonly spec?: string | undefined;
  readonly loaded: LoadedConfig;
  readonly env: Env;
  readonly cwd: string;
}

/**
 * Find the signing key and its password (cheap: file, env, Vault, prompt; every error here comes
 * before any side effect), then start decrypting it. The caller awaits `decrypting` later, so scrypt
 * (about 50 ms on the thread pool) overlaps whatever it does meanwhile (opening the registry).
 */
export async function startSigningKey(
  opts: SigningKeySpec,
): Promise<{ readonly decrypting: Promise<SigningKey> }> {
  const keySpec = opts.spec ?? opts.loaded.config.signing.key;
  if (!keySpec) {
    throw new AiboxError({
      code: 'USAGE',
      message: 'no signing key: pass --key or set signing.key in the config',
      hint: 'e.g. --key cosign.key, --key env://COSIGN_KEY or --key vault://secret/aibox/cosign-key',
    });
  }
  const m = await readKeyMaterial(keySpec, {
    env: opts.env,
    baseDir: opts.spec !== undefined ? opts.cwd : opts.loaded.dir,
  });
  const password = await getPassword({ env: opts.env, stored: m.password, purpose: `key ${m.source}` });
  const decrypting = loadPrivateKey(m.text, password, m.source);
  decrypting.catch(() => undefined); // reported where it is awaited; never an unhandled rejection
  return { decrypting };
}

/** Decrypt the signing key named by `spec` (relative to cwd) or by `signing.key` (relative to the config). */
export async function loadSigningKey(opts: SigningKeySpec): Promise<SigningKey> {
  return (await startSigningKey(opts)).decrypting;
}

/** Trusted public keys: `--key` flags (relative to cwd), else `signing.trustedKeys`. */
export async function loadTrust(opts: {
  readonly keyFlags: readonly string[];
  readonly loaded: LoadedConfig;
  readonly env: Env;
  readonly cwd: string;
}): Promise<TrustedKey[]> {
  if (opts.keyFlags.length > 0) return loadKeyFlags(opts.keyFlags, { env: opts.env, baseDir: opts.cwd });
  const entries = opts.loaded.config.signing.trustedKeys;
  if (entries.length === 0) {
    throw new AiboxError({
      code: 'USAGE',
      message: 'no trusted keys: pass --key cosign.pub or set signing.trustedKeys in the config',
      hint: 'e.g. aiboxctl verify --key cosign.pub IMAGE',
    });
  }
  return loadTrustedKeys(entries, { env: opts.env, baseDir: opts.loaded.dir });
}

export interface KeysReport {
  readonly rotationDays: number;
  readonly keys: readonly KeyStatus[];
  /** False when a trusted key is retired or not yet valid (`keys status` exits 1). */
  readonly ok: boolean;
}

/** `keys status`: each trusted key's age, rotation date and window state at `now`. */
export async function keysReport(opts: {
  readonly keyFlags: readonly string[];
  readonly loaded: LoadedConfig;
  readonly env: Env;
  readonly cwd: string;
  readonly now: Date;
}): Promise<KeysReport> {
  const rotationDays = opts.loaded.config.signing.rotationDays;
  const keys = (await loadTrust(opts)).map((k) => keyStatus(k, opts.now, rotationDays));
  return { rotationDays, keys, ok: keys.every((k) => !UNUSABLE_KEY_STATES.has(k.state)) };
}
