/**
 * Loading the trust store (edge: reads key files): `--key` flags, else `signing.trustedKeys` from
 * the platform config, into TrustedKey values for the pure core.
 */
import { AiboxError } from '../core/errors.js';
import { loadPublicKey } from './keys.js';
import { readKeyMaterial, type SourceOptions } from './sources.js';
import type { TrustedKey } from './trust.js';

export interface TrustedKeyConfigLike {
  readonly name: string;
  readonly path: string;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
}

function date(value: string | null, field: string, name: string): Date | null {
  if (value === null) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `signing.trustedKeys "${name}": ${field} "${value}" is not a date`,
      hint: 'Use YYYY-MM-DD or an RFC 3339 timestamp',
    });
  }
  return d;
}

/** Load configured trusted keys (paths relative to the config dir). */
export async function loadTrustedKeys(
  entries: readonly TrustedKeyConfigLike[],
  opts: SourceOptions,
): Promise<TrustedKey[]> {
  return Promise.all(
    entries.map(async (e) => {
      const m = await readKeyMaterial(e.path, opts);
      const notBefore = date(e.notBefore, 'notBefore', e.name);
      return {
        name: e.name,
        publicKey: loadPublicKey(m.publicKeyText ?? m.text, m.source),
        notBefore,
        notAfter: date(e.notAfter, 'notAfter', e.name),
        createdAt: notBefore ?? m.modifiedAt ?? null,
      };
    }),
  );
}

/** Keys given as `--key PUB` flags: named after the file, no window. */
export async function loadKeyFlags(specs: readonly string[], opts: SourceOptions): Promise<TrustedKey[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const m = await readKeyMaterial(spec, opts);
      return {
        name: spec,
        publicKey: loadPublicKey(m.publicKeyText ?? m.text, m.source),
        notBefore: null,
        notAfter: null,
        createdAt: m.modifiedAt ?? null,
      };
    }),
  );
}
