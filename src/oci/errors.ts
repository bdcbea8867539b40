/**
 * Registry error bodies and URL redaction. Pure helpers shared by the transport and the client.
 * OCI error body: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#error-codes
 */

export interface OciErrorEntry {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** Parse `{"errors":[{code,message,detail}]}`; returns [] for anything else (plain text 404s etc.). */
export function parseOciErrors(body: Uint8Array | string): OciErrorEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) return [];
  const errors = (doc as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  const out: OciErrorEntry[] = [];
  for (const e of errors) {
    if (typeof e !== 'object' || e === null) continue;
    const o = e as Record<string, unknown>;
    const entry: { code: string; message: string; detail?: unknown } = {
      code: typeof o.code === 'string' ? o.code : 'UNKNOWN',
      message: typeof o.message === 'string' ? o.message : '',
    };
    if (o.detail !== undefined && o.detail !== null) entry.detail = o.detail;
    out.push(entry);
  }
  return out;
}

/** One line summarising OCI errors, e.g. `MANIFEST_UNKNOWN: manifest unknown {"Tag":"x"}`. */
export function formatOciErrors(entries: readonly OciErrorEntry[]): string {
  return entries
    .map((e) => {
      let detail = '';
      if (e.detail !== undefined) {
        const d = JSON.stringify(e.detail);
        if (d && d !== '{}' && d !== '[]') detail = ` ${d.length > 200 ? `${d.slice(0, 200)}…` : d}`;
      }
      return `${e.code}${e.message ? `: ${e.message}` : ''}${detail}`;
    })
    .join('; ');
}

const SECRET_QUERY = /token|signature|sig$|credential|secret|password|key|auth/i;

/** A URL safe to print: no userinfo, and secret-looking query values (presigned URLs, tokens) masked. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return String(url).replace(/\/\/[^/@]*@/, '//***@');
  }
  if (u.username || u.password) {
    u.username = '***';
    u.password = '';
  }
  for (const k of [...u.searchParams.keys()]) if (SECRET_QUERY.test(k)) u.searchParams.set(k, '***');
  return u.toString();
}
