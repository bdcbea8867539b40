/**
 * What makes two builds of a variant "the same" for resuming a run on the same date: the
 * Containerfile, the base digest, the tag and the security metadata. Pure.
 */
import { LABELS } from '../core/labels.js';
import { createHash } from 'node:crypto';

export interface BuildInputs {
  readonly variant: string;
  readonly tag: string;
  readonly containerfile: string;
  readonly baseDigest: string;
  readonly mandatoryUpdate: boolean;
  readonly minImageDate: string;
}

/** A stable digest of the inputs, recorded as the `dev.aibox.inputs` label. */
export function inputsDigest(i: BuildInputs): string {
  const canonical = JSON.stringify([
    i.variant,
    i.tag,
    i.containerfile,
    i.baseDigest,
    i.mandatoryUpdate,
    i.minImageDate,
  ]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** Label keys the pipeline writes on every image: the one list in core/labels. */
export { LABELS };

/** The labels of one build, as strings for `podman build --label`. */
export function imageLabels(i: {
  created: string;
  tag: string;
  revision: string;
  baseName: string;
  baseDigest: string;
  variant: string;
  mandatoryUpdate: boolean;
  minImageDate: string;
  inputs: string;
  scanSkipped: boolean;
}): Record<string, string> {
  return {
    [LABELS.created]: i.created,
    [LABELS.version]: i.tag,
    [LABELS.revision]: i.revision,
    [LABELS.baseName]: i.baseName,
    [LABELS.baseDigest]: i.baseDigest,
    [LABELS.variant]: i.variant,
    [LABELS.mandatoryUpdate]: String(i.mandatoryUpdate),
    [LABELS.minImageDate]: i.minImageDate,
    [LABELS.inputs]: i.inputs,
    ...(i.scanSkipped ? { [LABELS.scan]: 'skipped' } : {}),
  };
}

/** Build args the Containerfiles declare (they copy them into LABELs too). */
export function imageBuildArgs(labels: Record<string, string>, baseImage: string): Record<string, string> {
  return {
    BASE_IMAGE: baseImage,
    CREATED: labels[LABELS.created] ?? '',
    VERSION: labels[LABELS.version] ?? '',
    REVISION: labels[LABELS.revision] ?? '',
    BASE_NAME: labels[LABELS.baseName] ?? '',
    BASE_DIGEST: labels[LABELS.baseDigest] ?? '',
    VARIANT: labels[LABELS.variant] ?? '',
    MANDATORY_UPDATE: labels[LABELS.mandatoryUpdate] ?? 'false',
    MIN_IMAGE_DATE: labels[LABELS.minImageDate] ?? '',
  };
}
