/**
 * The retention plan (pure: plain values in, plain values out, `now` given). Tags per repository,
 * the channel (current and the last N history sequences), the floors and the config go in; every
 * tag comes out kept or deleted with its reason (which rule, or which safety), with the digests and
 * attached artifacts (cosign `.sig`/`.att`/`.sbom` tags, the `sha256-<hex>` referrers index,
 * referrers) to delete and the manifest bytes known. Harbor's tag-retention semantics
 * (reference/harbor.md §5): a tag survives when any rule keeps it; counts are newest first, per
 * repository. Distribution cannot delete a tag, only a digest, and a digest delete removes every tag
 * on it (reference/oci-distribution.md §4), so a tag the rules drop survives when its digest must.
 */
import { AiboxError } from '../core/errors.js';
import { classifyTag, compareParsed, parseTag, type ParsedTag, type TagKind } from '../tags/tags.js';
import { describeRule, ruleKind, ruleSelects, matchesPattern, type RetentionConfig } from './rules.js';

const DAY_MS = 86_400_000;

/** One tag as listed and resolved (HEAD) on the registry. */
export interface PlanTag {
  readonly tag: string;
  readonly digest: string;
  /** Manifest size from the HEAD, when known. */
  readonly size?: number;
  /** The image's `created` (RFC 3339), when it was read (tags outside the scheme, floor candidates). */
  readonly created?: string;
}

/** What retention does with a repository: variant images, staging leftovers, or nothing (channel, CVE records). */
export type RepositoryRole = 'variant' | 'staging' | 'protected';

export interface PlanRepository {
  /** Path on the registry, e.g. `aibox/base`. */
  readonly repository: string;
  readonly role: RepositoryRole;
  /** Variant name and tag prefix (variant and staging repositories). */
  readonly variant?: string;
  readonly prefix?: string;
  readonly tags: readonly PlanTag[];
  /** Subjects of artifact tags that were looked up by digest and are gone (their artifacts are orphans). */
  readonly absentSubjects?: readonly string[];
  /** Referrers (digests) of subjects, from the referrers API or the `sha256-<hex>` index. */
  readonly referrers?: Readonly<Record<string, readonly string[]>>;
}

/** One channel document's variants: the current one and each kept history sequence. */
export interface PlanChannel {
  readonly sequence: number;
  /** `current` or the history tag `seq-<N>`. */
  readonly source: string;
  readonly variants: Readonly<
    Record<
      string,
      {
        readonly digest: string;
        readonly tag: string;
        readonly minImageCreated?: string | null;
        readonly minImageDate?: string | null;
      }
    >
  >;
}

export interface PlanInput {
  readonly repositories: readonly PlanRepository[];
  /** The current channel first (when present), then history sequences, highest first. */
  readonly channels: readonly PlanChannel[];
  readonly config: RetentionConfig;
  readonly now: Date;
  /** The registry can delete a tag alone (Harbor's API); distribution cannot. */
  readonly tagDelete?: boolean;
}

export type ReasonCode =
  // keep
  | 'rule'
  | 'excluded'
  | 'shared-digest'
  | 'channel-current'
  | 'channel-history'
  | 'floor'
  | 'protected-repository'
  | 'artifact-of-kept'
  | 'subject-untagged'
  | 'age-unknown'
  // delete
  | 'no-rule'
  | 'staging'
  | 'artifact-of-deleted'
  | 'orphan-artifact';

export interface Reason {
  readonly code: ReasonCode;
  readonly text: string;
}

/** Where a tag's age and order came from: our tag date, the image's created time, or nowhere. */
export type AgeSource = 'tag-date' | 'created' | 'unknown' | 'n/a';

export interface TagDecision {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly kind: TagKind;
  readonly action: 'keep' | 'delete';
  /** How a deleted tag goes: with its digest, or alone (registries that delete tags). */
  readonly via?: 'digest' | 'tag';
  readonly reason: Reason;
  /** Every safety or rule that keeps it (the first is `reason`). */
  readonly also: readonly Reason[];
  readonly age: AgeSource;
  /** The time used for age and order (RFC 3339), when known. */
  readonly time?: string;
}

