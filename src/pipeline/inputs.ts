/**
 * What makes two builds of a variant "the same" for resuming a run on the same date: the
 * Containerfile, the whole build context (its digest, see context.ts), the build args that describe
 * the image, the base digest, the tag and the security metadata. Pure.
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
  /** Digest of every file under the build context (path, mode, content): `hashBuildContext`. */
  readonly context: string;
  /** Build args passed to the build, without the ones that describe the run (`RUN_ONLY_BUILD_ARGS`). */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** `dev.aibox.security-fixes` of an emergency build (absent for weekly builds: their digests stay as they were). */
  readonly securityFixes?: string;
}

/** Build args that describe the run, not the image's inputs (a re-run has another time and may have another commit). */
export const RUN_ONLY_BUILD_ARGS: readonly string[] = ['CREATED', 'REVISION'];

/** The build args that count as inputs: all but the run-only ones. */
export function inputBuildArgs(args: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(args).filter(([k]) => !RUN_ONLY_BUILD_ARGS.includes(k)));
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
    i.context,
    Object.keys(i.buildArgs)
      .sort()
      .map((k) => [k, i.buildArgs[k]]),
    ...(i.securityFixes ? [i.securityFixes] : []),
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
