/**
 * Resolving what users type ("base", "base:latest", "aibox/base", "127.0.0.1:5000/aibox/base:tag")
 * against the current registry target. Pure: no I/O.
 */
import { AiboxError } from '../core/errors.js';
import { hasRegistryHost, parseReference, type Reference } from '../oci/reference.js';

export interface TargetCoordinates {
  readonly host: string;
  readonly project: string;
}

export interface ResolveOptions {
  /** Tag to add when the input has neither tag nor digest. */
  readonly defaultTag?: string | undefined;
  /** The input names a repository: a tag or digest is an error. */
  readonly repository?: boolean | undefined;
}

/**
 * A short name ("base") means a repository of the configured project; a path ("team/app") is on
 * the configured registry host; a name with a host is taken as is.
 */
export function resolveImage(input: string, target: TargetCoordinates, opts: ResolveOptions = {}): Reference {
  if (!input || input.trim() !== input) {
    throw new AiboxError({
      code: 'INVALID_REFERENCE',
      message: `invalid reference "${input}": must be non-empty and without surrounding spaces`,
      hint: 'Pass an image such as base:latest or 127.0.0.1:5000/aibox/base:latest',
    });
  }
  let full: string;
  if (hasRegistryHost(input)) full = input;
  else if (input.includes('/')) full = `${target.host}/${input}`;
  else full = `${target.host}/${target.project}/${input}`;
  const ref = parseReference(full);
  if (opts.repository && (ref.tag !== undefined || ref.digest !== undefined)) {
    throw new AiboxError({
      code: 'INVALID_REFERENCE',
      message: `invalid repository "${input}": a repository has no tag or digest`,
      hint: `Pass the repository alone: ${input.replace(/(@.*|:[^/:]*)$/, '')}`,
    });
  }
  if (!ref.tag && !ref.digest && opts.defaultTag) return { ...ref, tag: opts.defaultTag };
  return ref;
}

/** Whether an image the user typed names its registry host, so it resolves without any target. */
export function namesRegistry(input: string): boolean {
  return hasRegistryHost(input);
}

/** A stand-in host for checking a short name before the real host is known (nothing is contacted). */
const PROBE_HOST = '127.0.0.1:5000';

/**
 * Check what the user typed before anything is started or contacted: the same rules as
 * resolveImage, with a stand-in host for short names. Throws INVALID_REFERENCE.
 */
export function checkImage(input: string, project: string, opts: ResolveOptions = {}): Reference {
  return resolveImage(input, { host: PROBE_HOST, project }, opts);
}

/** Parse the global `--registry HOST[:PORT]/PROJECT` option. */
export function parseRegistryOption(value: string): TargetCoordinates {
  const slash = value.indexOf('/');
  const host = slash < 0 ? value : value.slice(0, slash);
  const project = slash < 0 ? '' : value.slice(slash + 1).replace(/\/+$/, '');
  if (
    !host ||
    !project ||
    !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(project)
  ) {
    throw new AiboxError({
      code: 'USAGE',
      message: `invalid --registry "${value}": expected HOST[:PORT]/PROJECT with a lowercase project path`,
      hint: 'For example: --registry 127.0.0.1:5000/aibox or --registry harbor.internal/aibox',
    });
  }
  // Validate the host part through the reference grammar, reporting it as the flag's error.
  try {
    parseReference(`${host}/${project}/x`);
  } catch (e: unknown) {
    const rule = e instanceof Error ? e.message.replace(/^invalid reference "[^"]*": /, '') : String(e);
    throw new AiboxError({
      code: 'USAGE',
      message: `invalid --registry "${value}": ${rule}`,
      hint: 'For example: --registry 127.0.0.1:5000/aibox or --registry harbor.internal/aibox',
      cause: e,
    });
  }
  return { host, project };
}
