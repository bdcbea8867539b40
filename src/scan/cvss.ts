/**
 * CVSS helpers for triage: the score that represents a finding, and the runbook §2 band it falls
 * in (Critical 9.0-10.0, High 7.0-8.9, Medium 4.0-6.9, Low 0.1-3.9). Pure.
 */
import type { Finding } from './report.js';

export type CvssBand = 'Critical' | 'High' | 'Medium' | 'Low' | 'None';

/**
 * The finding's CVSS v3 score: NVD's when present (Trivy and Harbor prefer it too; trivy.md §4,
 * harbor.md §3), else the highest v3 score any source gives; undefined when no source scores it.
 */
export function preferredCvss(f: Pick<Finding, 'cvss'>): number | undefined {
  const nvd = f.cvss['nvd']?.v3Score;
  if (nvd !== undefined) return nvd;
  return maxCvss(f);
}

/** The highest v3 (else v4.0, else v2) score any source gives; undefined when none does. */
export function maxCvss(f: Pick<Finding, 'cvss'>): number | undefined {
  const entries = Object.values(f.cvss);
  for (const pick of [
    (e: (typeof entries)[number]) => e.v3Score,
    (e: (typeof entries)[number]) => e.v40Score,
    (e: (typeof entries)[number]) => e.v2Score,
  ]) {
    const scores = entries.map(pick).filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
    if (scores.length > 0) return Math.max(...scores);
  }
  return undefined;
}

/** Runbook §2 response band for a CVSS score (0 or undefined → None). */
export function cvssBand(score: number | undefined): CvssBand {
  if (score === undefined || !(score > 0)) return 'None';
  if (score >= 9) return 'Critical';
  if (score >= 7) return 'High';
  if (score >= 4) return 'Medium';
  return 'Low';
}
