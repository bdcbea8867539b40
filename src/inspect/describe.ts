/**
 * What `aiboxctl inspect` shows about an image: the manifest (or index) plus, for an image, its
 * config's created time, labels and platform. Reads through an ImageStore (digest-verified).
 */
import { AiboxError } from '../core/errors.js';
import type { ImageStore } from '../oci/store.js';
import { parseManifest } from '../oci/manifest.js';
import { formatReference, type Reference } from '../oci/reference.js';

export interface ImageDescription {
  readonly reference: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly artifactType?: string;
  /** Size of the manifest itself, in bytes. */
  readonly size: number;
  /** Sum of config and layer sizes (for an index: 0). */
  readonly totalSize: number;
  readonly created?: string;
  readonly platform?: string;
  readonly annotations: Record<string, string>;
  readonly labels: Record<string, string>;
  /** The config's `User` (empty = root), for builds that must restore it (emergency patches). */
  readonly user?: string;
  readonly layers: readonly { digest: string; size: number; mediaType: string }[];
  readonly manifests: readonly { digest: string; size: number; mediaType: string; platform?: string }[];
}

interface ImageConfigJson {
  created?: unknown;
  architecture?: unknown;
  os?: unknown;
  variant?: unknown;
  config?: { Labels?: unknown; User?: unknown } | null;
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>))
    if (typeof val === 'string') out[k] = val;
  return out;
}

/** Fetch and summarise an image or index for display. */
export async function describeImage(client: ImageStore, ref: Reference): Promise<ImageDescription> {
  const { descriptor, bytes } = await client.getManifest(ref);
  const parsed = parseManifest(bytes, descriptor.mediaType);
  const reference = formatReference(ref);
  if (parsed.kind === 'index') {
    const ix = parsed.index;
    return {
      reference,
      digest: descriptor.digest,
      mediaType: parsed.mediaType,
      ...(ix.artifactType ? { artifactType: ix.artifactType } : {}),
      size: bytes.length,
      totalSize: 0,
      annotations: { ...(ix.annotations ?? {}) },
      labels: {},
      layers: [],
      manifests: ix.manifests.map((m) => ({
        digest: m.digest,
        size: m.size,
        mediaType: m.mediaType,
        ...(m.platform
          ? {
              platform: [m.platform.os, m.platform.architecture, m.platform.variant]
                .filter(Boolean)
                .join('/'),
            }
          : {}),
      })),
    };
  }
  const m = parsed.manifest;
  let created: string | undefined;
  let platform: string | undefined;
  let labels: Record<string, string> = {};
  let user: string | undefined;
  const configBytes = await client.getBlob(ref, m.config.digest, { maxBytes: MAX_CONFIG_BYTES });
  if (m.config.mediaType.includes('image.config') || m.config.mediaType.includes('container.image')) {
    let cfg: ImageConfigJson;
    try {
      cfg = JSON.parse(Buffer.from(configBytes).toString('utf8')) as ImageConfigJson;
    } catch (e: unknown) {
      throw new AiboxError({
        code: 'MANIFEST_INVALID',
        message: `image config ${m.config.digest} of ${reference} is not valid JSON`,
        cause: e,
      });
    }
    created = str(cfg.created);
    const os = str(cfg.os);
    const arch = str(cfg.architecture);
    if (os || arch) platform = [os, arch, str(cfg.variant)].filter(Boolean).join('/');
    labels = stringMap(cfg.config?.Labels);
    user = str(cfg.config?.User);
  }
  return {
    reference,
    digest: descriptor.digest,
    mediaType: parsed.mediaType,
    ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    size: bytes.length,
    totalSize: m.config.size + m.layers.reduce((n, l) => n + l.size, 0),
    ...(created ? { created } : {}),
    ...(platform ? { platform } : {}),
    annotations: { ...(m.annotations ?? {}) },
    labels,
    ...(user ? { user } : {}),
    layers: m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    manifests: [],
  };
}
