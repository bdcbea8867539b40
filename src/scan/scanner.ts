/**
 * The Scanner port and the annotation constants the publish pipeline writes. Workflows receive a
 * Scanner; `scannerFromConfig` (src/scan/factory.ts) is where adapters are built.
 */
import { LABELS } from '../core/labels.js';
import type { ScanReport } from './report.js';

/** What to scan: a pull reference (host/repo[:tag]) and the manifest digest that must be scanned. */
export interface ScanTarget {
  readonly reference: string;
  readonly digest: string;
}

/** A vulnerability scanner. Implementations fail (throw) rather than return a partial report. */
export interface Scanner {
  /** Short name for logs and output ("trivy", "harbor"). */
  readonly name: 'trivy' | 'harbor';
  scan(image: ScanTarget): Promise<ScanReport>;
}

/** Annotation key the pipeline sets on published images to record the scan gate outcome. */
export const SCAN_ANNOTATION = LABELS.scan;
/** Annotation values: the gate ran and passed, or scanning is disabled (`scan.scanner: none`). */
export const SCAN_PASSED = 'passed';
export const SCAN_SKIPPED = 'skipped';
