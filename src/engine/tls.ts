/** TLS policy for registry hosts (pure). */
import { hasRegistryHost, isLoopbackRegistry, isPlainHttpHost } from '../oci/reference.js';

/** True for 127.0.0.0/8, ::1 and localhost, with or without a port (the OCI client's rule). */
export const isLoopbackHost = isLoopbackRegistry;

/**
 * Whether podman/skopeo should verify TLS for `host`: an explicit engine setting wins; otherwise
 * (null = auto) loopback and hosts listed in `registry.insecure` are used over plain HTTP.
 */
export function tlsVerifyFor(
  host: string,
  setting: boolean | null,
  insecure: readonly string[] = [],
): boolean {
  if (setting !== null) return setting;
  return !isPlainHttpHost(host, insecure);
}

/** The `host[:port]` part of an image reference (`127.0.0.1:5000/aibox/base:1` → `127.0.0.1:5000`). */
export function referenceHost(ref: string): string {
  return hasRegistryHost(ref) ? (ref.split('/')[0] ?? '') : 'docker.io';
}
