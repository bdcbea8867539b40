/**
 * One redaction rule for everything that leaves the process: error lines, hints, `--json`
 * documents, run records and on-call notices. Whoever reads a secret (key password, Vault token,
 * registry password, webhook URL) registers it here; `redact` then removes every registered
 * secret, URL user-info and credentials-looking header values, and `sanitize` also strips control
 * characters so a hostile registry cannot paint fake lines with escape codes.
 *
 * Pure string functions plus one process-wide set of secret values (no I/O).
 */

const MASK = '***';

/** Values shorter than this are not registered: masking "a" would garble every message. */
const MIN_SECRET_LENGTH = 4;

const secrets = new Set<string>();
/** The secrets longest first, rebuilt only when the set changes (redact runs on every output string). */
let longestFirst: string[] | null = null;

/**
 * Remember a secret so every later `redact` removes it (and its URL-encoded and base64 forms,
 * which is how a password travels in a URL or a Basic header).
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  for (const form of secretForms(value)) secrets.add(form);
  longestFirst = null;
}

function secretForms(value: string): string[] {
  const forms = [value];
  const enc = encodeURIComponent(value);
  if (enc !== value) forms.push(enc);
  if (value.length >= 8) {
    // Padded (as in a Basic header) and unpadded; longest-first masking takes the padded one whole.
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(value)));
    forms.push(b64, b64.replace(/=+$/, ''));
  }
  return forms;
}

/**
 * Register the user-info of a URL (`scheme://user:password@host`): the password, the decoded and
 * raw `user:password` pair (and so its base64 form, as a Basic header carries it).
 */
export function registerUrlCredentials(url: string | undefined | null): void {
  if (!url) return;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@\s]+)@/i.exec(url);
    if (m) registerSecret(m[1]);
    return;
  }
  if (!u.username && !u.password) return;
  registerSecret(u.password);
  registerSecret(safeDecode(u.password));
  registerSecret(`${u.username}:${u.password}`);
  registerSecret(`${safeDecode(u.username)}:${safeDecode(u.password)}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Forget every registered secret (tests). */
export function clearSecrets(): void {
  secrets.clear();
  longestFirst = null;
}

/** How many secret forms are registered (tests and diagnostics; never the values). */
export function secretCount(): number {
  return secrets.size;
}

// scheme://user[:password]@host  →  scheme://***@host
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<>]+@/gi;
// Authorization-style values and well-known token shapes.
const AUTH_VALUE = /\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g;
// A value written as a placeholder (`password=<password>`, `token=$TOKEN`) is an instruction, not a secret.
const TOKEN_PARAMS = /\b(access_token|refresh_token|password|token|client_secret)=([^\s&"'<$][^\s&"']*)/gi;
// Slack incoming webhooks are secrets in themselves (https://api.slack.com/messaging/webhooks).
const SLACK_WEBHOOK = /https:\/\/hooks\.slack\.com\/(services|workflows|triggers)\/[A-Za-z0-9/_-]+/g;
// Vault tokens (hvs./hvb./hvr. service, batch and recovery tokens; legacy s. tokens are 26+ chars).
const VAULT_TOKEN = /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g;

/**
 * The pattern rules, each with the literal parts one of which must occur for it to match (a necessary condition):
 * a rule runs only where its literal occurs, and `jsonTextMaySanitize` reads the same literals.
 */
const RULES: readonly { readonly when: readonly string[]; readonly apply: (s: string) => string }[] = [
  { when: ['://'], apply: (s) => s.replace(URL_USERINFO, `$1${MASK}@`) },
  { when: ['hooks.slack.com'], apply: (s) => s.replace(SLACK_WEBHOOK, `https://hooks.slack.com/$1/${MASK}`) },
  { when: ['Basic', 'Bearer'], apply: (s) => s.replace(AUTH_VALUE, `$1 ${MASK}`) },
  { when: ['='], apply: (s) => s.replace(TOKEN_PARAMS, `$1=${MASK}`) },
  { when: ['hv'], apply: (s) => s.replace(VAULT_TOKEN, MASK) },
];

/** Remove every registered secret, URL user-info and credential-looking value from a string. */
export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  longestFirst ??= [...secrets].sort((a, b) => b.length - a.length);
  for (const s of longestFirst) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  // Each rule runs only where its literal part occurs: the same result, without five regex scans of every string
  // of a large --json document.
  for (const rule of RULES) if (rule.when.some((w) => out.includes(w))) out = rule.apply(out);
  return out;
}

// CSI (ESC [ … final), OSC (ESC ] … BEL | ESC \), other two-byte escapes, then single controls.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]?/g;
// C0 controls except \t and \n, DEL, C1 controls, and bidi overrides/isolates (Trojan Source).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Strip terminal escape sequences and control characters (keeps \n and \t). */
export function stripControl(text: string): string {
  // Every escape sequence starts with ESC, itself a control: a string without controls is returned as is.
  if (!ANY_CONTROL.test(text)) return text;
  return text.replace(ANSI, '').replace(CONTROL, '');
}
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** `redact` + `stripControl`: what every printed or stored string goes through. */
export function sanitize(text: string): string {
  return stripControl(redact(text));
}

/**
 * A string that came from a remote party (registry error body, scanner output), made safe to put
 * into one line of our own text: no controls, no newlines, bounded length, secrets removed.
 */
