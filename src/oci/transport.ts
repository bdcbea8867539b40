/**
 * HTTP transport for registries: the only module that talks HTTP to a registry (node:http/https;
 * undici cost 60-90 ms of CLI start-up to import). Keep-alive connection reuse, a concurrency
 * semaphore, retries with exponential backoff + jitter and Retry-After (idempotent requests only),
 * per-request timeouts, manual redirects that never carry Authorization to another origin, and
 * status checking with OCI error bodies in one place.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { AiboxError, type ErrorCode } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { sanitizeRemote } from '../core/redact.js';
import { isTransientErrno, nextRetry, type AttemptOutcome, type RetryPolicy } from '../core/retry.js';
import { formatOciErrors, parseOciErrors, redactUrl } from './errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** May be retried on 408/429/5xx and connection failures (GET/HEAD/PUT manifest/DELETE). */
  readonly idempotent: boolean;
  /**
   * A blob transfer: the overall deadline grows with the bytes moved (the request body, or the
   * response's Content-Length) at `minBytesPerSecond`, on top of the base deadline.
   */
  readonly bulk?: boolean;
  /** Return a 3xx as it is instead of following it (health probes). */
  readonly noRedirects?: boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The URL that produced this response (after redirects). */
  readonly url: URL;
  /** Must be consumed (readBody/stream) or discarded, or the concurrency slot stays taken. */
  readonly body: IncomingMessage;
}

export interface TransportOptions {
  readonly logger?: Logger;
  readonly concurrency?: number;
  /** Socket idle limit: no connect, head or body data for this long fails the attempt (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * Overall deadline of one request, retries and redirects included, until its body is read
   * (default 60 s); a slow-drip server cannot hold a request open past it.
   */
  readonly deadlineMs?: number;
  /** Slowest transfer rate a bulk (blob) request is granted time for (default 1 MiB/s). */
  readonly minBytesPerSecond?: number;
  readonly retries?: number;
  /** First backoff step in ms (doubles each attempt, with jitter). */
  readonly retryBaseMs?: number;
  /** Upper bound for any single wait, including Retry-After. */
  readonly maxRetryWaitMs?: number;
}

/** Our own code for "no connect / headers / body data within timeoutMs" (the socket went idle). */
const TIMEOUT_CODE = 'ERR_AIBOX_HTTP_TIMEOUT';
/** What discard() reads before it gives up on a connection and destroys it instead. */
const DISCARD_LIMIT = 256 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** A counting semaphore: bounds in-flight requests per client. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, Math.floor(n));
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/** First value of a header (a repeated header is a string[]). */
export function header(res: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** All values of a header joined with ", " (WWW-Authenticate may repeat). */
export function headerAll(res: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function errnoOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof o.code === 'string') return o.code;
  if (Array.isArray(o.errors) && o.errors.length > 0) return errnoOf(o.errors[0]);
  if (o.cause !== undefined && o.cause !== e) return errnoOf(o.cause);
  return undefined;
}

function causeText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    return [...new Set(e.errors.map((x) => (x instanceof Error ? x.message : String(x))))].join('; ');
  }
  // OpenSSL messages end in a newline; error lines stay one line.
  const msg = (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, ' ');
  const code = errnoOf(e);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

/** Read a whole response body, refusing more than `limit` bytes (the caller names the error). */
export async function readBody(
  res: HttpResponse,
  limit: number,
  tooLarge: (read: number) => AiboxError,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limit) {
        res.body.destroy();
        throw tooLarge(total);
      }
      chunks.push(chunk);
    }
  } catch (e: unknown) {
    if (e instanceof AiboxError) throw e;
    throw new AiboxError({
      code: 'REGISTRY_UNREACHABLE',
      message: `reading response from ${redactUrl(res.url)} failed: ${causeText(e)}`,
      hint: 'the connection broke mid-transfer; retry',
      cause: e,
    });
  }
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Drop a response body we do not need, freeing the connection and the concurrency slot: drain it
 * so the socket goes back to the pool, destroying the connection instead once more than 256 KiB
 * came in (Content-Length is not used: a HEAD carries the GET's length). Never rejects.
 */
export function discard(res: HttpResponse): Promise<void> {
  const body = res.body;
  if (body.readableEnded || body.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let read = 0;
    const onData = (chunk: Buffer) => {
      read += chunk.byteLength;
      if (read > DISCARD_LIMIT) body.destroy();
    };
    const done = () => {
      body.off('data', onData);
      body.off('end', done);
      body.off('close', done);
      body.off('error', done);
      resolve();
    };
    body.on('data', onData);
    body.once('end', done);
    body.once('close', done);
    body.once('error', done);
    body.resume();
  });
}