export interface ArtifactDeletion {
  readonly digest: string;
  /** The tag that names it (`sha256-<hex>.sig`, the referrers index), absent for an untagged referrer. */
  readonly tag?: string;
  readonly kind: 'signature' | 'referrers-index' | 'referrer';
  readonly size?: number;
}

/** One manifest delete: the digest, every tag that goes with it, and its attached artifacts (deleted after it). */
export interface DigestDeletion {
  readonly repository: string;
  readonly digest: string;
  readonly tags: readonly string[];
  readonly artifacts: readonly ArtifactDeletion[];
  readonly reason: Reason;
  /** Manifest bytes of the digest and its artifacts, where known (layers are reclaimed by GC). */
  readonly bytes: number;
}

export interface RepositorySummary {
  readonly repository: string;
  readonly role: RepositoryRole;
  /** Tags that retention judges (everything but signature/referrers tags). */
  readonly tags: number;
  readonly keep: number;
  readonly delete: number;
}

export interface RetentionPlan {
  readonly now: string;
  readonly tags: readonly TagDecision[];
  readonly deletions: readonly DigestDeletion[];
  /** Tags deleted alone (registries with tag delete): the digest stays for another kept tag. */
  readonly tagDeletions: readonly {
    readonly repository: string;
    readonly tag: string;
    readonly digest: string;
  }[];
  readonly repositories: readonly RepositorySummary[];
  /** Manifest bytes freed where known (blobs are freed by the registry's GC). */
  readonly bytes: number;
}

interface Protection {
  readonly reason: Reason;
}

function reason(code: ReasonCode, text: string): Reason {
  return { code, text };
}

const SUBJECT_TAG = /^(sha256)-([0-9a-f]{64})(?:\.(sig|att|sbom))?$/;

