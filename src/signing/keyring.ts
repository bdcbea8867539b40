/**
 * The signing key and trusted keys a command uses: from flags, else from the config's `signing`
 * section (paths relative to the config file). Shared by the sign/verify commands and the pipeline.
 */
import { AiboxError } from '../core/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { loadPrivateKey, type SigningKey } from './keys.js';
import { getPassword } from './password.js';
import { readKeyMaterial } from './sources.js';
import type { TrustedKey } from './trust.js';
import { loadKeyFlags, loadTrustedKeys } from './truststore.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Decrypt the signing key named by `spec` (relative to cwd) or by `signing.key` (relative to the config). */
export async function loadSigningKey(opts: {
  readonly spec?: string | undefined;
  readonly loaded: LoadedConfig;
  readonly env: Env;
  readonly cwd: string;
}): Promise<SigningKey> {
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
  return loadPrivateKey(m.text, password, m.source);
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
