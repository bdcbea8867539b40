/**
 * Copy an image manifest from one repository to another on the same registry by digest, without
 * a tag: blobs already present are skipped, the rest are mounted across repositories (uploaded
 * through this client only when the registry declines the mount). The manifest bytes are PUT
 * unchanged, so the digest is preserved.
 */
import { AiboxError } from '../core/errors.js';
import type { ImageStore } from './store.js';
import { parseManifest } from './manifest.js';
import type { Reference } from './reference.js';

export interface CopiedManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  readonly mounted: number;
  readonly present: number;
  readonly uploaded: number;
}

/** `from` must carry a digest; `to` names the target repository (its tag/digest are ignored). */
export async function copyByDigest(
  client: ImageStore,
  from: Reference & { digest: string },
  to: Reference,
): Promise<CopiedManifest> {
  if (from.registry !== to.registry) {
    throw new AiboxError({
      code: 'USAGE',
      message: `cannot copy ${from.registry}/${from.repository} to another registry (${to.registry}) by mounting`,
    });
  }
  const { descriptor, bytes } = await client.getManifest(from);
  const parsed = parseManifest(bytes, descriptor.mediaType);
  if (parsed.kind !== 'manifest') {
    throw new AiboxError({
      code: 'MANIFEST_INVALID',
      message: `${from.repository}@${from.digest} is an index, not an image`,
    });
  }
  const target: Reference = { registry: to.registry, repository: to.repository };
  let mounted = 0;
  let present = 0;
  let uploaded = 0;
  await Promise.all(
    [parsed.manifest.config, ...parsed.manifest.layers].map(async (b) => {
      if (await client.headBlob(target, b.digest)) {
        present++;
      } else if (await client.mountBlob(target, from.repository, b.digest)) {
        mounted++;
      } else {
        if (client.pushBlobStream && client.getBlobStream)
          await client.pushBlobStream(target, await client.getBlobStream(from, b.digest), b.digest, b.size);
        else await client.pushBlob(target, await client.getBlob(from, b.digest, { maxBytes: b.size }));
        uploaded++;
      }
    }),
  );
  await client.putManifest({ ...target, digest: from.digest }, bytes, parsed.mediaType);
  return { digest: from.digest, mediaType: parsed.mediaType, bytes, mounted, present, uploaded };
}
