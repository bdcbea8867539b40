/**
 * The scan gate as one call for the publish pipeline: scan (unless scanning is disabled), evaluate,
 * and say what to record on the image. Scanner failures propagate (the pipeline reports them as a
 * failed step); a refusal is returned with its POLICY_REFUSED error so the batch can keep going.
 */
import type { AiboxError } from '../core/errors.js';
import {
  evaluateScan,
  scanRefusal,
  validateScanPolicy,
  type ScanEvaluation,
  type ScanPolicy,
} from './policy.js';
import type { ScanReport } from './report.js';
import { SCAN_ANNOTATION, SCAN_PASSED, SCAN_SKIPPED, type Scanner, type ScanTarget } from './scanner.js';

export type GateResult =
  | { readonly status: 'skipped'; readonly annotations: Readonly<Record<string, string>> }
  | {
      readonly status: 'passed';
      readonly report: ScanReport;
      readonly evaluation: ScanEvaluation;
      readonly annotations: Readonly<Record<string, string>>;
    }
  | {
      readonly status: 'refused';
      readonly report: ScanReport;
      readonly evaluation: ScanEvaluation;
      readonly error: AiboxError;
    };

/** Run the gate for one image; `scanner` undefined means `scan.scanner: none`. */
export async function runScanGate(
  scanner: Scanner | undefined,
  image: ScanTarget,
  policy: ScanPolicy,
  now: Date,
): Promise<GateResult> {
  // Validate first: a bad ignore entry is a config error even when scanning is off.
  const valid = validateScanPolicy(policy);
  if (!scanner) return { status: 'skipped', annotations: { [SCAN_ANNOTATION]: SCAN_SKIPPED } };
  const report = await scanner.scan(image);
  const evaluation = evaluateScan(report, valid, now);
  const error = scanRefusal(evaluation, `${image.reference}@${image.digest}`);
  if (error) return { status: 'refused', report, evaluation, error };
  return { status: 'passed', report, evaluation, annotations: { [SCAN_ANNOTATION]: SCAN_PASSED } };
}
