/**
 * RegistryClient: the OCI distribution API (v1.1 spec, as served by distribution 2.8 and Harbor)
 * on top of Transport, with the auth dance (anonymous, Basic, Bearer tokens) and content
 * verification of everything fetched. The only caller of the registry transport.
 * Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md
 */
import type { ImageStore } from './store.js';
import { Transform, type TransformCallback } from 'node:stream';
import { AiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { registerSecret, sanitizeRemote } from '../core/redact.js';
import {
  TokenCache,
  parseChallenges,
  parseScopes,
  parseTokenResponse,
  repositoryScope,
  formatScopes,
  tokenCacheKey,
  unionScopes,
  type Challenge,
  type ScopeSet,
} from './auth.js';
import {
  credentialsFromFiles,
  type Credential,
  type CredentialLookup,
  type CredentialSource,
} from './credentials.js';
import { createDigester, mismatch, parseDigest, sha256Digest, verifyDigest } from './digest.js';
import { redactUrl } from './errors.js';
import { parseLinkNext } from './link.js';
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  parseManifest,
  type Descriptor,
} from './manifest.js';
import {
  DOCKER_HUB,
  formatReference,
  manifestTarget,
  hostWithoutPort,
  isLoopbackRegistry,
  type Reference,
} from './reference.js';
import {
  Transport,
  checkStatus,
  discard,
  header,
  headerAll,
  readBody,
  statusError,
  type HttpMethod,
  type HttpResponse,
} from './transport.js';

export interface RegistryClientOptions {
  /** Hosts ("host" or "host:port") allowed over plain HTTP besides loopback. */
  insecureHosts?: readonly string[];
  logger?: Logger;
  /** Environment for credential lookup (default process.env). */
  env?: Record<string, string | undefined>;
  /** Max in-flight requests for this client (default 16). */
  concurrency?: number;
  /** Socket idle timeout: connect, headers and gaps in the body (default 30 s). */
  timeoutMs?: number;
  /**
   * Overall deadline of one request until its body is read, retries included (default 60 s);
   * blob transfers get `bytes / minBytesPerSecond` more.
   */
  deadlineMs?: number;
  /** Slowest blob transfer rate granted time (default 1 MiB/s). */
  minBytesPerSecond?: number;
  /** Most tags (or catalog entries) one listing may hold (default 100 000). */
  maxTags?: number;
  /** Retries for idempotent requests (default 3). */
  retries?: number;
  /** Where credentials come from (default: the standard auth files found from `env`). */
  credentials?: CredentialSource;
}

const USER_AGENT = 'aibox/0.1 (+oci-client)';
const DEFAULT_CHUNK = 8 * 1024 * 1024;
const PAGE_SIZE = 1000;
const MAX_PAGES = 100_000;
/** One tags/list or _catalog page: 1000 names of at most 255 chars fit in well under 1 MiB. */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_TAGS = 100_000;

interface RegistryState {
  scheme: 'unknown' | 'none' | 'basic' | 'bearer';
  bearer?: { realm: string; service: string | undefined };
  creds?: Promise<CredentialLookup>;
}

interface CallInit {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly scope: ScopeSet;
  readonly idempotent: boolean;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** A blob transfer (deadline scaled by size). */
  readonly bulk?: boolean;
}

type RefWithDigest = Reference & { digest: string };

/** Construct a client; callers own it and must close() it. */
export function createRegistryClient(opts: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient(opts);
}

/** Talks the distribution API to any number of registries, sharing one connection pool. */
export class RegistryClient implements ImageStore {
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #insecure: ReadonlySet<string>;
  readonly #credentials: CredentialSource;
  readonly #tokens = new TokenCache();
  readonly #registries = new Map<string, RegistryState>();
  readonly #pendingTokens = new Map<string, Promise<string>>();
  readonly #maxTags: number;

