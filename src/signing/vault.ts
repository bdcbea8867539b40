/**
 * HashiCorp Vault KV v2 transport (the only caller of fetch() for Vault): read one secret version.
 * API: `GET $VAULT_ADDR/v1/<mount>/data/<path>[?version=N]` with `X-Vault-Token` (and
 * `X-Vault-Namespace`); the answer is `{"data":{"data":{...fields},"metadata":{...}}}`.
 * https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version
 * The token and any VAULT_ADDR user-info are registered with core/redact as soon as they are read,
 * so no message, `--json` document, run record or notice can carry them; user-info is sent as a
 * Basic `Authorization` header (as Go's client, and so the vault CLI, does) and never in a URL.
 * Redirects are refused so the token is never re-sent elsewhere.
 */
import { AiboxError } from '../core/errors.js';
import { registerSecret, registerUrlCredentials, sanitizeRemote } from '../core/redact.js';

export interface VaultSettings {
  readonly addr: string;
  readonly token: string;
  readonly namespace?: string | undefined;
  readonly timeoutMs?: number;
}

export interface VaultPath {
  readonly mount: string;
  readonly path: string;
  readonly version?: number;
}

/** `vault://secret/aibox/cosign-key[?version=N]` → mount `secret`, path `aibox/cosign-key`. */
export function parseVaultUri(uri: string): VaultPath {
  const [, mount, path, version] = /^vault:\/\/([^/?#]+)\/([^?#]+?)\/?(?:\?version=(\d+))?$/.exec(uri) ?? [];
  if (
    mount === undefined ||
    path === undefined ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `invalid Vault key reference "${uri}": expected vault://<kv-v2 mount>/<path>[?version=N]`,
      hint: 'For example vault://secret/aibox/cosign-key (runbook §5)',
    });
  }
  return { mount, path, ...(version ? { version: Number(version) } : {}) };
}

/** Read a KV v2 secret's fields (string values only). */
export async function readKvSecret(settings: VaultSettings, at: VaultPath): Promise<Record<string, string>> {
  registerSecret(settings.token);
  registerUrlCredentials(settings.addr);
  const shown = `vault://${at.mount}/${at.path}`;
  let base: URL;
  try {
    base = new URL(settings.addr);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `invalid VAULT_ADDR: expected an http(s) URL`,
      hint: 'Set VAULT_ADDR, e.g. https://vault.internal:8200',
    });
  }
  const headers: Record<string, string> = { 'x-vault-token': settings.token, accept: 'application/json' };
  if (base.username || base.password) {
    const pair = `${decoded(base.username)}:${decoded(base.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    base.username = '';
    base.password = '';
  }
  const url = new URL(
    `${base.pathname.replace(/\/+$/, '')}/v1/${encodeSegs(at.mount)}/data/${encodeSegs(at.path)}`,
    base,
  );
  if (at.version !== undefined) url.searchParams.set('version', String(at.version));
  if (settings.namespace) headers['x-vault-namespace'] = settings.namespace;
  let res: Response;
  try {
    res = await fetch(url, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs ?? 15_000),
    });
  } catch (e: unknown) {
    throw new AiboxError({
      code: 'VAULT_UNREACHABLE',
      message: `cannot reach Vault at ${base.origin} to read ${shown}`,
      hint: 'Check VAULT_ADDR and the network path to Vault',
      cause: e,
    });
  }
  const text = await res.text();
  if (res.status === 403 || res.status === 401) {
    throw new AiboxError({
      code: 'VAULT_REFUSED',
      message: `Vault refused to read ${shown} (HTTP ${res.status}: permission denied)${vaultErrors(text)}`,
      hint: 'Check VAULT_TOKEN and its policy (read on <mount>/data/<path>)',
    });
  }
  if (res.status === 404) {
    throw new AiboxError({
      code: 'VAULT_ERROR',
      message: `no secret at ${shown} in Vault (HTTP 404)`,
      details: { status: 404 },
      hint: 'Store the key with: vault kv put secret/aibox/cosign-key cosign.key=@cosign.key cosign.password=...',
    });
  }
  if (res.status !== 200) {
    throw new AiboxError({
      code: 'VAULT_ERROR',
      message: `Vault answered HTTP ${res.status} reading ${shown}${vaultErrors(text)}`,
      details: { status: res.status },
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AiboxError({ code: 'VAULT_ERROR', message: `Vault answer for ${shown} is not JSON` });
  }
  const data = (doc as { data?: { data?: unknown } } | null)?.data?.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new AiboxError({
      code: 'VAULT_ERROR',
      message: `Vault answer for ${shown} has no data.data object (is ${at.mount} a KV version 2 mount, and is the secret deleted?)`,
    });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out[k] = v;
  return out;
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function encodeSegs(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** Vault's `{"errors": [...]}` (or a proxy's text), as one safe line: a remote string, possibly echoing secrets. */
function vaultErrors(text: string): string {
  let shown = text;
  try {
    const errs = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errs)) shown = errs.map(String).join('; ');
  } catch {
    /* not JSON: a proxy's page */
  }
  const line = sanitizeRemote(shown, 200);
  return line ? `: ${line}` : '';
}
