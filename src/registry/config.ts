/**
 * The CNCF distribution 2.x configuration aibox writes (pure), for the embedded registry and for
 * the registries tests start. https://distribution.github.io/distribution/about/configuration/
 */
export interface RegistryConfigOptions {
  /** 127.0.0.1:PORT: loopback only. */
  readonly host: string;
  /** Filesystem storage root. */
  readonly storage: string;
  readonly deleteEnabled?: boolean;
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** http.secret (upload state signing); distribution makes one up per start when absent. */
  readonly secret?: string;
  /** In-memory blob descriptor cache (default on). */
  readonly blobDescriptorCache?: boolean;
  /** Further top-level YAML lines (e.g. an `auth:` section). */
  readonly extra?: readonly string[];
  readonly header?: string;
}

/** The config.yml text. */
export function registryConfigYaml(o: RegistryConfigOptions): string {
  return [
    ...(o.header ? [`# ${o.header}`] : []),
    'version: 0.1',
    'log:',
    `  level: ${o.logLevel ?? 'info'}`,
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...(o.blobDescriptorCache === false ? [] : ['  cache:', '    blobdescriptor: inmemory']),
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(o.storage)}`,
    '  delete:',
    `    enabled: ${o.deleteEnabled ?? true}`,
    'http:',
    `  addr: ${o.host}`,
    ...(o.secret ? [`  secret: ${o.secret}`] : []),
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    ...(o.extra ?? []),
    '',
  ].join('\n');
}
