/**
 * Upload an image from an OCI image layout directory to a registry by digest (no tag), so an
 * image can be scanned and signed before any tag points at it. Blobs already in the repository
 * are skipped; blobs present in a sibling repository are mounted instead of uploaded.
 * Spec: https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import type { RegistryClient } from './client.js';
import { parseDigest, verifyDigest } from './digest.js';
import { parseManifest, type Descriptor } from './manifest.js';
import type { Reference } from './reference.js';

export interface PushedLayout {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  readonly uploaded: number;
  readonly mounted: number;
  readonly skipped: number;
}

function blobPath(dir: string, digest: string): string {
  const d = parseDigest(digest);
  return join(dir, 'blobs', d.algorithm, d.hex);
}

/** Read the layout's single manifest (by `digest` when the index lists several). */
async function readLayoutManifest(
  dir: string,
  digest?: string,
): Promise<{ desc: Descriptor; bytes: Uint8Array }> {
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  } catch (e: unknown) {
    throw new AiboxError({
      code: 'MANIFEST_INVALID',
      message: `${dir}/index.json is missing or not JSON`,
      cause: e,
    });
  }
  const all = index.manifests ?? [];
  const desc = digest ? all.find((m) => m.digest === digest) : all.length === 1 ? all[0] : undefined;
  if (!desc) {
    throw new AiboxError({
      code: 'MANIFEST_INVALID',
      message: `${dir}/index.json does not name ${digest ? `manifest ${digest}` : 'exactly one manifest'}`,
    });
  }
  const bytes = new Uint8Array(await readFile(blobPath(dir, desc.digest)));
  verifyDigest(bytes, desc.digest);
  return { desc, bytes };
}

/** Push the image in `dir` to `repo` by digest; `siblings` are repositories to try mounting from. */
export async function pushLayout(
  client: RegistryClient,
  repo: Reference,
  dir: string,
  opts: { digest?: string; siblings?: readonly string[] } = {},
): Promise<PushedLayout> {
  const { desc, bytes } = await readLayoutManifest(dir, opts.digest);
  const parsed = parseManifest(bytes, desc.mediaType);
  if (parsed.kind !== 'manifest') {
    throw new AiboxError({
      code: 'MANIFEST_INVALID',
      message: `${dir}: expected an image manifest, found an index`,
    });
  }
  const blobs = [parsed.manifest.config, ...parsed.manifest.layers];
  let uploaded = 0;
  let mounted = 0;
  let skipped = 0;
  await Promise.all(
    blobs.map(async (b) => {
      if (await client.headBlob(repo, b.digest)) {
        skipped++;
        return;
      }
      for (const from of opts.siblings ?? []) {
        if (from !== repo.repository && (await client.mountBlob(repo, from, b.digest))) {
          mounted++;
          return;
        }
      }
      const path = blobPath(dir, b.digest);
      const size = (await stat(path)).size;
      if (size !== b.size) {
        throw new AiboxError({
          code: 'DIGEST_MISMATCH',
          message: `${path} has ${size} bytes, the manifest says ${b.size}`,
        });
      }
      await client.pushBlobStream(repo, createReadStream(path), b.digest, b.size);
      uploaded++;
    }),
  );
  await client.putManifest({ ...repo, digest: desc.digest }, bytes, parsed.mediaType);
  return { digest: desc.digest, mediaType: parsed.mediaType, bytes, uploaded, mounted, skipped };
}
