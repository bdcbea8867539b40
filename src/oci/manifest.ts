/**
 * Manifest and index parsing with strict validation (OCI image-spec v1.1 manifest.md / image-index.md,
 * Docker schema 2). Pure: bytes in, typed values out; throws MANIFEST_INVALID / MANIFEST_TOO_LARGE.
 */
import { AiboxError } from '../core/errors.js';
import { parseDigest } from './digest.js';

export const MediaTypes = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  COSIGN_SIMPLESIGNING: 'application/vnd.dev.cosign.simplesigning.v1+json',
} as const;

/** Every manifest type we accept on HEAD/GET (distribution 2.8 answers 404/400 to anything not listed). */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaTypes.OCI_INDEX,
  MediaTypes.OCI_MANIFEST,
  MediaTypes.DOCKER_LIST,
  MediaTypes.DOCKER_MANIFEST,
];

/** Registries (and the OCI spec) limit manifests to 4 MiB; larger ones are refused unread. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'manifest'; manifest: ImageManifest; mediaType: string }
  | { kind: 'index'; index: ImageIndex; mediaType: string };

const MANIFEST_TYPES = new Set<string>([MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST]);
const INDEX_TYPES = new Set<string>([MediaTypes.OCI_INDEX, MediaTypes.DOCKER_LIST]);
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function invalid(rule: string): AiboxError {
  return new AiboxError({
    code: 'MANIFEST_INVALID',
    message: `invalid manifest: ${rule}`,
    hint: 'the registry returned something that is not an OCI/Docker v2 manifest; check the reference points at an image',
  });
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Json, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${where}.${key} must be a string`);
  return v;
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalid(`${where}["${k.slice(0, 80)}"] must be a string`);
    out[k] = val;
  }
  return out;
}

function mediaType(v: unknown, where: string): string {
  if (typeof v !== 'string' || !MEDIA_TYPE_RE.test(v))
    throw invalid(`${where} must be a media type like type/subtype`);
  return v;
}

/** Validate one descriptor object (digest grammar, non-negative integer size, string maps). */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} must be an object`);
  const d: Descriptor = {
    mediaType: mediaType(v.mediaType, `${where}.mediaType`),
    digest: '',
    size: 0,
  };
  if (typeof v.digest !== 'string') throw invalid(`${where}.digest must be a string`);
  try {
    parseDigest(v.digest);
  } catch (e: unknown) {
    throw invalid(`${where}.digest: ${e instanceof Error ? e.message : String(e)}`);
  }
  d.digest = v.digest;
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  d.size = v.size;
  const annotations = stringMap(v.annotations, `${where}.annotations`);
  if (annotations) d.annotations = annotations;
  if (v.artifactType !== undefined) d.artifactType = mediaType(v.artifactType, `${where}.artifactType`);
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string'))
      throw invalid(`${where}.urls must be strings`);
    d.urls = v.urls;
  }
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      throw invalid(`${where}.platform needs string architecture and os`);
    }
    const platform: Platform = { architecture: p.architecture, os: p.os };
    const variant = optString(p, 'variant', `${where}.platform`);
    if (variant !== undefined) platform.variant = variant;
    const osVersion = optString(p, 'os.version', `${where}.platform`);
    if (osVersion !== undefined) platform['os.version'] = osVersion;
    if (p['os.features'] !== undefined) {
      const f = p['os.features'];
      if (!Array.isArray(f) || !f.every((x) => typeof x === 'string'))
        throw invalid(`${where}.platform.os.features must be strings`);
      platform['os.features'] = f;
    }
    d.platform = platform;
  }
  return d;
}

function baseType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const t = contentType.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

/** Parse manifest bytes as served by a registry; the one place that decides manifest vs index. */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new AiboxError({
      code: 'MANIFEST_TOO_LARGE',
      message: `manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit`,
      hint: 'registries refuse manifests over 4 MiB; this content is not a normal image manifest',
    });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid('body is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e: unknown) {
    throw invalid(`body is not JSON (${e instanceof Error ? e.message.slice(0, 120) : 'parse error'})`);
  }
  if (!isObject(doc)) throw invalid('top level must be a JSON object');
  if (doc.schemaVersion === 1) throw invalid('Docker schema 1 manifests are not supported');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const declared = doc.mediaType === undefined ? undefined : mediaType(doc.mediaType, 'mediaType');
  const header = baseType(contentType);
  const headerKnown = header !== undefined && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header));
  if (declared !== undefined && headerKnown && declared !== header) {
    throw invalid(`mediaType "${declared}" does not match Content-Type "${header}"`);
  }
  let type = declared ?? (headerKnown ? header : undefined);
  if (type === undefined) {
    if (Array.isArray(doc.manifests)) type = MediaTypes.OCI_INDEX;
    else if (doc.config !== undefined) type = MediaTypes.OCI_MANIFEST;
    else throw invalid('cannot tell manifest from index: no mediaType, config or manifests');
  }
  const annotations = stringMap(doc.annotations, 'annotations');
  const artifactType =
    doc.artifactType === undefined ? undefined : mediaType(doc.artifactType, 'artifactType');
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');

  if (MANIFEST_TYPES.has(type)) {
    if (!Array.isArray(doc.layers)) throw invalid('layers must be an array');
    const manifest: ImageManifest = {
      schemaVersion: 2,
      config: parseDescriptor(doc.config, 'config'),
      layers: doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
    };
    if (declared !== undefined) manifest.mediaType = declared;
    if (artifactType !== undefined) manifest.artifactType = artifactType;
    if (subject !== undefined) manifest.subject = subject;
    if (annotations !== undefined) manifest.annotations = annotations;
    return { kind: 'manifest', manifest, mediaType: type };
  }
  if (INDEX_TYPES.has(type)) {
    if (!Array.isArray(doc.manifests)) throw invalid('manifests must be an array');
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
    };
    if (declared !== undefined) index.mediaType = declared;
    if (artifactType !== undefined) index.artifactType = artifactType;
    if (subject !== undefined) index.subject = subject;
    if (annotations !== undefined) index.annotations = annotations;
    return { kind: 'index', index, mediaType: type };
  }
  throw invalid(`unsupported mediaType "${type.slice(0, 120)}"`);
}
