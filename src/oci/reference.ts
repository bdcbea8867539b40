/**
 * Image references: host[:port]/path[:tag][@digest], normalised the way docker/podman do
 * (docker.io default registry, `library/` for single-component Docker Hub names).
 * Pure: no I/O. Grammar: https://github.com/distribution/reference/blob/main/reference.go and
 * https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests
 */
import { AiboxError } from '../core/errors.js';
import { parseDigest } from './digest.js';

export interface Reference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/**
 * The OCI tag grammar, the one copy in aibox: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
 * (distribution-spec v1.1.1, "Pulling manifests"). `maxLength` < 128 gives the same rule for a
 * tag prefix that leaves room for a suffix.
 */
export function tagPattern(maxLength = 128): RegExp {
  return new RegExp(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,${Math.max(0, Math.min(128, maxLength) - 1)}}$`);
}

/** A whole OCI tag (1-128 characters). */
export const TAG_PATTERN = tagPattern();
const TAG_RE = TAG_PATTERN;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL_RE = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_RE = /^\[[0-9A-Fa-f:.]+\]$/;
const MAX_NAME = 255;

function fail(input: string, rule: string, hint?: string): never {
  const shown = input.length > 300 ? `${input.slice(0, 300)}…` : input;
  throw new AiboxError({
    code: 'INVALID_REFERENCE',
    message: `invalid reference ${JSON.stringify(shown)}: ${rule}`,
    hint: hint ?? 'use host[:port]/repository[:tag][@sha256:<hex>], e.g. registry.example.com/team/app:1.2.3',
  });
}

/** Whether a tag matches the OCI tag grammar (exported for callers that build tags). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Validate and normalise a registry host: lowercase, optional port 1-65535, IPv6 in brackets. */
function parseHost(input: string, host: string): string {
  let name = host;
  let port = '';
  const bracket = host.startsWith('[');
  const lastColon = host.lastIndexOf(':');
  if (lastColon >= 0 && (!bracket || host.lastIndexOf(']') < lastColon)) {
    name = host.slice(0, lastColon);
    port = host.slice(lastColon + 1);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      fail(input, `registry port "${port}" must be a number from 1 to 65535`);
    }
    port = String(Number(port));
  }
  if (bracket) {
    if (!IPV6_RE.test(name)) fail(input, `registry host "${name}" is not a valid bracketed IPv6 address`);
  } else if (name === '' || !name.split('.').every((l) => DOMAIN_LABEL_RE.test(l))) {
    fail(input, `registry host "${name}" must be dot-separated labels of letters, digits and inner hyphens`);
  }
  const lower = name.toLowerCase();
  const normal = DOCKER_HUB_ALIASES.has(lower) && port === '' ? DOCKER_HUB : lower;
  return port ? `${normal}:${port}` : normal;
}

/**
 * Whether the first path component names a registry (docker's rule: has '.' or ':', is
 * localhost, or is a bracketed IPv6 literal such as `[::1]:5000`). The one host rule: the CLI's
 * short-name resolution and the signature identity normaliser use it too.
 */
export function looksLikeHost(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component.startsWith('[')
  );
}

/** Whether `input` ("host/repo…" or "repo…") starts with a registry host component. */
export function hasRegistryHost(input: string): boolean {
  const slash = input.indexOf('/');
  return slash > 0 && looksLikeHost(input.slice(0, slash));
}

/**
 * Parse untrusted user input into a normalised Reference; errors name the rule broken. `input` is `unknown`:
 * parsed JSON and JavaScript callers are checked, not assumed to pass a string.
 */
export function parseReference(input: unknown, opts: { defaultRegistry?: string } = {}): Reference {
  if (typeof input !== 'string' || input.length === 0) fail(String(input), 'reference is empty');
  if (input.length > 4096) fail(input, 'reference is longer than 4096 characters');
  if (/\s/.test(input)) fail(input, 'reference must not contain whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (e: unknown) {
      const why = e instanceof AiboxError ? e.message.replace(/^invalid digest "[^"]*": /, '') : 'malformed';
      fail(input, `digest "${digest.slice(0, 140)}" is invalid: ${why}`);
    }
  }
  if (rest === '') fail(input, 'repository name is missing');

  // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) {
      fail(
        input,
        tag === ''
          ? 'tag is empty'
          : `tag "${tag.slice(0, 140)}" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`,
      );
    }
  }

  const slash = rest.indexOf('/');
  let registry: string;
  let path: string;
  if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = parseHost(input, rest.slice(0, slash));
    path = rest.slice(slash + 1);
  } else {
    registry = opts.defaultRegistry === undefined ? DOCKER_HUB : parseHost(input, opts.defaultRegistry);
    path = rest;
  }
  if (path === '') fail(input, 'repository name is missing');
  const components = path.split('/');
  for (const c of components) {
    if (c === '')
      fail(input, 'repository path components must not be empty (no leading, trailing or double "/")');
    if (c.toLowerCase() !== c && PATH_COMPONENT_RE.test(c.toLowerCase())) {
      fail(
        input,
        'repository must be lowercase',
        `try ${JSON.stringify(input.replace(path, path.toLowerCase()))}`,
      );
    }
    if (!PATH_COMPONENT_RE.test(c)) {
      fail(
        input,
        `repository component "${c.slice(0, 140)}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`,
      );
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME) {
    fail(input, `registry plus repository must be at most ${MAX_NAME} characters`);
  }
  const ref: { registry: string; repository: string; tag?: string; digest?: string } = {
    registry,
    repository: path,
  };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Canonical, fully-qualified text form (host/repo[:tag][@digest]) for logs, storage and round-trips. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The docker-reference identity cosign signs ("index.docker.io/library/x" for Docker Hub, as ggcr names it). */
export function repositoryName(ref: Reference): string {
  const host = ref.registry === DOCKER_HUB ? 'index.docker.io' : ref.registry;
  return `${host}/${ref.repository}`;
}

/** Whether this registry should be spoken to over plain HTTP without opt-in (loopback only). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostWithoutPort(registry);
  return (
    host === 'localhost' ||
    host === '[::1]' ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** Whether aibox speaks plain HTTP to this registry host: loopback, or listed in `registry.insecure`. */
export function isPlainHttpHost(host: string, insecure: readonly string[]): boolean {
  return isLoopbackRegistry(host) || insecure.includes(host);
}

/** Host part of "host[:port]" (IPv6 keeps its brackets). */
export function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(0, registry.indexOf(']') + 1);
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/** The tag or digest a manifest request names (digest first); INVALID_REFERENCE when there is neither. */
export function manifestTarget(ref: Reference): string {
  const t = ref.digest ?? ref.tag;
  if (t === undefined) {
    throw new AiboxError({
      code: 'INVALID_REFERENCE',
      message: `reference ${JSON.stringify(formatReference(ref))} needs a tag or digest here`,
      hint: 'add :tag or @sha256:<digest>',
    });
  }
  return t;
}