export interface StatusContext {
  /** What we were doing, e.g. `GET manifest 127.0.0.1:5000/demo/app:v1`. */
  readonly what: string;
  /** Extra text for 401/403, e.g. which credential source was tried. */
  readonly authNote?: string;
  /** Override the code for 404 (default NOT_FOUND). */
  readonly notFoundHint?: string;
  /** Replace the default 401/403 hint (e.g. when another host than the registry refused). */
  readonly authHint?: string;
}

/** The one place a registry status becomes success or a typed AiboxError (body parsed as OCI errors). */
export async function checkStatus(
  res: HttpResponse,
  expected: readonly number[],
  ctx: StatusContext,
): Promise<void> {
  if (expected.includes(res.status)) return;
  let body: Uint8Array = new Uint8Array();
  try {
    body = await readBody(
      res,
      64 * 1024,
      () => new AiboxError({ code: 'REGISTRY_ERROR', message: 'error body too large' }),
    );
  } catch {
    /* the status alone has to do */
  }
  throw statusError(res.status, res.url, body, ctx);
}

/** Build the error for an unexpected status; exported so callers that already read the body share it. */
export function statusError(status: number, url: URL, body: Uint8Array, ctx: StatusContext): AiboxError {
  const entries = parseOciErrors(body);
  let detail = formatOciErrors(entries);
  if (!detail && body.byteLength > 0 && body.byteLength < 300) detail = new TextDecoder().decode(body);
  // Remote text: no escape codes or control characters, one bounded line, secrets masked.
  detail = sanitizeRemote(detail);
  const where = redactUrl(url);
  const base = `${ctx.what} failed: HTTP ${status} from ${where}${detail ? ` (${detail})` : ''}`;
  let code: ErrorCode = 'REGISTRY_ERROR';
  let hint: string | undefined;
  let message = base;
  if (status === 401 || status === 403) {
    code = 'REGISTRY_AUTH';
    message = `${base}${ctx.authNote ? ` ${ctx.authNote}` : ''}`;
    hint =
      ctx.authHint ??
      (status === 401
        ? 'log in (podman login / docker login) or set REGISTRY_AUTH_FILE to an auth.json with credentials for this registry'
        : 'the credentials are valid but lack permission for this repository or action');
  } else if (status === 404) {
    code = 'NOT_FOUND';
    hint = ctx.notFoundHint ?? 'check the repository, tag or digest exists on this registry';
  } else if (status === 429) {
    hint = 'the registry is rate-limiting; wait and retry, or authenticate for a higher limit';
  } else if (status >= 500) {
    hint = 'the registry reported a server error; retry later or check its logs';
  }
  return new AiboxError({
    code,
    message,
    ...(hint !== undefined ? { hint } : {}),
    details: { status, url: where, errors: entries.map((e) => sanitizeRemote(e.code, 80)) },
  });
}