/** The subject digest of an artifact tag (`sha256-<hex>.sig` → `sha256:<hex>`), or undefined. */
export function artifactSubject(tag: string): string | undefined {
  const m = SUBJECT_TAG.exec(tag);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

interface Candidate {
  readonly t: PlanTag;
  readonly kind: TagKind;
  readonly parsed?: ParsedTag;
  readonly ms?: number;
  readonly age: AgeSource;
}

function candidateOf(t: PlanTag, prefix: string | undefined): Candidate {
  const kind = prefix !== undefined ? classifyTag(t.tag, prefix) : t.tag === 'latest' ? 'latest' : 'other';
  if ((kind === 'weekly' || kind === 'emergency') && prefix !== undefined) {
    const parsed = parseTag(t.tag, prefix);
    return { t, kind, parsed, ms: Date.parse(`${parsed.date}T00:00:00Z`), age: 'tag-date' };
  }
  const ms = t.created !== undefined ? Date.parse(t.created) : NaN;
  return Number.isNaN(ms) ? { t, kind, age: 'unknown' } : { t, kind, ms, age: 'created' };
}

/** Newest first: by time, then (same time) the later tag in our scheme, then the tag name. */
function newestFirst(a: Candidate, b: Candidate): number {
  if (a.ms !== b.ms) return (b.ms ?? 0) - (a.ms ?? 0);
  if (a.parsed && b.parsed) {
    const c = compareParsed(b.parsed, a.parsed);
    if (c) return c;
  }
  return a.t.tag < b.t.tag ? 1 : a.t.tag > b.t.tag ? -1 : 0;
}

/** Digests that a channel document or a floor protects, per variant repository, with the reason. */
function channelProtections(input: PlanInput): Map<string, Protection> {
  const out = new Map<string, Protection>();
  for (const ch of input.channels) {
    for (const [variant, v] of Object.entries(ch.variants)) {
      if (out.has(v.digest)) continue;
      out.set(v.digest, {
        reason:
          ch.source === 'current'
            ? reason(
                'channel-current',
                `${variant} in the current channel (sequence ${ch.sequence}, ${v.tag})`,
              )
            : reason('channel-history', `${variant} in channel ${ch.source} (a rollback target, ${v.tag})`),
      });
    }
  }
  return out;
}

/**
 * The first fixed image of each variant's current floor: the image whose created time equals the
 * channel's `minImageCreated`. When no tag's created time is known to match, every tag of the floor's
 * date is protected instead (never guess which one may go).
 */
function floorProtections(
  input: PlanInput,
  repo: PlanRepository,
  cands: readonly Candidate[],
): Map<string, Protection> {
  const out = new Map<string, Protection>();
  const current = input.channels.find((c) => c.source === 'current');
  const v = repo.variant !== undefined ? current?.variants[repo.variant] : undefined;
  if (!v || (v.minImageCreated == null && v.minImageDate == null)) return out;
  const exact = v.minImageCreated != null ? Date.parse(v.minImageCreated) : NaN;
  const text = `first fixed image of ${repo.variant ?? repo.repository}'s security floor (${v.minImageCreated ?? v.minImageDate ?? ''})`;
  const matched = cands.filter((c) => c.t.created !== undefined && Date.parse(c.t.created) === exact);
  const day = v.minImageDate ?? (v.minImageCreated != null ? v.minImageCreated.slice(0, 10) : undefined);
  const chosen = matched.length > 0 ? matched : cands.filter((c) => c.parsed?.date === day);
  for (const c of chosen) out.set(c.t.digest, { reason: reason('floor', text) });
  return out;
}

/** Judge every tag of one repository against the rules (no safeties yet): which rule keeps it, if any. */
function ruleVerdicts(
  cands: readonly Candidate[],
  config: RetentionConfig,
  now: number,
): Map<string, Reason[]> {
  const kept = new Map<string, Reason[]>();
  const add = (tag: string, r: Reason) => kept.set(tag, [...(kept.get(tag) ?? []), r]);
  config.rules.forEach((rule, i) => {
    const name = describeRule(rule, i);
    const selected = cands.filter((c) => ruleSelects(rule, c.t.tag));
    const kind = ruleKind(rule);
    if (kind === 'always') {
      for (const c of selected) add(c.t.tag, reason('rule', name));
      return;
    }
    for (const c of selected.filter((s) => s.ms === undefined))
      add(
        c.t.tag,
        reason(
          'age-unknown',
          `${name} selects it, but its age is unknown (not our tag scheme, no created time)`,
        ),
      );
    const known = selected.filter((s) => s.ms !== undefined);
    if (kind === 'days') {
      const since = now - (rule.retain_days ?? 0) * DAY_MS;
      for (const c of known) if ((c.ms ?? 0) >= since) add(c.t.tag, reason('rule', name));
    } else {
      const newest = [...known].sort(newestFirst).slice(0, rule.retain_count ?? 0);
      newest.forEach((c, k) => add(c.t.tag, reason('rule', `${name} (#${k + 1} newest)`)));
    }
  });
  for (const c of cands) {
    const ex = config.excludes.find((p) => matchesPattern(p, c.t.tag));
    if (ex !== undefined)
      add(c.t.tag, reason('excluded', `matches retention.excludes ${JSON.stringify(ex)}`));
  }
  return kept;
}

interface RepoPlan {
  readonly tags: TagDecision[];
  readonly deletions: DigestDeletion[];
  readonly tagDeletions: { repository: string; tag: string; digest: string }[];
  readonly summary: RepositorySummary;
}

function planRepository(
  input: PlanInput,
  repo: PlanRepository,
  channelKeep: Map<string, Protection>,
): RepoPlan {
  const now = input.now.getTime();
  const artifactsTags = repo.tags.filter((t) => artifactSubject(t.tag) !== undefined);
  const cands = repo.tags
    .filter((t) => artifactSubject(t.tag) === undefined)
    .map((t) => candidateOf(t, repo.prefix));
  const verdicts: Map<string, Reason[]> =
    repo.role === 'protected'
      ? new Map<string, Reason[]>(
          repo.tags.map((t): [string, Reason[]] => [
            t.tag,
            [
              reason(
                'protected-repository',
                `${repo.repository} is never cleaned (channel history / CVE records)`,
              ),
            ],
          ]),
        )
      : repo.role === 'staging'
        ? new Map<string, Reason[]>()
        : ruleVerdicts(cands, input.config, now);
  // Digest-level safeties: channel (current + history) and the floor, in variant repositories.
  const protectedDigests = new Map<string, Protection>();
  if (repo.role === 'variant') {
    for (const [d, p] of channelKeep) protectedDigests.set(d, p);
    for (const [d, p] of floorProtections(input, repo, cands))
      if (!protectedDigests.has(d)) protectedDigests.set(d, p);
  }
  // A digest is kept when a kept tag points at it or a safety names it.
  const keptByTag = new Map<string, string>();
  for (const c of cands)
    if (verdicts.has(c.t.tag) && !keptByTag.has(c.t.digest)) keptByTag.set(c.t.digest, c.t.tag);
  const digestKept = (d: string) => keptByTag.has(d) || protectedDigests.has(d);

  const tags: TagDecision[] = [];
  const gone = new Map<string, { tags: string[]; size: number; reason: Reason }>();
  const tagDeletions: { repository: string; tag: string; digest: string }[] = [];
  for (const c of cands) {
    const own = verdicts.get(c.t.tag) ?? [];
    const safeties: Reason[] = [];
    const p = protectedDigests.get(c.t.digest);
    if (p) safeties.push(p.reason);
    const sharer = keptByTag.get(c.t.digest);
    if (own.length === 0 && sharer !== undefined && sharer !== c.t.tag)
      safeties.push(
        reason('shared-digest', `its digest is kept for tag ${sharer} (a digest delete would remove both)`),
      );
    const base = {
      repository: repo.repository,
      tag: c.t.tag,
      digest: c.t.digest,
      kind: c.kind,
      age: repo.role === 'variant' ? c.age : ('n/a' as const),
      ...(c.ms !== undefined ? { time: new Date(c.ms).toISOString() } : {}),
    };
    const all = [...own, ...safeties];
    // Where tags can be deleted alone, a tag the rules drop goes by itself while another kept tag holds its digest,
    // unless a channel or floor names the digest: rollback finds its targets by their date tags.
    if (own.length === 0 && input.tagDelete === true && sharer !== undefined && p === undefined) {
      const why = reason(
        repo.role === 'staging' ? 'staging' : 'no-rule',
        repo.role === 'staging' ? 'staging leftover' : 'no rule keeps it (its digest stays for another tag)',
      );
      tags.push({ ...base, action: 'delete', via: 'tag', reason: why, also: [] });
      tagDeletions.push({ repository: repo.repository, tag: c.t.tag, digest: c.t.digest });
      continue;
    }
    const first = all[0];
    if (first !== undefined) {
      tags.push({ ...base, action: 'keep', reason: first, also: all.slice(1) });
      continue;
    }
    const why =
      repo.role === 'staging'
        ? reason(
            'staging',
            'staging leftover of a pipeline run (the pipeline lock is held, so no run is using it)',
          )
        : reason('no-rule', 'no rule keeps it');
    tags.push({ ...base, action: 'delete', via: 'digest', reason: why, also: [] });
    const g = gone.get(c.t.digest) ?? { tags: [], size: c.t.size ?? 0, reason: why };
    g.tags.push(c.t.tag);
    gone.set(c.t.digest, g);
  }

  // Attached artifacts: they follow their subject.
  const artifactsOf = new Map<string, ArtifactDeletion[]>();
  const orphans: DigestDeletion[] = [];
  const absent = new Set(repo.absentSubjects ?? []);
  const tagged = new Set(cands.map((c) => c.t.digest));
  for (const t of artifactsTags) {
    const subject = artifactSubject(t.tag) ?? '';
    const kind =
      t.tag.endsWith('.sig') || t.tag.endsWith('.att') || t.tag.endsWith('.sbom')
        ? ('signature' as const)
        : ('referrers-index' as const);
    const base = {
      repository: repo.repository,
      tag: t.tag,
      digest: t.digest,
      kind: classifyTag(t.tag, repo.prefix ?? ''),
      age: 'n/a' as const,
    };
    const own = verdicts.get(t.tag);
    if (own?.[0]) {
      tags.push({ ...base, action: 'keep', reason: own[0], also: own.slice(1) });
    } else if (gone.has(subject) && !digestKept(t.digest)) {
      tags.push({
        ...base,
        action: 'delete',
        via: 'digest',
        reason: reason('artifact-of-deleted', `attached to ${subject}, which is deleted`),
        also: [],
      });
      artifactsOf.set(subject, [
        ...(artifactsOf.get(subject) ?? []),
        { digest: t.digest, tag: t.tag, kind, ...(t.size !== undefined ? { size: t.size } : {}) },
      ]);
    } else if (digestKept(subject) || tagged.has(subject) || !absent.has(subject) || digestKept(t.digest)) {
      const why =
        digestKept(subject) || tagged.has(subject)
          ? reason('artifact-of-kept', `attached to ${subject}, which is kept`)
          : reason('subject-untagged', `attached to ${subject}, which may still exist untagged`);
      tags.push({ ...base, action: 'keep', reason: why, also: [] });
    } else {
      const why = reason(
        'orphan-artifact',
        `attached to ${subject}, which is gone (an interrupted earlier apply)`,
      );
      tags.push({ ...base, action: 'delete', via: 'digest', reason: why, also: [] });
      orphans.push({
        repository: repo.repository,
        digest: t.digest,
        tags: [t.tag],
        artifacts: [],
        reason: why,
        bytes: t.size ?? 0,
      });
    }
  }
  // Referrers of deleted subjects (untagged artifacts), unless something keeps them.
  for (const [subject, refs] of Object.entries(repo.referrers ?? {})) {
    if (!gone.has(subject)) continue;
    const listed = new Set((artifactsOf.get(subject) ?? []).map((a) => a.digest));
    const extra = refs
      .filter((d) => !listed.has(d) && !digestKept(d) && !gone.has(d))
      .map((d): ArtifactDeletion => ({ digest: d, kind: 'referrer' }));
    if (extra.length) artifactsOf.set(subject, [...(artifactsOf.get(subject) ?? []), ...extra]);
  }

  const deletions: DigestDeletion[] = [];
  for (const [digest, g] of gone) {
    const artifacts = artifactsOf.get(digest) ?? [];
    deletions.push({
      repository: repo.repository,
      digest,
      tags: g.tags,
      artifacts,
      reason: g.reason,
      bytes: g.size + artifacts.reduce((s, a) => s + (a.size ?? 0), 0),
    });
  }
  deletions.push(...orphans);
  const judged = tags.filter((t) => t.kind !== 'signature' && t.kind !== 'referrers');
  return {
    tags,
    deletions,
    tagDeletions,
    summary: {
      repository: repo.repository,
      role: repo.role,
      tags: judged.length,
      keep: judged.filter((t) => t.action === 'keep').length,
      delete: judged.filter((t) => t.action === 'delete').length,
    },
  };
}

/** Plan retention for every repository: each tag kept or deleted with its reason, the deletes to make. */
export function planRetention(input: PlanInput): RetentionPlan {
  const channelKeep = channelProtections(input);
  const plans = input.repositories.map((r) => planRepository(input, r, channelKeep));
  const plan: RetentionPlan = {
    now: input.now.toISOString(),
    tags: plans.flatMap((p) => p.tags),
    deletions: plans.flatMap((p) => p.deletions),
    tagDeletions: plans.flatMap((p) => p.tagDeletions),
    repositories: plans.map((p) => p.summary),
    bytes: plans.reduce((s, p) => s + p.deletions.reduce((t, d) => t + d.bytes, 0), 0),
  };
  assertSafe(plan);
  return plan;
}

/** The invariant every plan must hold, checked on every plan (a bug here must stop, never delete). */
export function assertSafe(plan: RetentionPlan): void {
  const kept = new Set(
    plan.tags.filter((t) => t.action === 'keep').map((t) => `${t.repository}@${t.digest}`),
  );
  for (const d of plan.deletions) {
    for (const digest of [d.digest, ...d.artifacts.map((a) => a.digest)]) {
      if (kept.has(`${d.repository}@${digest}`)) {
        throw new AiboxError({
          code: 'INTERNAL',
          message: `retention plan would delete ${d.repository}@${digest}, which a kept tag points at`,
          hint: 'nothing was deleted; report this as a bug with `aiboxctl retention plan --json`',
        });
      }
    }
  }
}

/** The tags a repository may lose at most: `--max-delete N`, else `maxDeletePercent` of its judged tags. */
export function deleteLimit(
  summary: RepositorySummary,
  maxDeletePercent: number,
  maxDelete?: number,
): number {
  if (summary.role === 'staging') return Infinity;
  return maxDelete ?? Math.floor((summary.tags * maxDeletePercent) / 100);
}
