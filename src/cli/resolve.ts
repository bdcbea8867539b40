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

/**
 * A short name ("base") means a repository of the configured project; a path ("team/app") is on
 * the configured registry host; a name with a host is taken as is.
 */
export function resolveImage(
  input: string,
  target: TargetCoordinates,
  opts: { defaultTag?: string } = {},
): Reference {
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
  if (!ref.tag && !ref.digest && opts.defaultTag) return { ...ref, tag: opts.defaultTag };
  return ref;
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
  // Validate the host part through the reference grammar.
  parseReference(`${host}/${project}/x`);
  return { host, project };
}
