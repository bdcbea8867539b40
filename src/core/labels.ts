/**
 * Every label and annotation key aibox reads or writes, in one place. Our own keys live in one
 * namespace, `dev.aibox.*` (already in signed payloads, channel manifests and Containerfiles); the
 * others are the OCI image-spec's pre-defined annotation keys
 * (https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md).
 */
export const LABELS = {
  // OCI pre-defined annotation keys
  created: 'org.opencontainers.image.created',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
  title: 'org.opencontainers.image.title',
  // aibox: image metadata written by the pipeline
  variant: 'dev.aibox.variant',
  mandatoryUpdate: 'dev.aibox.mandatory-update',
  minImageDate: 'dev.aibox.min-image-date',
  inputs: 'dev.aibox.inputs',
  /** Scan result recorded on the image and in the signed payload: `passed` or `skipped`. */
  scan: 'dev.aibox.scan',
  // aibox: everything we create carries these, so one filter finds it (and cleans up)
  managed: 'dev.aibox.managed',
  runId: 'dev.aibox.run-id',
  localBase: 'dev.aibox.local-base',
  // aibox: channel artifact manifest annotations
  channelSequence: 'dev.aibox.channel.sequence',
  channelExpires: 'dev.aibox.channel.expires',
} as const;

export type LabelKey = (typeof LABELS)[keyof typeof LABELS];
