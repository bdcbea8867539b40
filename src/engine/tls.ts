/** TLS policy for registry hosts (pure). */

/** True for 127.0.0.0/8, ::1 and localhost, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/.test(name);
}

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
  return !(isLoopbackHost(host) || insecure.includes(host));
}

/** The `host[:port]` part of an image reference (`127.0.0.1:5000/aibox/base:1` → `127.0.0.1:5000`). */
export function referenceHost(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? first
    : 'docker.io';
}