/** node:https loads TLS (~2 ms); only registries that need it pay for it. */
let httpsModule: Promise<typeof import('node:https')> | undefined;

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no data for ${ms}ms`), { code: TIMEOUT_CODE });
}

/** Response headers as string, or string[] when repeated (the shape checkStatus/header() expect). */
function responseHeaders(m: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(m.headersDistinct)) {
    if (v !== undefined) out[k] = v.length === 1 ? (v[0] as string) : v;
  }
  return out;
}

/** Transport bound to one keep-alive Agent per scheme; shared by all requests of one RegistryClient. */
export class Transport {
  readonly #http: HttpAgent;
  #https: HttpsAgent | undefined;
  readonly #concurrency: number;
  readonly #sem: Semaphore;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #minRate: number;
  readonly #policy: RetryPolicy;

  constructor(opts: TransportOptions = {}) {
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#deadlineMs = Math.max(1, opts.deadlineMs ?? 60_000);
    this.#minRate = Math.max(1, opts.minBytesPerSecond ?? 1024 * 1024);
    this.#policy = {
      attempts: 1 + Math.max(0, opts.retries ?? 3),
      baseMs: opts.retryBaseMs ?? 100,
      capMs: 5_000,
      maxRetryAfterMs: opts.maxRetryWaitMs ?? 30_000,
      jitter: true,
    };
    this.#log = opts.logger ?? silentLogger;
    this.#sem = new Semaphore(this.#concurrency);
    this.#http = new HttpAgent(this.#agentOptions());
  }

  /**
   * Send with retries and redirects; the returned body holds a concurrency slot until consumed.
   * One deadline covers every attempt, redirect and the body: past it the exchange in flight is
   * destroyed and the request fails with TIMEOUT ("no complete answer within N s").
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const deadline = new Deadline(
      this.#deadlineMs + (req.bulk && req.body ? this.#bulkMs(req.body.byteLength) : 0),
      `${req.method} ${redactUrl(req.url)}`,
    );
    for (let attempt = 1; ; attempt++) {
      const release = await this.#sem.acquire();
      let res: HttpResponse;
      try {
        res = await this.#sendFollowing(req, deadline);
      } catch (e: unknown) {
        release();
        if (e instanceof AiboxError) {
          deadline.clear();
          throw e;
        }
        const code = errnoOf(e);
        const transient = isTransientErrno(code) || code === TIMEOUT_CODE;
        const next = nextRetry(
          this.#policy,
          attempt,
          req.idempotent,
          { kind: 'network', transient },
          Date.now(),
        );
        if (next.retry) {
          this.#log.debug(
            `${req.method} ${redactUrl(req.url)}: ${causeText(e)}; retrying in ${next.waitMs}ms`,
          );
          await deadline.sleep(next.waitMs);
          continue;
        }
        deadline.clear();
        throw this.#networkError(req, e, attempt);
      }
      const body = res.body;
      let returned = false;
      const done = () => {
        release();
        // Only the answer handed to the caller ends the deadline (a retried one's body ends early).
        if (returned) deadline.clear();
      };
      if (body.readableEnded || body.destroyed) release();
      else {
        body.once('close', done);
        body.once('end', done);
        body.once('error', done);
      }
      if (req.method === 'HEAD') void discard(res);
      const outcome: AttemptOutcome = {
        kind: 'status',
        status: res.status,
        retryAfter: header(res, 'retry-after'),
      };
      const next = nextRetry(this.#policy, attempt, req.idempotent, outcome, Date.now());
      if (next.retry) {
        await discard(res);
        this.#log.debug(
          `${req.method} ${redactUrl(req.url)}: HTTP ${res.status}; retrying in ${next.waitMs}ms`,
        );
        await deadline.sleep(next.waitMs);
        continue;
      }
      if (req.bulk && !req.body) {
        const length = Number(header(res, 'content-length'));
        if (Number.isSafeInteger(length) && length > 0) deadline.extend(this.#bulkMs(length));
      }
      returned = true;
      if (body.readableEnded || body.destroyed) deadline.clear();
      return res;
    }
  }

  /** Release the pooled connections: idle ones now, busy ones as soon as their exchange is done. */
  close(): Promise<void> {
    for (const agent of [this.#http, this.#https]) {
      if (agent === undefined) continue;
      // An Agent puts a freed socket back in the pool only when keepSocketAlive says so.
      agent.keepSocketAlive = () => false;
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    }
    return Promise.resolve();
  }

  #bulkMs(bytes: number): number {
    return Math.ceil((bytes / this.#minRate) * 1000);
  }

  #agentOptions() {
    // Idle pooled sockets are unref'd by the Agent (they never keep the process alive) and closed
    // after 30 s, or earlier when the server's Keep-Alive hint says so.
    return { keepAlive: true, maxSockets: this.#concurrency, timeout: 30_000, scheduling: 'lifo' } as const;
  }

  async #agentFor(url: URL): Promise<{ agent: HttpAgent; request: typeof httpRequest }> {
    if (url.protocol === 'http:') return { agent: this.#http, request: httpRequest };
    httpsModule ??= import('node:https');
    const https = await httpsModule;
    this.#https ??= new https.Agent(this.#agentOptions());
    return { agent: this.#https, request: https.request };
  }

  /** One HTTP exchange: resolves at the response head; the body is left to the caller. */
  async #exchange(
    method: HttpMethod,
    url: URL,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    deadline: Deadline,
  ): Promise<IncomingMessage> {
    const { agent, request } = await this.#agentFor(url);
    const ms = this.#timeoutMs;
    // Content-Length always matches what is sent (a 303 drops the body but not the caller's headers).
    const sendHeaders = Object.fromEntries(
      Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length'),
    );
    if (body !== undefined) sendHeaders['content-length'] = String(body.byteLength);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') sendHeaders['content-length'] = '0';
    deadline.check();
    return new Promise<IncomingMessage>((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const req = request(
        {
          protocol: url.protocol,
          // URL keeps IPv6 literals bracketed; userinfo is never sent (no `auth`).
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          ...(url.port !== '' ? { port: Number(url.port) } : {}),
          path: `${url.pathname}${url.search}`,
          method,
          headers: sendHeaders,
          agent,
          // Socket idle timeout, armed from connect: covers connect, response head and body gaps.
          timeout: ms,
        },
        (m) => {
          response = m;
          deadline.track(req, m);
          resolve(m);
        },
      );
      deadline.track(req, undefined);
      req.on('timeout', () => {
        const err = timeoutError(ms);
        if (response !== undefined) response.destroy(err);
        else req.destroy(err);
      });
      req.on('error', (e: Error) => {
        // After the head arrived, a socket error belongs to the body stream (readBody reports it).
        if (response !== undefined) {
          if (!response.readableEnded) response.destroy(e);
        } else reject(e);
      });
      req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  async #sendFollowing(req: HttpRequest, deadline: Deadline): Promise<HttpResponse> {
    const origin = req.url.origin;
    let url = req.url;
    let method: HttpMethod = req.method;
    let body = req.body;
    let headers: Record<string, string> = { ...req.headers };
    for (let hop = 0; ; hop++) {
      const started = performance.now();
      // node:http keeps the connection alive after a HEAD (undici needed `reset: false` for that).
      const m = await this.#exchange(method, url, headers, body, deadline);
      const status = m.statusCode ?? 0;
      const res: HttpResponse = { status, headers: responseHeaders(m), url, body: m };
      if (this.#log !== silentLogger) {
        this.#log.debug(
          `${method} ${redactUrl(url)} -> ${status} (${Math.round(performance.now() - started)}ms)`,
        );
      }
      const location = header(res, 'location');
      if (!REDIRECTS.has(status) || location === undefined || req.noRedirects) return res;
      await discard(res);
      if (hop >= MAX_REDIRECTS) {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${req.method} ${redactUrl(req.url)}: more than ${MAX_REDIRECTS} redirects`,
          hint: 'the registry or its storage backend is redirecting in a loop',
        });
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${req.method} ${redactUrl(req.url)}: redirect to an invalid URL ${JSON.stringify(sanitizeRemote(location, 120))}`,
        });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${req.method} ${redactUrl(req.url)}: redirect to unsupported scheme ${sanitizeRemote(next.protocol, 40)}`,
        });
      }
      if (next.origin !== origin) {
        // Never carry registry credentials to another host (e.g. blob storage).
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
        );
      }
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  #networkError(req: HttpRequest, e: unknown, attempts: number): AiboxError {
    const code = errnoOf(e);
    const where = redactUrl(req.url);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (code === TIMEOUT_CODE) {
      return new AiboxError({
        code: 'TIMEOUT',
        message: `registry at ${where} did not answer within ${this.#timeoutMs}ms${tries}`,
        hint: 'check the registry is healthy, or raise the timeout',
        cause: e,
      });
    }
    const tls =
      req.url.protocol === 'https:' && /SSL|TLS|EPROTO|wrong version/i.test(`${code ?? ''} ${causeText(e)}`);
    return new AiboxError({
      code: 'REGISTRY_UNREACHABLE',
      message: `cannot reach registry at ${where}: ${sanitizeRemote(causeText(e))}${tries}`,
      hint: tls
        ? `the registry may be answering over plain HTTP; add "${req.url.host}" to insecureHosts if that is intended`
        : 'check the registry host and port, that it is running, and your network/proxy settings',
      cause: e,
      details: { url: where, errno: code },
    });
  }
}

