/**
 * Loading the trust store (edge: reads key files): `--key` flags, else `signing.trustedKeys` from
 * the platform config, into TrustedKey values for the pure core.
 */
import { parseDateBound } from '../core/dates.js';
import { loadPublicKey } from './keys.js';
import { readKeyMaterial, type SourceOptions } from './sources.js';
import type { TrustedKey } from './trust.js';

export interface TrustedKeyConfigLike {
  readonly name: string;
  readonly path: string;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
}

/** A date-only bound covers its whole UTC day: notBefore from 00:00Z, notAfter until 23:59:59.999Z (inclusive). */
function bound(value: string | null, field: 'notBefore' | 'notAfter', name: string): Date | null {
  if (value === null) return null;
  return parseDateBound(
    value,
    field === 'notBefore' ? 'start' : 'end',
    `signing.trustedKeys "${name}": ${field}`,
  );
}

/** Load configured trusted keys (paths relative to the config dir). */
export async function loadTrustedKeys(
  entries: readonly TrustedKeyConfigLike[],
  opts: SourceOptions,
): Promise<TrustedKey[]> {
  return Promise.all(
    entries.map(async (e) => {
      const m = await readKeyMaterial(e.path, opts);
      const notBefore = bound(e.notBefore, 'notBefore', e.name);
      return {
        name: e.name,
        publicKey: loadPublicKey(m.publicKeyText ?? m.text, m.source),
        notBefore,
        notAfter: bound(e.notAfter, 'notAfter', e.name),
        createdAt: notBefore,
      };
    }),
  );
}

/** Keys given as `--key PUB` flags: named after the file, no window, age unknown. */
export async function loadKeyFlags(specs: readonly string[], opts: SourceOptions): Promise<TrustedKey[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const m = await readKeyMaterial(spec, opts);
      return {
        name: spec,
        publicKey: loadPublicKey(m.publicKeyText ?? m.text, m.source),
        notBefore: null,
        notAfter: null,
        createdAt: null,
      };
    }),
  );
}