  constructor(opts: RegistryClientOptions = {}) {
    this.#log = opts.logger ?? silentLogger;
    this.#transport = new Transport({
      logger: this.#log,
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
      ...(opts.minBytesPerSecond !== undefined ? { minBytesPerSecond: opts.minBytesPerSecond } : {}),
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    });
    this.#maxTags = Math.max(1, opts.maxTags ?? DEFAULT_MAX_TAGS);
    this.#insecure = new Set((opts.insecureHosts ?? []).map((h) => h.toLowerCase()));
    this.#credentials = opts.credentials ?? credentialsFromFiles(opts.env ?? process.env);
  }

  /** Check the registry answers the v2 API and that our credentials (if any) are accepted. */
  async ping(registry: string): Promise<void> {
    const res = await this.#call(registry, {
      method: 'GET',
      url: this.#url(registry, '/v2/'),
      scope: new Map(),
      idempotent: true,
    });
    await this.#expect(registry, res, [200], `ping ${registry}`);
    await discard(res);
  }

  /** Resolve a tag or digest to a descriptor without downloading (HEAD does not count as a pull on Harbor). */
  async headManifest(ref: Reference): Promise<Descriptor | null> {
    const target = manifestTarget(ref);
    const res = await this.#call(ref.registry, {
      method: 'HEAD',
      url: this.#url(ref.registry, `/v2/${ref.repository}/manifests/${target}`),
      scope: pull(ref),
      idempotent: true,
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
    });
    if (res.status === 404) {
      await discard(res);
      return null;
    }
    await this.#expect(ref.registry, res, [200], `HEAD manifest ${formatReference(ref)}`);
    await discard(res);
    const digest = header(res, 'docker-content-digest');
    const size = Number(header(res, 'content-length'));
    const mediaType = contentType(res);
    if (digest === undefined || !Number.isSafeInteger(size) || mediaType === undefined) {
      // Not every registry sends these on HEAD; fall back to a verified GET.
      const { descriptor } = await this.getManifest(ref);
      return descriptor;
    }
    try {
      parseDigest(digest);
    } catch (e: unknown) {
      throw new AiboxError({
        code: 'REGISTRY_ERROR',
        message: `HEAD manifest ${formatReference(ref)}: registry sent an invalid Docker-Content-Digest`,
        cause: e,
      });
    }
    if (ref.digest !== undefined && digest !== ref.digest) throw mismatch(ref.digest, digest, 'manifest');
    if (size > MAX_MANIFEST_BYTES) throw tooLargeManifest(ref, size);
    return { mediaType, digest, size };
  }

  /** Fetch manifest bytes, verified against the requested digest (or Docker-Content-Digest) and parsed. */
  async getManifest(ref: Reference): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    const target = manifestTarget(ref);
    const what = `GET manifest ${formatReference(ref)}`;
    const res = await this.#call(ref.registry, {
      method: 'GET',
      url: this.#url(ref.registry, `/v2/${ref.repository}/manifests/${target}`),
      scope: pull(ref),
      idempotent: true,
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
    });
    await this.#expect(ref.registry, res, [200], what);
    const declared = Number(header(res, 'content-length'));
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw tooLargeManifest(ref, declared);
    }
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, (n) => tooLargeManifest(ref, n));
    const headerDigest = header(res, 'docker-content-digest');
    if (ref.digest !== undefined) verifyDigest(bytes, ref.digest);
    else if (headerDigest !== undefined && headerDigest !== '') verifyDigest(bytes, headerDigest);
    const parsed = parseManifest(bytes, contentType(res));
    const descriptor: Descriptor = {
      mediaType: parsed.mediaType,
      digest: sha256Digest(bytes),
      size: bytes.byteLength,
    };
    const artifactType =
      parsed.kind === 'manifest' ? parsed.manifest.artifactType : parsed.index.artifactType;
    if (artifactType !== undefined) descriptor.artifactType = artifactType;
    return { descriptor, bytes };
  }

  /** Store manifest bytes exactly as given under ref.tag (atomic tag move) or ref.digest. */
  async putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const parsed = parseManifest(bytes, mediaType); // never push what we could not read back
    const digest = sha256Digest(bytes);
    if (ref.digest !== undefined) verifyDigest(bytes, ref.digest);
    const target = ref.tag ?? ref.digest ?? digest;
    const res = await this.#call(ref.registry, {
      method: 'PUT',
      url: this.#url(ref.registry, `/v2/${ref.repository}/manifests/${target}`),
      scope: push(ref),
      idempotent: true,
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    await this.#expect(
      ref.registry,
      res,
      [200, 201],
      `PUT manifest ${formatReference({ ...ref, tag: target })}`,
    );
    await discard(res);
    const echoed = header(res, 'docker-content-digest');
    if (echoed !== undefined && echoed.startsWith('sha256:') && echoed !== digest)
      throw mismatch(digest, echoed, 'pushed manifest');
    const d: Descriptor = { mediaType, digest, size: bytes.byteLength };
    const artifactType =
      parsed.kind === 'manifest' ? parsed.manifest.artifactType : parsed.index.artifactType;
    if (artifactType !== undefined) d.artifactType = artifactType;
    return d;
  }

  /** Delete a manifest by digest (distribution removes every tag pointing at it). */
  async deleteManifest(ref: Reference): Promise<void> {
    if (ref.digest === undefined) {
      throw new AiboxError({
        code: 'USAGE',
        message: `cannot delete ${formatReference(ref)}: manifests are deleted by digest, not by tag`,
        hint: 'resolve the tag to a digest first (every tag pointing at that digest is removed with it)',
      });
    }
    const what = `DELETE manifest ${formatReference({ registry: ref.registry, repository: ref.repository, digest: ref.digest })}`;
    const res = await this.#call(ref.registry, {
      method: 'DELETE',
      url: this.#url(ref.registry, `/v2/${ref.repository}/manifests/${ref.digest}`),
      scope: repositoryScope(ref.repository, ['delete']),
      idempotent: true,
    });
    if (res.status === 405 || res.status === 400) {
      const body = await readBody(
        res,
        64 * 1024,
        () => new AiboxError({ code: 'REGISTRY_ERROR', message: 'too large' }),
      ).catch(() => new Uint8Array());
      const err = statusError(res.status, res.url, body, { what });
      throw new AiboxError({
        code: 'REGISTRY_ERROR',
        message: `${err.message}: manifest deletion is disabled or unsupported on ${ref.registry}`,
        hint:
          res.status === 405
            ? 'enable deletes on the registry (distribution: storage.delete.enabled: true)'
            : 'this registry refuses this delete; delete by digest with deletion enabled',
        ...(err.details !== undefined ? { details: err.details } : {}),
      });
    }
    await this.#expect(ref.registry, res, [200, 202, 204], what);
    await discard(res);
  }

  /** Whether a blob exists in the repository, with its size. */
  async headBlob(ref: Reference, digest: string): Promise<Descriptor | null> {
    parseDigest(digest);
    const res = await this.#call(ref.registry, {
      method: 'HEAD',
      url: this.#url(ref.registry, `/v2/${ref.repository}/blobs/${digest}`),
      scope: pull(ref),
      idempotent: true,
    });
    if (res.status === 404) {
      await discard(res);
      return null;
    }
    await this.#expect(ref.registry, res, [200], `HEAD blob ${ref.registry}/${ref.repository}@${digest}`);
    await discard(res);
    const size = Number(header(res, 'content-length'));
    return { mediaType: 'application/octet-stream', digest, size: Number.isSafeInteger(size) ? size : -1 };
  }

  /** Download a blob into memory, verified; refuses more than maxBytes (default 512 MiB). */
  async getBlob(ref: Reference, digest: string, opts: { maxBytes?: number } = {}): Promise<Uint8Array> {
    const max = opts.maxBytes ?? 512 * 1024 * 1024;
    const res = await this.#openBlob(ref, digest);
    const declared = Number(header(res, 'content-length'));
    const tooLarge = (n: number) =>
      new AiboxError({
        code: 'REGISTRY_ERROR',
        message: `blob ${ref.repository}@${digest} is ${n} bytes or more, over the ${max}-byte limit`,
        hint: 'stream large blobs with getBlobStream instead',
      });
    if (Number.isFinite(declared) && declared > max) {
      res.body.destroy();
      throw tooLarge(declared);
    }
    const bytes = await readBody(res, max, tooLarge);
    verifyDigest(bytes, digest);
    return bytes;
  }

  /** Stream a blob; the stream errors with DIGEST_MISMATCH at the end if the content is wrong. */
  async getBlobStream(ref: Reference, digest: string): Promise<NodeJS.ReadableStream> {
    const res = await this.#openBlob(ref, digest);
    const digester = createDigester(digest);
    const verify = new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        digester.update(chunk);
        cb(null, chunk);
      },
      flush(cb: TransformCallback) {
        const actual = digester.digest();
        cb(actual === digest ? null : mismatch(digest, actual, 'blob'));
      },
    });
    res.body.on('error', (e: Error) => verify.destroy(e));
    verify.on('close', () => {
      if (!res.body.readableEnded) res.body.destroy();
    });
    return res.body.pipe(verify);
  }

  /** Upload a blob in one PUT (POST, then PUT ?digest=), skipping it when already present. */
  async pushBlob(ref: Reference, data: Uint8Array, opts: { mediaType?: string } = {}): Promise<Descriptor> {
    const digest = sha256Digest(data);
    const descriptor: Descriptor = {
      mediaType: opts.mediaType ?? 'application/octet-stream',
      digest,
      size: data.byteLength,
    };
    if (await this.headBlob(ref, digest)) return descriptor;
    const location = await this.#startUpload(ref);
    await this.#finishUpload(ref, location.url, digest, data);
    return descriptor;
  }

  /** Upload a blob from a stream in PATCH chunks (Content-Range), verifying digest and size before committing. */
  async pushBlobStream(
    ref: Reference,
    stream: NodeJS.ReadableStream,
    digest: string,
    size: number,
    opts: { chunkSize?: number } = {},
  ): Promise<Descriptor> {
    parseDigest(digest);
    const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest, size };
    if (await this.headBlob(ref, digest)) {
      (stream as { destroy?: () => void }).destroy?.();
      return descriptor;
    }
    const start = await this.#startUpload(ref);
    let location = start.url;
    const chunkSize = Math.max(opts.chunkSize ?? DEFAULT_CHUNK, start.minChunk);
    const digester = createDigester(digest);
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const sendChunk = async (chunk: Uint8Array) => {
      const res = await this.#call(ref.registry, {
        method: 'PATCH',
        url: location,
        scope: push(ref),
        idempotent: false,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.byteLength - 1}`,
          'content-length': String(chunk.byteLength),
        },
        body: chunk,
        bulk: true,
      });
      await this.#expect(ref.registry, res, [202], `PATCH blob upload ${ref.registry}/${ref.repository}`);
      await discard(res);
      offset += chunk.byteLength;
      const next = header(res, 'location');
      if (next) location = new URL(next, location);
    };
    try {
      for await (const raw of stream as AsyncIterable<Buffer | string>) {
        const buf = typeof raw === 'string' ? Buffer.from(raw) : raw;
        digester.update(buf);
        pending.push(buf);
        pendingBytes += buf.byteLength;
        while (pendingBytes >= chunkSize) {
          const all = Buffer.concat(pending, pendingBytes);
          await sendChunk(all.subarray(0, chunkSize));
          const rest = all.subarray(chunkSize);
          pending = rest.byteLength ? [rest] : [];
          pendingBytes = rest.byteLength;
        }
      }
      const actual = digester.digest();
      if (actual !== digest) throw mismatch(digest, actual, 'blob stream');
      if (digester.bytes !== size) {
        throw new AiboxError({
          code: 'DIGEST_MISMATCH',
          message: `blob stream for ${digest} had ${digester.bytes} bytes, expected ${size}`,
        });
      }
      const last = Buffer.concat(pending, pendingBytes);
      await this.#finishUpload(
        ref,
        location,
        digest,
        new Uint8Array(last.buffer, last.byteOffset, last.byteLength),
      );
    } catch (e: unknown) {
      await this.#cancelUpload(ref, location);
      throw e;
    }
    return descriptor;
  }

  /** Ask the registry to link a blob from another repository (201 mounted, 202 not: caller uploads). */
  async mountBlob(ref: Reference, fromRepository: string, digest: string): Promise<boolean> {
    parseDigest(digest);
    const url = this.#url(ref.registry, `/v2/${ref.repository}/blobs/uploads/`);
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', fromRepository);
    const res = await this.#call(ref.registry, {
      method: 'POST',
      url,
      scope: unionScopes(push(ref), repositoryScope(fromRepository, ['pull'])),
      idempotent: false,
    });
    await this.#expect(
      ref.registry,
      res,
      [201, 202],
      `mount blob ${digest} from ${fromRepository} into ${ref.repository}`,
    );
    await discard(res);
    if (res.status === 201) return true;
    const loc = header(res, 'location');
    if (loc) await this.#cancelUpload(ref, new URL(loc, res.url));
    return false;
  }

  /** Every tag of a repository, sorted; follows Link pages, tolerating registries that ignore `n`. */
  async listTags(ref: Reference): Promise<string[]> {
    const first = this.#url(ref.registry, `/v2/${ref.repository}/tags/list`);
    first.searchParams.set('n', String(PAGE_SIZE));
    const tags = await this.#paginate(
      ref.registry,
      first,
      pull(ref),
      'tags',
      `list tags of ${ref.registry}/${ref.repository}`,
    );
    return tags;
  }

  /** Every repository name on a registry, sorted (the _catalog extension; paginated). */
  async catalog(registry: string): Promise<string[]> {
    const first = this.#url(registry, '/v2/_catalog');
    first.searchParams.set('n', String(PAGE_SIZE));
    return this.#paginate(
      registry,
      first,
      new Map([['registry:catalog', new Set(['*'])]]),
      'repositories',
      `catalog of ${registry}`,
    );
  }

  /** Artifacts whose subject is ref.digest: referrers API first, then the `<alg>-<hex>` tag schema. */
  async referrers(
    ref: RefWithDigest,
    opts: { artifactType?: string } = {},
  ): Promise<{ descriptors: Descriptor[]; source: 'api' | 'tag-schema' | 'none' }> {
    const { algorithm, hex } = parseDigest(ref.digest);
    const filter = (ds: Descriptor[]) =>
      opts.artifactType === undefined ? ds : ds.filter((d) => d.artifactType === opts.artifactType);
    const url = this.#url(ref.registry, `/v2/${ref.repository}/referrers/${ref.digest}`);
    if (opts.artifactType !== undefined) url.searchParams.set('artifactType', opts.artifactType);
    const res = await this.#call(ref.registry, {
      method: 'GET',
      url,
      scope: pull(ref),
      idempotent: true,
      headers: { accept: MediaTypes.OCI_INDEX },
    });
    if (res.status === 200) {
      const bytes = await readBody(res, MAX_MANIFEST_BYTES, (n) => tooLargeManifest(ref, n));
      const parsed = parseManifest(bytes, contentType(res) ?? MediaTypes.OCI_INDEX);
      if (parsed.kind !== 'index') {
        throw new AiboxError({
          code: 'MANIFEST_INVALID',
          message: `referrers API for ${formatReference(ref)} did not return an image index`,
        });
      }
      return { descriptors: filter(parsed.index.manifests), source: 'api' };
    }
    if (res.status !== 404)
      await this.#expect(ref.registry, res, [200, 404], `GET referrers ${formatReference(ref)}`);
    await discard(res);
    // https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema
    const tagRef: Reference = {
      registry: ref.registry,
      repository: ref.repository,
      tag: `${algorithm}-${hex}`.slice(0, 128),
    };
    if ((await this.headManifest(tagRef)) === null) return { descriptors: [], source: 'none' };
    const { bytes } = await this.getManifest(tagRef);
    const parsed = parseManifest(bytes);
    if (parsed.kind !== 'index') {
      this.#log.warn(`referrers tag ${formatReference(tagRef)} is not an image index; ignoring it`);
      return { descriptors: [], source: 'none' };
    }
    return { descriptors: filter(parsed.index.manifests), source: 'tag-schema' };
  }

  /** Close pooled connections. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  // ---- internals -------------------------------------------------------------------------

  #baseUrl(registry: string): string {
    const host = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
    const lower = registry.toLowerCase();
    const plain =
      isLoopbackRegistry(lower) || this.#insecure.has(lower) || this.#insecure.has(hostWithoutPort(lower));
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  #url(registry: string, path: string): URL {
    return new URL(path, this.#baseUrl(registry));
  }

  #state(registry: string): RegistryState {
    let s = this.#registries.get(registry);
    if (s === undefined) {
      s = { scheme: 'unknown' };
      this.#registries.set(registry, s);
    }
    return s;
  }

  #lookup(registry: string): Promise<CredentialLookup> {
    const s = this.#state(registry);
    s.creds ??= this.#credentials.lookup(registry).then((found) => {
      // Whatever the source, the secret and the pair as sent in Basic are masked in every output.
      if (found.credential !== undefined) {
        registerSecret(found.credential.password);
        registerSecret(`${found.credential.username}:${found.credential.password}`);
      }
      return found;
    });
    return s.creds;
  }

  /** The origin requests to this registry go to: the only origin its credentials are sent to. */
  #origin(registry: string): string {
    return this.#url(registry, '/').origin;
  }

  /** Text for 401/403 errors naming the credential source tried (never the secret). */
  async #authNote(registry: string): Promise<string> {
    const found = await this.#lookup(registry);
    if (found.credential !== undefined)
      return `(credentials from ${found.source ?? 'unknown source'} for ${registry} were rejected)`;
    if (found.searched.length === 0)
      return `(no credentials configured for ${registry}; tried anonymous access)`;
    return `(no credentials found for ${registry} in: ${found.searched.join(', ')})`;
  }

  async #expect(registry: string, res: HttpResponse, ok: readonly number[], what: string): Promise<void> {
    if (ok.includes(res.status)) return;
    let authNote: string | undefined;
    let authHint: string | undefined;
    if (res.status === 401 || res.status === 403) {
      if (res.url.origin === this.#origin(registry)) authNote = await this.#authNote(registry);
      else {
        authNote = foreignRefusal(registry, res);
        authHint = `the server ${registry} redirected to wants its own credentials; ask the registry's operator to fix its storage redirect (presigned URLs need none)`;
      }
    }
    await checkStatus(res, ok, {
      what,
      ...(authNote !== undefined ? { authNote } : {}),
      ...(authHint !== undefined ? { authHint } : {}),
    });
  }

  /** Send a request with the registry's auth, answering 401 challenges (Basic or Bearer) a bounded number of times. */
  async #call(registry: string, init: CallInit): Promise<HttpResponse> {
    const state = this.#state(registry);
    let scope = init.scope;
    let forceFresh = false;
    // Credentials go to the registry's own origin only (never to an upload Location elsewhere).
    const own = init.url.origin === this.#origin(registry);
    for (let round = 0; ; round++) {
      const auth = own ? await this.#authorization(registry, state, scope, forceFresh) : undefined;
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...init.headers };
      if (auth !== undefined) headers.authorization = auth.header;
      const res = await this.#transport.send({
        method: init.method,
        url: init.url,
        headers,
        ...(init.body !== undefined ? { body: init.body } : {}),
        idempotent: init.idempotent,
        ...(init.bulk ? { bulk: true } : {}),
      });
      if (res.status !== 401 && res.status !== 403) {
        if (state.scheme === 'unknown') state.scheme = 'none';
        return res;
      }
      // Only the registry itself may ask for credentials: a challenge from a redirect target (blob
      // storage, or anything it names) is never answered; #expect reports which host refused.
      if (!own || res.url.origin !== this.#origin(registry)) return res;
      const challenges = parseChallenges(headerAll(res, 'www-authenticate') ?? '');
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const basic = challenges.find((c) => c.scheme === 'basic');
      if (round >= 3 || (bearer === undefined && basic === undefined)) return res; // caller reports it
      if (bearer !== undefined && bearer.params.realm) {
        const insufficient = bearer.params.error === 'insufficient_scope';
        if (res.status === 403 && !insufficient) return res;
        const asked = parseScopes(bearer.params.scope);
        const wanted = unionScopes(scope, asked, insufficient && auth?.scopes ? auth.scopes : new Map());
        const sameAsBefore =
          auth?.kind === 'bearer' && formatScopes(wanted).join(' ') === formatScopes(scope).join(' ');
        if (sameAsBefore) {
          // The token for exactly this scope was refused: insufficient grant is final; otherwise try one fresh token.
          if (insufficient || forceFresh) return res;
          forceFresh = true;
        }
        state.scheme = 'bearer';
        state.bearer = { realm: bearer.params.realm, service: bearer.params.service };
        scope = wanted;
        await discard(res);
        continue;
      }
      if (basic !== undefined && res.status === 401) {
        if (auth?.kind === 'basic') return res; // our credentials were rejected
        const found = await this.#lookup(registry);
        if (found.credential === undefined) return res;
        state.scheme = 'basic';
        await discard(res);
        continue;
      }
      return res;
    }
  }

  async #authorization(
    registry: string,
    state: RegistryState,
    scope: ScopeSet,
    fresh: boolean,
  ): Promise<{ header: string; kind: 'basic' | 'bearer'; scopes?: ScopeSet } | undefined> {
    if (state.scheme === 'basic') {
      const found = await this.#lookup(registry);
      return found.credential ? { header: basicHeader(found.credential), kind: 'basic' } : undefined;
    }
    if (state.scheme === 'bearer' && state.bearer !== undefined) {
      const token = await this.#token(registry, state.bearer.realm, state.bearer.service, scope, fresh);
      return { header: `Bearer ${token}`, kind: 'bearer', scopes: scope };
    }
    return undefined;
  }

  /** Get (or reuse) a bearer token for exactly this scope set from the realm named by the registry. */
  async #token(
    registry: string,
    realm: string,
    service: string | undefined,
    scope: ScopeSet,
    fresh: boolean,
  ): Promise<string> {
    const key = tokenCacheKey(realm, service, scope);
    if (fresh) this.#tokens.delete(key);
    const cached = this.#tokens.get(key, Date.now());
    if (cached !== undefined) return cached.token;
    const inflight = this.#pendingTokens.get(key);
    if (inflight !== undefined) return inflight;
    const p = this.#fetchToken(registry, realm, service, scope, key);
    this.#pendingTokens.set(key, p);
    try {
      return await p;
    } finally {
      this.#pendingTokens.delete(key);
    }
  }

  async #fetchToken(
    registry: string,
    realm: string,
    service: string | undefined,
    scope: ScopeSet,
    key: string,
  ): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AiboxError({
        code: 'REGISTRY_AUTH',
        message: `registry ${registry} named an invalid token realm "${sanitizeRemote(realm, 200)}"`,
      });
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.#plainAllowed(url.host))) {
      throw new AiboxError({
        code: 'REGISTRY_AUTH',
        message: `registry ${registry} sent token realm ${redactUrl(url)} over plain HTTP; refusing to send credentials there`,
        hint: `add "${url.host}" to insecureHosts only if that token server is trusted`,
      });
    }
    if (service !== undefined) url.searchParams.set('service', service);
    for (const s of formatScopes(scope)) url.searchParams.append('scope', s);
    const found = await this.#lookup(registry);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/json' };
    if (found.credential !== undefined) headers.authorization = basicHeader(found.credential);
    const res = await this.#transport.send({ method: 'GET', url, headers, idempotent: true });
    const authNote = res.status === 401 || res.status === 403 ? await this.#authNote(registry) : undefined;
    await checkStatus(res, [200], {
      what: `token request to ${url.origin}${url.pathname}`,
      ...(authNote !== undefined ? { authNote } : {}),
    });
    const body = await readBody(
      res,
      1024 * 1024,
      () =>
        new AiboxError({
          code: 'REGISTRY_AUTH',
          message: `token response from ${redactUrl(url)} is over 1 MiB`,
        }),
    );
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new AiboxError({
        code: 'REGISTRY_AUTH',
        message: `token server ${url.origin}${url.pathname} returned non-JSON`,
      });
    }
    const token = parseTokenResponse(json, Date.now(), `${url.origin}${url.pathname}`);
    registerSecret(token.token);
    this.#tokens.set(key, token);
    return token.token;
  }

  #plainAllowed(host: string): boolean {
    const h = host.toLowerCase();
    return isLoopbackRegistry(h) || this.#insecure.has(h) || this.#insecure.has(hostWithoutPort(h));
  }

  async #openBlob(ref: Reference, digest: string): Promise<HttpResponse> {
    parseDigest(digest);
    const res = await this.#call(ref.registry, {
      method: 'GET',
      url: this.#url(ref.registry, `/v2/${ref.repository}/blobs/${digest}`),
      scope: pull(ref),
      idempotent: true,
      bulk: true,
    });
    await this.#expect(ref.registry, res, [200], `GET blob ${ref.registry}/${ref.repository}@${digest}`);
    return res;
  }

  async #startUpload(ref: Reference): Promise<{ url: URL; minChunk: number }> {
    const res = await this.#call(ref.registry, {
      method: 'POST',
      url: this.#url(ref.registry, `/v2/${ref.repository}/blobs/uploads/`),
      scope: push(ref),
      idempotent: false,
    });
    await this.#expect(ref.registry, res, [202], `start blob upload to ${ref.registry}/${ref.repository}`);
    await discard(res);
    const loc = header(res, 'location');
    if (!loc) {
      throw new AiboxError({
        code: 'REGISTRY_ERROR',
        message: `registry ${ref.registry} started an upload without a Location header`,
      });
    }
    const min = Number(header(res, 'oci-chunk-min-length'));
    return { url: new URL(loc, res.url), minChunk: Number.isSafeInteger(min) && min > 0 ? min : 0 };
  }

  async #finishUpload(ref: Reference, location: URL, digest: string, last: Uint8Array): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.#call(ref.registry, {
      method: 'PUT',
      url,
      scope: push(ref),
      idempotent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(last.byteLength) },
      body: last,
      bulk: true,
    });
    await this.#expect(
      ref.registry,
      res,
      [201, 204],
      `commit blob ${digest} to ${ref.registry}/${ref.repository}`,
    );
    await discard(res);
    const echoed = header(res, 'docker-content-digest');
    if (echoed !== undefined && echoed !== digest) throw mismatch(digest, echoed, 'uploaded blob');
  }

  async #cancelUpload(ref: Reference, location: URL): Promise<void> {
    try {
      const res = await this.#call(ref.registry, {
        method: 'DELETE',
        url: location,
        scope: push(ref),
        idempotent: false,
      });
      await discard(res);
    } catch {
      /* best effort: abandoned uploads are purged by the registry */
    }
  }

  async #paginate(
    registry: string,
    first: URL,
    scope: ScopeSet,
    field: 'tags' | 'repositories',
    what: string,
  ): Promise<string[]> {
    const all = new Set<string>();
    const seen = new Set<string>();
    const origin = this.#origin(registry);
    let url: URL | undefined = first;
    for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
      seen.add(url.toString());
      const res = await this.#call(registry, {
        method: 'GET',
        url,
        scope,
        idempotent: true,
        headers: { accept: 'application/json' },
      });
      await this.#expect(registry, res, [200], what);
      const body = await readBody(
        res,
        MAX_PAGE_BYTES,
        () =>
          new AiboxError({
            code: 'REGISTRY_ERROR',
            message: `${what}: one page from ${redactUrl(url ?? first)} is over ${MAX_PAGE_BYTES / 1024 / 1024} MiB`,
            hint: 'the registry is not paginating (it ignores ?n=) or is hostile; a page of 1000 names is far smaller',
          }),
      );
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(body));
      } catch {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${what}: response from ${redactUrl(url)} is not JSON`,
        });
      }
      const list = (doc as Record<string, unknown> | null)?.[field];
      if (list !== null && list !== undefined) {
        if (!Array.isArray(list) || !list.every((t) => typeof t === 'string')) {
          throw new AiboxError({
            code: 'REGISTRY_ERROR',
            message: `${what}: "${field}" in ${redactUrl(url)} is not a list of strings`,
          });
        }
        for (const t of list) {
          all.add(t);
          if (all.size > this.#maxTags) {
            throw new AiboxError({
              code: 'REGISTRY_ERROR',
              message: `${what}: more than ${this.#maxTags} ${field}; refusing to hold more`,
              hint: 'prune the repository, or raise the limit (RegistryClientOptions.maxTags) if this many are real',
              details: { limit: this.#maxTags },
            });
          }
        }
      }
      const next = parseLinkNext(headerAll(res, 'link'));
      let nextUrl: URL | undefined;
      if (next !== undefined) {
        try {
          nextUrl = new URL(next, url);
        } catch {
          throw new AiboxError({
            code: 'REGISTRY_ERROR',
            message: `${what}: the registry's Link header names an invalid URL "${sanitizeRemote(next, 120)}"`,
          });
        }
        if (nextUrl.origin !== origin) {
          // Following would send this registry's credentials (or its listing) to another host.
          throw new AiboxError({
            code: 'REGISTRY_ERROR',
            message: `${what}: the registry's next-page Link points to another host (${sanitizeRemote(nextUrl.host, 120)}); not following it`,
            hint: 'a registry pages on its own origin; this one is misconfigured or hostile',
            details: { link: redactUrl(nextUrl) },
          });
        }
      }
      url = nextUrl;
      if (url !== undefined && seen.has(url.toString())) url = undefined; // a server looping its Link
    }
    return [...all].sort();
  }
}