/** Seconds for messages: "60 s", "0.5 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

/**
 * The overall deadline of one request: a timer that, when it fires, destroys whatever exchange is
 * in flight (waiting for the head, or streaming the body) with one TIMEOUT error.
 */
class Deadline {
  readonly #what: string;
  #limitMs: number;
  readonly #started = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #req: ClientRequest | undefined;
  #res: IncomingMessage | undefined;
  #cleared = false;

  constructor(limitMs: number, what: string) {
    this.#limitMs = limitMs;
    this.#what = what;
    this.#arm();
  }

  error(): AiboxError {
    return new AiboxError({
      code: 'TIMEOUT',
      message: `${this.#what}: no complete answer within ${seconds(this.#limitMs)}`,
      hint: 'the registry (or a server it redirected to) is too slow or stalled; retry, or raise registry.requestTimeoutSeconds',
    });
  }

  /** The exchange now in flight (its response once the head arrived). */
  track(req: ClientRequest, res: IncomingMessage | undefined): void {
    this.#req = req;
    this.#res = res;
  }

  /** Throw at once when the deadline has passed (before starting another exchange). */
  check(): void {
    if (Date.now() - this.#started >= this.#limitMs) throw this.error();
  }

  /** Grant more time (a bulk body of known length). */
  extend(ms: number): void {
    this.#limitMs += ms;
    this.#arm();
  }

  /** Sleep before a retry, failing at once when the wait would end past the deadline. */
  async sleep(ms: number): Promise<void> {
    if (Date.now() - this.#started + ms >= this.#limitMs) {
      this.clear();
      throw this.error();
    }
    await new Promise<void>((r) => setTimeout(r, ms));
  }

  /** The request is over (body read or dropped, or failed): stop the timer. */
  clear(): void {
    this.#cleared = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#cleared) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const left = Math.max(0, this.#limitMs - (Date.now() - this.#started));
    this.#timer = setTimeout(() => this.#fire(), left);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const err = this.error();
    if (this.#res !== undefined && !this.#res.readableEnded) this.#res.destroy(err);
    else if (this.#req !== undefined) this.#req.destroy(err);
  }
}
