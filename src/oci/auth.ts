/**
 * Registry auth, the pure half: WWW-Authenticate challenge parsing (RFC 7235), token scopes and
 * their unions, token-response parsing and a token cache keyed by (realm, service, scope set).
 * Docker token spec: https://distribution.github.io/distribution/spec/auth/token/
 */
import { AiboxError } from '../core/errors.js';

export interface Challenge {
  /** Lowercased auth scheme, e.g. "bearer", "basic". */
  readonly scheme: string;
  /** Lowercased parameter names; values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parse a (possibly merged, comma-joined) WWW-Authenticate value into challenges; never throws. */
export function parseChallenges(header: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  const quoted = (): string => {
    // at opening quote
    i++;
    let v = '';
    while (i < n) {
      const c = header[i] as string;
      if (c === '\\' && i + 1 < n) {
        v += header.charAt(i + 1);
        i += 2;
      } else if (c === '"') {
        i++;
        break;
      } else {
        v += c;
        i++;
      }
    }
    return v;
  };
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const t = token();
    if (t === '') {
      i = start + 1; // skip a junk character
      continue;
    }
    skipWs();
    if (header[i] === '=' && current !== undefined && header[i + 1] !== '=') {
      i++;
      skipWs();
      const value = header[i] === '"' ? quoted() : token();
      current.params[t.toLowerCase()] = value;
      continue;
    }
    if (header[i] === '=') {
      // token68 (e.g. "Negotiate abc==") or a param without a scheme: consume the '=' padding.
      while (i < n && header[i] === '=') i++;
      continue;
    }
    current = { scheme: t.toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(current);
  }
  return out;
}

/** Scopes as a map resource -> actions, so unions and cache keys are order-independent. */
export type ScopeSet = ReadonlyMap<string, ReadonlySet<string>>;

/** Parse the space-separated `scope` value of a challenge ("repository:a/b:pull,push registry:catalog:*"). */
export function parseScopes(value: string | undefined): ScopeSet {
  const map = new Map<string, Set<string>>();
  for (const s of (value ?? '').split(' ')) {
    if (!s) continue;
    const last = s.lastIndexOf(':');
    const first = s.indexOf(':');
    if (first < 0 || last === first) {
      // not type:name:actions; keep verbatim as a resource without actions
      if (!map.has(s)) map.set(s, new Set());
      continue;
    }
    const resource = s.slice(0, last);
    const actions = map.get(resource) ?? new Set<string>();
    for (const a of s.slice(last + 1).split(',')) if (a) actions.add(a);
    map.set(resource, actions);
  }
  return map;
}

/** Union of scope sets: what we need plus what the registry asked for (insufficient_scope retries). */
export function unionScopes(...sets: ScopeSet[]): ScopeSet {
  const map = new Map<string, Set<string>>();
  for (const set of sets) {
    for (const [res, actions] of set) {
      const into = map.get(res) ?? new Set<string>();
      for (const a of actions) into.add(a);
      map.set(res, into);
    }
  }
  return map;
}

/** Whether `have` grants every action in `want`. */
export function scopesCover(have: ScopeSet, want: ScopeSet): boolean {
  for (const [res, actions] of want) {
    const h = have.get(res);
    if (!h) return false;
    for (const a of actions) if (!h.has(a) && !h.has('*')) return false;
  }
  return true;
}

/** Scope strings, one per resource, sorted, for `scope=` query params and cache keys. */
export function formatScopes(set: ScopeSet): string[] {
  return [...set.entries()]
    .map(([res, actions]) => (actions.size ? `${res}:${[...actions].sort().join(',')}` : res))
    .sort();
}

/** The scope a repository operation needs (distribution maps GET/HEAD->pull, POST/PUT/PATCH->pull,push). */
export function repositoryScope(repository: string, actions: readonly string[]): ScopeSet {
  return new Map([[`repository:${repository}`, new Set(actions)]]);
}

export interface BearerToken {
  readonly token: string;
  /** Epoch ms after which the token must not be used. */
  readonly expiresAt: number;
}

/** Parse a token-server response ({token|access_token, expires_in=60, issued_at}); throws REGISTRY_AUTH. */
export function parseTokenResponse(body: unknown, now: number, realm: string): BearerToken {
  const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const token =
    typeof o.token === 'string' && o.token !== ''
      ? o.token
      : typeof o.access_token === 'string' && o.access_token !== ''
        ? o.access_token
        : undefined;
  if (token === undefined) {
    throw new AiboxError({
      code: 'REGISTRY_AUTH',
      message: `token server ${realm} returned no "token" or "access_token"`,
      hint: 'check the registry auth configuration (realm/service) with its administrator',
    });
  }
  const expiresIn = typeof o.expires_in === 'number' && o.expires_in > 0 ? o.expires_in : 60;
  const issued = typeof o.issued_at === 'string' ? Date.parse(o.issued_at) : Number.NaN;
  // Trust issued_at only when it is sane relative to our clock; otherwise count from now.
  const base = Number.isFinite(issued) && Math.abs(issued - now) < 5 * 60_000 ? Math.min(issued, now) : now;
  // Renew a little early so a token never expires in flight.
  const margin = Math.min(10, expiresIn / 4) * 1000;
  return { token, expiresAt: base + expiresIn * 1000 - margin };
}

/** Cache key for a token: realm, service and the normalised scope set. */
export function tokenCacheKey(realm: string, service: string | undefined, scopes: ScopeSet): string {
  return JSON.stringify([realm, service ?? '', formatScopes(scopes)]);
}

/** Token cache per (realm, service, scope set); callers pass `now` so it stays pure. */
export class TokenCache {
  readonly #tokens = new Map<string, BearerToken>();

  get(key: string, now: number): BearerToken | undefined {
    const t = this.#tokens.get(key);
    if (t === undefined) return undefined;
    if (t.expiresAt <= now) {
      this.#tokens.delete(key);
      return undefined;
    }
    return t;
  }

  set(key: string, token: BearerToken): void {
    this.#tokens.set(key, token);
  }

  delete(key: string): void {
    this.#tokens.delete(key);
  }
}
