/** Bench harness entry (bundled by bench/tags.mjs): registry start + seeding with our client. */
import { createRegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { startRegistry } from '../../test/helpers/registry.js';

export { startRegistry };

/** Push one tiny image per repository, then PUT the same manifest bytes under `tags` tags, concurrently. */
export async function seed(host: string, repos: readonly string[], tags: number): Promise<void> {
  const client = createRegistryClient({ env: {}, concurrency: 32 });
  try {
    for (const repository of repos) {
      const ref = { registry: host, repository };
      const cfg = await client.pushBlob(
        ref,
        new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', repository })),
      );
      const layer = await client.pushBlob(ref, new TextEncoder().encode(`layer of ${repository}`));
      const manifest = new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OCI_MANIFEST,
          config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
          layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: layer.digest, size: layer.size }],
        }),
      );
      await Promise.all(
        Array.from({ length: tags }, (_, i) =>
          client.putManifest({ ...ref, tag: `v${i}` }, manifest, MediaTypes.OCI_MANIFEST),
        ),
      );
    }
  } finally {
    await client.close();
  }
}
