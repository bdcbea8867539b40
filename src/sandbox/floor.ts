/**
 * The floor rule for a RUNNING sandbox (`aibox start` attaching to an older container): the same rule
 * and the same text as the preflight's for the local image (preflight.ts `securityUpdateMessage`). Pure.
 */
import { securityUpdateMessage, type VariantFloor } from './preflight.js';

/** Whether an image created at `created` (RFC 3339) is older than the floor; an unreadable time never passes. */
export function belowFloor(created: string, floor: VariantFloor | null): boolean {
  if (!floor) return false;
  const t = Date.parse(created);
  return Number.isNaN(t) || t < Date.parse(floor.minImageCreated);
}

/** Runbook §2's two lines, with the real CVE and CVSS of the floor. */
export function securityUpdateRequired(floor: VariantFloor): string {
  return securityUpdateMessage(floor.cve);
}