function pull(ref: Reference): ScopeSet {
  return repositoryScope(ref.repository, ['pull']);
}

function push(ref: Reference): ScopeSet {
  return repositoryScope(ref.repository, ['pull', 'push']);
}

function contentType(res: HttpResponse): string | undefined {
  return header(res, 'content-type')?.split(';')[0]?.trim();
}

function basicHeader(c: Credential): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/**
 * The 401/403 note when the refusal came from another origin than the registry (a redirect target
 * such as blob storage): it names the host that refused and the realm it asked for, and says
 * that no credentials were sent there, instead of blaming the registry's credentials.
 */
function foreignRefusal(registry: string, res: HttpResponse): string {
  const asked = parseChallenges(headerAll(res, 'www-authenticate') ?? '');
  const realm = asked.find((c) => c.params.realm)?.params.realm;
  let realmHost: string | undefined;
  if (realm !== undefined) {
    try {
      realmHost = new URL(realm).host;
    } catch {
      realmHost = realm;
    }
  }
  const asking =
    realmHost !== undefined ? `; it asked for a token from ${sanitizeRemote(realmHost, 120)}` : '';
  return (
    `(refused by ${sanitizeRemote(res.url.host, 120)}, where ${registry} redirected the request${asking}; ` +
    `credentials for ${registry} are never sent to another host)`
  );
}

function tooLargeManifest(ref: Reference, n: number): AiboxError {
  return new AiboxError({
    code: 'MANIFEST_TOO_LARGE',
    message: `manifest ${formatReference(ref)} is ${n} bytes or more, over the 4 MiB limit`,
    hint: 'registries refuse manifests over 4 MiB; this content is not a normal image manifest',
  });
}

export type { Challenge };
