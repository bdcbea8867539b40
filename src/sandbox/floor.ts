/**
 * The floor rule for a RUNNING sandbox (`aibox start` attaching to an older container): the same rule
 * and text the preflight applies to the local image. Pure. Kept behind these two functions so that,
 * once the preflight's own floor helpers are merged (slice devcli), they replace the bodies here.
 */
import type { VariantFloor } from './preflight.js';

/** Whether an image created at `created` (RFC 3339) is older than the floor (precise when present, else the date). */
export function belowFloor(created: string, floor: VariantFloor | null): boolean {
  if (!floor) return false;
  const t = Date.parse(created);
  if (Number.isNaN(t)) return true; // an image whose age cannot be told does not pass a floor
  if (floor.minImageCreated) return t < Date.parse(floor.minImageCreated);
  if (floor.minImageDate) return new Date(t).toISOString().slice(0, 10) < floor.minImageDate;
  return false;
}

/** Runbook §2's two lines, with the real CVE and CVSS ("A critical vulnerability" from CVSS 9.0). */
export function securityUpdateRequired(floor: VariantFloor): string {
  const cve = floor.cve;
  const what =
    cve === undefined
      ? 'A critical vulnerability'
      : `${cve.cvss >= 9 ? 'A critical vulnerability' : 'A high-severity vulnerability'} (${cve.id}, CVSS ${cve.cvss.toFixed(1)})`;
  return [
    `SECURITY UPDATE REQUIRED: ${what} has been`,
    "patched. Run 'aibox update' to pull the latest image before starting your sandbox.",
  ].join('\n');
}
