/** Bench harness (bundled by bench/retention.mjs): registry start + seeding date-scheme tags with our client. */
import { createRegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { mapConcurrent } from '../../src/oci/pool.js';
import { formatTag } from '../../src/tags/tags.js';
import { startRegistry } from '../../test/helpers/registry.js';

export { startRegistry };

const DAY = 86_400_000;

/**
 * Per repository: one config + layer blob, then `tags` weekly-scheme tags `<prefix>-YYYYMMDD` one day
 * apart (newest yesterday), each a DISTINCT manifest (an annotation differs), so retention has real
 * digests to keep and delete. Returns the tag names per repository.
 */
export async function seedDated(
  host: string,
  repos: readonly { repository: string; prefix: string }[],
  tags: number,
  now: Date,
): Promise<void> {
  const client = createRegistryClient({ env: {}, concurrency: 32 });
  try {
    for (const { repository, prefix } of repos) {
      const ref = { registry: host, repository };
      const cfg = await client.pushBlob(
        ref,
        new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', repository })),
      );
      const layer = await client.pushBlob(ref, new TextEncoder().encode(`layer of ${repository}`));
      await mapConcurrent(
        Array.from({ length: tags }, (_, i) => i),
        32,
        async (i) => {
          const date = new Date(now.getTime() - (i + 1) * DAY).toISOString().slice(0, 10);
          const manifest = new TextEncoder().encode(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaTypes.OCI_MANIFEST,
              config: { mediaType: MediaTypes.OCI_CONFIG, digest: cfg.digest, size: cfg.size },
              layers: [{ mediaType: MediaTypes.OCI_LAYER, digest: layer.digest, size: layer.size }],
              annotations: {
                'org.opencontainers.image.created': `${date}T04:00:00Z`,
                'dev.aibox.bench': String(i),
              },
            }),
          );
          await client.putManifest(
            { ...ref, tag: formatTag({ prefix, date }) },
            manifest,
            MediaTypes.OCI_MANIFEST,
          );
        },
      );
    }
  } finally {
    await client.close();
  }
}
