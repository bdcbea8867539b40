/**
 * Where key material comes from (edge: fs, env, Vault): a file path (relative to the config
 * directory), `env://VAR` (the PEM text in a variable) or `vault://<mount>/<path>` (HashiCorp
 * Vault KV v2; fields `cosign.key`, optional `cosign.password` and `cosign.pub`).
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { registerSecret, registerUrlCredentials } from '../core/redact.js';
import { parseVaultUri, readKvSecret } from './vault.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface KeyMaterial {
  /** PEM text. */
  readonly text: string;
  /** How to name the source in messages (never contains secrets). */
  readonly source: string;
  /** Password stored beside the key (Vault `cosign.password`), if any. */
  readonly password?: string;
  /** Public key stored beside the key (Vault `cosign.pub`), if any. */
  readonly publicKeyText?: string;
}

export interface SourceOptions {
  readonly env: Env;
  /** Base for relative paths (the config file's directory, else cwd). */
  readonly baseDir: string;
}

const MAX_KEY_FILE = 64 * 1024;

/** Vault field names, as cosign's Kubernetes secrets name them. */
export const VAULT_FIELDS = { key: 'cosign.key', password: 'cosign.password', pub: 'cosign.pub' } as const;

/** Load key text from a file path, `env://VAR` or `vault://…`. */
export async function readKeyMaterial(spec: string, opts: SourceOptions): Promise<KeyMaterial> {
  if (spec.startsWith('env://')) {
    const name = spec.slice('env://'.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new AiboxError({
        code: 'CONFIG_INVALID',
        message: `invalid key reference "${spec}": expected env://VARIABLE_NAME`,
      });
    }
    const text = opts.env[name];
    if (text === undefined || text === '') {
      throw new AiboxError({
        code: 'KEY_INVALID',
        message: `environment variable ${name} (key ${spec}) is not set or empty`,
        hint: `Export the PEM text of the key in ${name}`,
      });
    }
    return { text, source: spec };
  }
  if (spec.startsWith('vault://')) {
    const at = parseVaultUri(spec);
    const addr = opts.env.VAULT_ADDR;
    const token = opts.env.VAULT_TOKEN;
    // Secrets are registered where they are read (core/redact), before anything can quote them.
    registerSecret(token);
    registerUrlCredentials(addr);
    if (!addr || !token) {
      throw new AiboxError({
        code: 'CONFIG_INVALID',
        message: `key ${spec} needs VAULT_ADDR and VAULT_TOKEN in the environment`,
        hint: 'Export VAULT_ADDR and VAULT_TOKEN (e.g. from `vault login`)',
      });
    }
    const fields = await readKvSecret({ addr, token, namespace: opts.env.VAULT_NAMESPACE }, at);
    const text = fields[VAULT_FIELDS.key];
    if (!text) {
      throw new AiboxError({
        code: 'KEY_INVALID',
        message: `Vault secret ${spec} has no "${VAULT_FIELDS.key}" field`,
        hint: `Store it with: vault kv put ${at.mount}/${at.path} ${VAULT_FIELDS.key}=@cosign.key ${VAULT_FIELDS.password}=<password>`,
      });
    }
    const password = fields[VAULT_FIELDS.password];
    registerSecret(password);
    const pub = fields[VAULT_FIELDS.pub];
    return {
      text,
      source: spec,
      ...(password !== undefined ? { password } : {}),
      ...(pub ? { publicKeyText: pub } : {}),
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `unsupported key reference "${spec}": use a file path, env://VAR or vault://<mount>/<path>`,
    });
  }
  const path = isAbsolute(spec) ? spec : resolve(opts.baseDir, spec);
  try {
    const st = await stat(path);
    if (!st.isFile())
      throw new AiboxError({ code: 'KEY_INVALID', message: `key ${path} is not a regular file` });
    if (st.size > MAX_KEY_FILE)
      throw new AiboxError({
        code: 'KEY_INVALID',
        message: `key ${path} is too large (${st.size} bytes) to be a key file`,
      });
    return { text: await readFile(path, 'utf8'), source: path };
  } catch (e: unknown) {
    if (e instanceof AiboxError) throw e;
    throw new AiboxError({
      code: 'KEY_INVALID',
      message: `cannot read key ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      hint: 'Check the path (relative paths are resolved from the config file directory)',
      cause: e,
    });
  }
}