export function sanitizeRemote(text: string, maxLength = 300): string {
  const one = sanitize(text).replace(/\s+/g, ' ').trim();
  return one.length > maxLength ? `${one.slice(0, maxLength)}… (${one.length - maxLength} more chars)` : one;
}

/**
 * `sanitize` applied to every string inside a JSON-like value (objects, arrays), keys included. Copy on write: a
 * plain object or array none of whose strings changes is returned as it is (a large `--json` document is mostly
 * clean, and copying it was most of the cost); any other object (a class instance, a Map) is copied into a plain
 * object of its own enumerable properties, as before. An object inside itself (a cycle) is "[circular]"; one
 * reached twice without a cycle is written twice, as JSON.stringify writes it.
 */
export function sanitizeDeep<T>(value: T): T {
  // One answer per distinct string: a large document repeats its keys and most of its values.
  const memo = new Map<string, string>();
  const clean = (s: string): string => {
    let out = memo.get(s);
    if (out === undefined) memo.set(s, (out = sanitize(s)));
    return out;
  };
  return deep(value, new Set(), clean) as T;
}

/** `seen` holds the objects on the path from the root: a cycle, not a second visit, is "[circular]". */
function deep(v: unknown, seen: Set<object>, clean: (s: string) => string): unknown {
  if (typeof v === 'string') return clean(v);
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) return '[circular]';
  seen.add(v);
  const out = deepObject(v, seen, clean);
  seen.delete(v);
  return out;
}

function deepObject(v: object, seen: Set<object>, clean: (s: string) => string): unknown {
  if (Array.isArray(v)) {
    const xs = v as unknown[];
    let out: unknown[] | undefined;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const y = deep(x, seen, clean);
      if (out === undefined && y !== x) out = xs.slice(0, i);
      if (out !== undefined) out.push(y);
    }
    return out ?? xs;
  }
  if (v instanceof Date) return v;
  const proto = Object.getPrototypeOf(v) as unknown;
  const plain = proto === Object.prototype || proto === null;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  const values = new Array<unknown>(keys.length);
  let changed = !plain;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const x = obj[k];
    const y = deep(x, seen, clean);
    values[i] = y;
    if (y !== x || clean(k) !== k) changed = true;
  }
  if (!changed) return v;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) out[clean(keys[i] as string)] = values[i];
  return out;
}

// What JSON.stringify writes for a string that `stripControl` would change: C0 controls other than \t and \n are
// escaped (\b, \f, \r, \u00XX); DEL, C1 and the bidi controls are written as they are.
const JSON_CONTROL = /\\[bfr]|\\u00[01][0-9a-fA-F]|[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// Characters JSON.stringify writes escaped (or may: lone surrogates): a secret holding one is not searched as text.
// eslint-disable-next-line no-control-regex
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * False only when no string (value or key) of the JSON document `json` (as JSON.stringify wrote it) would be changed
 * by `sanitize`: no registered secret, no literal of a redaction rule and no control character occurs in the text.
 * Each is a necessary condition for a change (JSON escapes a string character by character, and none of the
 * literals holds a character it escapes), so a false answer is exact; a true answer may be a false alarm.
 */
export function jsonTextMaySanitize(json: string): boolean {
  for (const s of secrets) if (JSON_ESCAPED.test(s) || json.includes(s)) return true;
  for (const rule of RULES) for (const w of rule.when) if (json.includes(w)) return true;
  return JSON_CONTROL.test(json);
}

/**
 * `JSON.stringify(sanitizeDeep(value), null, space)`, without the walk when nothing in it needs sanitising: for a tree
 * of plain objects, arrays, Dates and primitives (JSON.stringify refuses a cycle) whose JSON text
 * `jsonTextMaySanitize` clears, the text of the value itself is the same text.
 */
export function sanitizedJson(value: unknown, space?: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, space);
  } catch {
    text = undefined; // a cycle (or a BigInt): the walk decides
  }
  if (typeof text === 'string' && isPlainTree(value) && !jsonTextMaySanitize(text)) return text;
  return JSON.stringify(sanitizeDeep(value), null, space);
}

/** Past this many values the tree is left to the walk (a getter that builds a new object on every read). */
const PLAIN_TREE_LIMIT = 50_000_000;

/**
 * Plain objects, arrays, Dates and JSON primitives only, read as JSON.stringify reads them (own enumerable keys,
 * indices). Called after JSON.stringify accepted the value, so it has no cycle.
 */
function isPlainTree(value: unknown): boolean {
  const stack: unknown[] = [value];
  let budget = PLAIN_TREE_LIMIT;
  while (stack.length > 0) {
    if (--budget < 0) return false;
    const v = stack.pop();
    if (typeof v === 'function' || typeof v === 'bigint') return false;
    if (v === null || typeof v !== 'object') continue;
    const proto = Object.getPrototypeOf(v) as unknown;
    if (Array.isArray(v)) {
      if (proto !== Array.prototype) return false;
      for (let i = 0; i < v.length; i++) stack.push((v as unknown[])[i]);
    } else if (proto === Object.prototype || proto === null) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) stack.push(o[keys[i] as string]);
    } else if (proto !== Date.prototype || Object.hasOwn(v, 'toJSON')) return false;
  }
  return true;
}
