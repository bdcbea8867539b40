/**
 * Normalising `docker-reference` identities so that cosign's (bare repository), skopeo's
 * (repo:tag) and Docker Hub's spellings compare equal. Pure. reference/signing.md pitfall 2.
 */
import { looksLikeHost } from '../oci/reference.js';

/** `Index.Docker.io/busybox:1` → `docker.io/library/busybox`: host lowercased, tag/digest dropped. */
export function normaliseRepository(ref: string): string {
  let s = ref.trim();
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const lastSlash = s.lastIndexOf('/');
  const colon = s.indexOf(':', lastSlash + 1);
  if (colon >= 0 && lastSlash >= 0) s = s.slice(0, colon);
  else if (colon >= 0 && lastSlash < 0) s = s.slice(0, colon);
  const slash = s.indexOf('/');
  const first = slash < 0 ? '' : s.slice(0, slash);
  let host: string;
  let path: string;
  if (slash >= 0 && looksLikeHost(first)) {
    host = first.toLowerCase();
    path = s.slice(slash + 1);
  } else {
    host = 'docker.io';
    path = s;
  }
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
  if (host === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${host}/${path}`;
}

/** True when two identities name the same repository after normalisation. */
export function sameRepository(a: string, b: string): boolean {
  return normaliseRepository(a) === normaliseRepository(b);
}
