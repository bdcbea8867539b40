/**
 * The security floor (issue 9 §4), pure: what an image's `created` is, what floor its labels/annotations or a
 * channel entry carry, and the arithmetic that keeps floors monotonic and per variant. A floor is the `created`
 * time of the first image that fixed a CVE at or above `cve.mandatoryMinCvss`: images created before it are
 * refused by `aibox start`. Floors only go up (`higherFloor`), are carried into every later build of a variant,
 * and a floor raised on a variant raises every variant built FROM it (`raiseFloors`). No I/O.
 */
import { isCalendarDate } from '../core/dates.js';
import { LABELS, formatSecurityFixes, parseSecurityFixes, type SecurityFix } from '../core/labels.js';
import type { ChannelCve, ChannelVariant } from '../channel/channel.js';

/** The runbook table's threshold (High and Critical enforce the update) when `cve.mandatoryMinCvss` is unset. */
export const DEFAULT_MANDATORY_MIN_CVSS = 7.0;

export interface Floor {
  /** True when images below the floor must not start (a CVE at or above the mandatory threshold). */
  readonly mandatoryUpdate: boolean;
  /** The precise floor: RFC 3339 UTC with second precision, e.g. 2026-02-21T09:14:03Z. */
  readonly minImageCreated: string;
  /** The runbook's `min-image-date`: the UTC date of `minImageCreated`. */
  readonly minImageDate: string;
  /** The CVEs behind the floor, highest score first. */
  readonly fixes: readonly SecurityFix[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time as the floor writes it (UTC, whole seconds, truncated), or undefined when it is not one. */
export function floorTime(s: string | undefined): string | undefined {
  if (s === undefined || !RFC3339.test(s)) return undefined;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) return undefined;
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The ONE `created` of an image (issue 9 §4): the config's `created` (what podman and every registry tool show;
 * the pipeline builds with `--timestamp` so it equals the `org.opencontainers.image.created` label), else that
 * label, normalised to whole UTC seconds. Every floor comparison uses this value.
 */
export function imageCreated(image: {
  readonly created?: string | null | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}): string | undefined {
  return floorTime(image.created ?? undefined) ?? floorTime(image.labels?.[LABELS.created]);
}

/** True when an image created at `created` is below `floor` (older than the first fixed image). */
export function belowFloor(created: string, floor: Floor | undefined): boolean {
  if (!floor) return false;
  const c = floorTime(created);
  return c === undefined || Date.parse(c) < Date.parse(floor.minImageCreated);
}

/** Sort fixes highest score first, one per CVE id (the highest score seen wins). */
export function mergeFixes(...lists: readonly (readonly SecurityFix[])[]): SecurityFix[] {
  const best = new Map<string, number>();
  for (const l of lists) for (const f of l) best.set(f.id, Math.max(best.get(f.id) ?? -1, f.cvss));
  return [...best]
    .map(([id, cvss]) => ({ id, cvss }))
    .sort((a, b) => b.cvss - a.cvss || a.id.localeCompare(b.id));
}

/** The highest-scored CVE of a list (the one that names an emergency tag and the channel's `cve`). */
export function topFix(fixes: readonly SecurityFix[]): SecurityFix | undefined {
  return mergeFixes(fixes)[0];
}

/** A floor at `created` for `fixes`; mandatory when the top score reaches `minCvss`. */
export function newFloor(created: string, fixes: readonly SecurityFix[], minCvss: number): Floor | undefined {
  const t = floorTime(created);
  if (t === undefined) return undefined;
  const merged = mergeFixes(fixes);
  const top = merged[0];
  if (!top || top.cvss < minCvss) return undefined;
  return { mandatoryUpdate: true, minImageCreated: t, minImageDate: t.slice(0, 10), fixes: merged };
}

/**
 * The higher of two floors: the later `minImageCreated` wins (with its CVEs); on a tie the CVE lists are merged.
 * `mandatoryUpdate` sticks once set. Never lower than either input (property-tested).
 */
export function higherFloor(a: Floor | undefined, b: Floor | undefined): Floor | undefined {
  if (!a) return b;
  if (!b) return a;
  const ta = Date.parse(a.minImageCreated);
  const tb = Date.parse(b.minImageCreated);
  const win = tb > ta ? b : a;
  return {
    mandatoryUpdate: a.mandatoryUpdate || b.mandatoryUpdate,
    minImageCreated: win.minImageCreated,
    minImageDate: win.minImageDate,
    fixes: ta === tb ? mergeFixes(a.fixes, b.fixes) : mergeFixes(win.fixes),
  };
}

/**
 * The floor carried by an image's labels or manifest annotations, or undefined. A bare `min-image-date` (images
 * from before `min-image-created` existed) counts as midnight UTC of that date; malformed values count as none.
 */
export function floorFromLabels(labels: Readonly<Record<string, string>> | undefined): Floor | undefined {
  if (!labels) return undefined;
  const date = labels[LABELS.minImageDate];
  const precise =
    floorTime(labels[LABELS.minImageCreated]) ??
    (date !== undefined && isCalendarDate(date) ? `${date}T00:00:00Z` : undefined);
  if (precise === undefined) return undefined;
  return {
    mandatoryUpdate: labels[LABELS.mandatoryUpdate] === 'true',
    minImageCreated: precise,
    minImageDate: precise.slice(0, 10),
    fixes: parseSecurityFixes(labels[LABELS.securityFixes]),
  };
}

/** The floor of a channel entry, or undefined. */
export function floorFromChannel(v: ChannelVariant | undefined): Floor | undefined {
  if (!v || v.minImageCreated === null) return undefined;
  const t = floorTime(v.minImageCreated);
  if (t === undefined) return undefined;
  return {
    mandatoryUpdate: v.mandatoryUpdate,
    minImageCreated: t,
    minImageDate: t.slice(0, 10),
    fixes: v.cve ? [{ id: v.cve.id, cvss: v.cve.cvss }] : [],
  };
}

/** The labels (and manifest annotations) an image carries for its floor; only `mandatory-update=false` without one. */
export function floorLabels(floor: Floor | undefined): Record<string, string> {
  if (!floor) return { [LABELS.mandatoryUpdate]: 'false' };
  return {
    [LABELS.mandatoryUpdate]: String(floor.mandatoryUpdate),
    [LABELS.minImageDate]: floor.minImageDate,
    [LABELS.minImageCreated]: floor.minImageCreated,
    ...(floor.fixes.length > 0 ? { [LABELS.securityFixes]: formatSecurityFixes(floor.fixes) } : {}),
  };
}

/** The channel entry's floor fields for a floor (`cve` = the highest-scored CVE behind it). */
export function channelFloor(floor: Floor | undefined): {
  mandatoryUpdate?: boolean;
  minImageDate?: string;
  minImageCreated?: string;
  cve?: ChannelCve;
} {
  if (!floor) return {};
  const top = topFix(floor.fixes);
  return {
    mandatoryUpdate: floor.mandatoryUpdate,
    minImageDate: floor.minImageDate,
    minImageCreated: floor.minImageCreated,
    ...(top ? { cve: { id: top.id, cvss: top.cvss } } : {}),
  };
}

/** Every variant built (directly or not) FROM one of `roots`, roots included. `parents`: variant → its `from`. */
export function withDescendants(
  parents: Readonly<Record<string, string | null>>,
  roots: Iterable<string>,
): Set<string> {
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [v, p] of Object.entries(parents)) {
      if (p !== null && out.has(p) && !out.has(v)) {
        out.add(v);
        grew = true;
      }
    }
  }
  return out;
}

/**
 * Floors after a fix: `raised` (and every variant built FROM it) gets the higher of its carried floor and `floor`;
 * every other variant keeps its carried floor. Never lowers any floor (property-tested).
 */
export function raiseFloors(
  parents: Readonly<Record<string, string | null>>,
  carried: ReadonlyMap<string, Floor>,
  raised: Iterable<string>,
  floor: Floor | undefined,
): Map<string, Floor> {
  const out = new Map(carried);
  if (!floor) return out;
  for (const v of withDescendants(parents, raised)) {
    const f = higherFloor(carried.get(v), floor);
    if (f) out.set(v, f);
  }
  return out;
}

/** The highest floor per variant over many sources (channel history, image annotations, …). */
export function highestFloors(sources: Iterable<readonly [string, Floor | undefined]>): Map<string, Floor> {
  const out = new Map<string, Floor>();
  for (const [v, f] of sources) {
    const h = higherFloor(out.get(v), f);
    if (h) out.set(v, h);
  }
  return out;
}
