/**
 * Retention workflows on ports: gather what the pure plan needs from the registry (`ImageStore`),
 * plan, and apply the plan under the pipeline lock, recording every deletion in the audit log.
 * Apply is idempotent and safe to interrupt anywhere: it re-plans from the registry each time, a
 * digest already gone counts as deleted, a signature whose subject is gone is found again as an
 * orphan, and nothing a fresh plan keeps is ever touched. Batch semantics as podman auto-update:
 * keep going past a failed item and return `{ reports, errors }`.
 */
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CHANNEL_REPOSITORY } from '../channel/channel.js';
import {
  channelRepository,
  historyTag,
  listHistory,
  readChannel,
  readChannelIfPresent,
} from '../channel/store.js';
import { parseManifest } from '../oci/manifest.js';
import { mapConcurrent } from '../oci/pool.js';
import type { Reference } from '../oci/reference.js';
import type { ImageStore } from '../oci/store.js';
import { parseTag } from '../tags/tags.js';
import {
  artifactSubject,
  deleteLimit,
  planRetention,
  type DigestDeletion,
  type PlanChannel,
  type PlanInput,
  type PlanRepository,
  type PlanTag,
  type RetentionPlan,
} from './plan.js';
import { ruleKind, ruleSelects, type RetentionConfig } from './rules.js';

/** The repository of the CVE records (issue 9), beside the channel: never cleaned. */
export const CVE_RECORDS_REPOSITORY = 'cve-records';

/** One line of the audit log (JSONL): what was deleted (or tried), where, why, by which run. */
export interface AuditEntry {
  readonly at: string;
  readonly runId: string;
  readonly event: 'delete-start' | 'deleted' | 'already-gone' | 'failed';
  readonly registry: string;
  readonly repository: string;
  readonly digest: string;
  readonly tags: readonly string[];
  readonly kind: 'image' | 'signature' | 'referrers-index' | 'referrer' | 'tag';
  readonly reason: string;
  readonly error?: string;
}

/** Where deletions are recorded (a JSONL file in the data dir; `audit-file.ts`). Throws when it cannot record. */
export interface RetentionAudit {
  append(entry: AuditEntry): Promise<void>;
}

export interface RetentionDeps {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  readonly config: RetentionConfig;
  /** Variant name → tag prefix (the repositories retention manages). */
  readonly variants: Readonly<Record<string, { readonly tagPrefix: string }>>;
  readonly now: () => Date;
  readonly logger: Logger;
  /**
   * Delete one tag alone, keeping its digest (Harbor's REST API; slice `harbor` provides it). Absent on
   * plain OCI registries, where a tag goes only with its digest.
   */
  readonly deleteTag?: (ref: Reference & { readonly tag: string }) => Promise<void>;
  /** Requests in flight: gathering (default 32, as the client), deleting (default 8). */
  readonly concurrency?: number;
}

export interface ApplyDeps extends RetentionDeps {
  readonly audit: RetentionAudit;
  /** Take the pipeline lock (the same one `rebuild`/`promote` take); released when apply ends. */
  readonly lock: () => Promise<{ release(): Promise<void> }>;
  readonly runId: string;
  /** Progress lines on long work (stderr). */
  readonly progress?: (line: string) => void;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

function notFound(e: unknown): boolean {
  return isAiboxError(e, 'NOT_FOUND');
}

async function listOrEmpty(store: ImageStore, ref: Reference): Promise<string[]> {
  return store.listTags(ref).catch((e: unknown) => {
    if (notFound(e)) return [] as string[];
    throw e;
  });
}

/** The image's created time: the manifest annotation, else the config's `created` (undefined when neither). */
async function readCreated(
  store: ImageStore,
  ref: Reference & { digest: string },
): Promise<string | undefined> {
  const got = await store.getManifest(ref);
  const parsed = parseManifest(got.bytes, got.descriptor.mediaType);
  const annotated = (parsed.kind === 'manifest' ? parsed.manifest.annotations : parsed.index.annotations)?.[
    'org.opencontainers.image.created'
  ];
  if (annotated !== undefined) return annotated;
  if (parsed.kind !== 'manifest') return undefined;
  const bytes = await store.getBlob(ref, parsed.manifest.config.digest, { maxBytes: MAX_CONFIG_BYTES });
  try {
    const created = (JSON.parse(new TextDecoder().decode(bytes)) as { created?: unknown }).created;
    return typeof created === 'string' ? created : undefined;
  } catch {
    return undefined;
  }
}

async function readChannels(deps: RetentionDeps): Promise<PlanChannel[]> {
  const repo = channelRepository(deps.host, deps.project);
  const out: PlanChannel[] = [];
  const toPlan = (
    c: { channel: { sequence: number; variants: PlanChannel['variants'] } },
    source: string,
  ) => ({
    sequence: c.channel.sequence,
    source,
    variants: c.channel.variants,
  });
  const current = await readChannelIfPresent(deps.store, repo);
  if (current) out.push(toPlan(current, 'current'));
  const seqs = (await listHistory(deps.store, repo)).slice(0, deps.config.keepChannelSequences);
  for (const n of seqs) {
    try {
      out.push(toPlan(await readChannel(deps.store, repo, { tag: historyTag(n) }), historyTag(n)));
    } catch (e: unknown) {
      throw new AiboxError({
        code: 'CHANNEL_INVALID',
        message: `cannot read channel history ${repo.repository}:${historyTag(n)}: ${describeError(e)}`,
        hint: 'retention will not run without knowing every rollback target; repair the history entry (aiboxctl channel repair) or lower retention.keepChannelSequences',
        cause: e,
      });
    }
  }
  return out;
}

/** Which tags of a variant repository need the image's created time: outside the scheme and aged by a rule, or floor candidates. */
function needsCreated(
  tag: string,
  prefix: string,
  config: RetentionConfig,
  floorDay: string | undefined,
): boolean {
  let date: string | undefined;
  try {
    date = parseTag(tag, prefix).date;
  } catch {
    return config.rules.some((r) => ruleKind(r) !== 'always' && ruleSelects(r, tag));
  }
  return floorDay !== undefined && date === floorDay;
}

/** Gather the plan's input from the registry: tags + digests of every managed repository, the channel, the floors. */
export async function gatherPlanInput(deps: RetentionDeps): Promise<PlanInput> {
  const width = deps.concurrency ?? 32;
  const channels = await readChannels(deps);
  const current = channels.find((c) => c.source === 'current');
  const repos: { repository: string; role: PlanRepository['role']; variant?: string; prefix?: string }[] = [];
  for (const [variant, v] of Object.entries(deps.variants)) {
    repos.push({ repository: `${deps.project}/${variant}`, role: 'variant', variant, prefix: v.tagPrefix });
    repos.push({
      repository: `${deps.project}/staging/${variant}`,
      role: 'staging',
      variant,
      prefix: v.tagPrefix,
    });
  }
  for (const r of [CHANNEL_REPOSITORY, CVE_RECORDS_REPOSITORY])
    repos.push({ repository: `${deps.project}/${r}`, role: 'protected' });
  const lists = await Promise.all(
    repos.map(async (r) => ({
      ...r,
      names: await listOrEmpty(deps.store, { registry: deps.host, repository: r.repository }),
    })),
  );
  const flat = lists.flatMap((l) => l.names.map((tag) => ({ l, tag })));
  const heads = await mapConcurrent(flat, width, async ({ l, tag }) => {
    const d = await deps.store.headManifest({ registry: deps.host, repository: l.repository, tag });
    return d ? { tag, digest: d.digest, size: d.size } : undefined; // a tag deleted meanwhile is simply not there
  });
  const byRepo = new Map<string, PlanTag[]>();
  flat.forEach(({ l }, i) => {
    const h = heads[i];
    if (h) byRepo.set(l.repository, [...(byRepo.get(l.repository) ?? []), h]);
  });
  const out: PlanRepository[] = [];
  for (const l of lists) {
    const ref = { registry: deps.host, repository: l.repository };
    let tags = byRepo.get(l.repository) ?? [];
    if (l.role === 'variant' && l.prefix !== undefined) {
      const floor = l.variant !== undefined ? current?.variants[l.variant] : undefined;
      const floorDay = floor?.minImageDate ?? floor?.minImageCreated?.slice(0, 10) ?? undefined;
      const prefix = l.prefix;
      tags = await mapConcurrent(tags, width, async (t) => {
        if (artifactSubject(t.tag) !== undefined || !needsCreated(t.tag, prefix, deps.config, floorDay))
          return t;
        const created = await readCreated(deps.store, { ...ref, digest: t.digest }).catch((e: unknown) => {
          if (notFound(e)) return undefined;
          throw e;
        });
        return created !== undefined ? { ...t, created } : t;
      });
    }
    // Artifact tags whose subject has no tag here: is the subject still there (untagged) or gone (orphan)?
    const tagged = new Set(tags.map((t) => t.digest));
    const subjects = [
      ...new Set(tags.map((t) => artifactSubject(t.tag)).filter((s): s is string => s !== undefined)),
    ].filter((s) => !tagged.has(s));
    const absent = (
      await mapConcurrent(subjects, width, async (s) =>
        (await deps.store.headManifest({ ...ref, digest: s })) ? undefined : s,
      )
    ).filter((s): s is string => s !== undefined);
    out.push({
      repository: l.repository,
      role: l.role,
      ...(l.variant !== undefined ? { variant: l.variant } : {}),
      ...(l.prefix !== undefined ? { prefix: l.prefix } : {}),
      tags,
      ...(absent.length ? { absentSubjects: absent } : {}),
    });
  }
  return {
    repositories: out,
    channels,
    config: deps.config,
    now: deps.now(),
    tagDelete: deps.deleteTag !== undefined,
  };
}

/**
 * Referrers of the digests a first plan deletes: through the referrers API where the registry has it
 * (asked once per repository first), else only for subjects with a `sha256-<hex>` index tag (the tag
 * list already says which), so a registry without the API costs no request per digest.
 */
async function referrersOf(deps: RetentionDeps, input: PlanInput, first: RetentionPlan): Promise<PlanInput> {
  const width = deps.concurrency ?? 32;
  const repos = await Promise.all(
    input.repositories.map(async (r) => {
      const doomed = first.deletions.filter(
        (d) => d.repository === r.repository && artifactSubject(d.tags[0] ?? '') === undefined,
      );
      if (doomed.length === 0) return r;
      const ref = { registry: deps.host, repository: r.repository };
      const indexTags = new Set(r.tags.map((t) => t.tag).filter((t) => /^sha256-[0-9a-f]{64}$/.test(t)));
      const probe = await deps.store.referrers({ ...ref, digest: doomed[0]?.digest ?? '' });
      const api = probe.source === 'api';
      const ask = doomed.filter((d, i) => i === 0 || api || indexTags.has(d.digest.replace(':', '-')));
      const found: Record<string, string[]> = {};
      await mapConcurrent(ask, width, async (d) => {
        const got = d === doomed[0] ? probe : await deps.store.referrers({ ...ref, digest: d.digest });
        if (got.descriptors.length) found[d.digest] = got.descriptors.map((x) => x.digest);
      });
      return Object.keys(found).length ? { ...r, referrers: found } : r;
    }),
  );
  return { ...input, repositories: repos };
}

/** Gather and plan (a dry run: nothing is changed). */
export async function buildRetentionPlan(
  deps: RetentionDeps,
): Promise<{ plan: RetentionPlan; input: PlanInput }> {
  const gathered = await gatherPlanInput(deps);
  const first = planRetention(gathered);
  const input = first.deletions.length ? await referrersOf(deps, gathered, first) : gathered;
  return { plan: input === gathered ? first : planRetention(input), input };
}

export interface DeletionReport {
  readonly repository: string;
  readonly digest: string;
  readonly tags: readonly string[];
  readonly kind: AuditEntry['kind'];
  readonly status: 'pending' | 'deleted' | 'already-gone' | 'failed';
  readonly error?: string;
}

export interface ApplyResult {
  readonly plan: RetentionPlan;
  readonly applied: boolean;
  readonly reports: readonly DeletionReport[];
  readonly errors: readonly {
    readonly repository: string;
    readonly digest: string;
    readonly message: string;
  }[];
}

/** Repositories whose planned deletes exceed the limit (`--max-delete N`, else `maxDeletePercent`). */
export function overLimit(plan: RetentionPlan, maxDeletePercent: number, maxDelete?: number) {
  return plan.repositories
    .map((s) => ({ ...s, limit: deleteLimit(s, maxDeletePercent, maxDelete) }))
    .filter((s) => s.delete > s.limit);
}

/**
 * Apply retention: under the pipeline lock, re-plan from the registry, refuse past the delete limit,
 * then (with `yes`) delete every planned digest (its tags go with it) and after it its artifacts, and
 * tags alone where the registry can. Without `yes` the plan is returned as `pending` (a dry run).
 */
export async function applyRetention(
  deps: ApplyDeps,
  opts: { readonly yes: boolean; readonly maxDelete?: number },
): Promise<ApplyResult> {
  const lock = await deps.lock();
  try {
    const { plan } = await buildRetentionPlan(deps);
    const over = overLimit(plan, deps.config.maxDeletePercent, opts.maxDelete);
    if (over.length > 0) {
      throw new AiboxError({
        code: 'POLICY_REFUSED',
        message: `refusing to delete ${over.map((o) => `${o.delete} of ${o.tags} tags in ${o.repository} (limit ${o.limit})`).join(', ')}`,
        hint: `nothing was deleted. Check the plan (aiboxctl retention plan); if it is right, allow it explicitly with --max-delete ${Math.max(...over.map((o) => o.delete))}`,
        details: {
          over: over.map((o) => ({
            repository: o.repository,
            delete: o.delete,
            tags: o.tags,
            limit: o.limit,
          })),
        },
      });
    }
    const units = [
      ...plan.deletions.map((d) => ({ d, tagOnly: undefined })),
      ...plan.tagDeletions.map((t) => ({ d: undefined, tagOnly: t })),
    ];
    if (!opts.yes) {
      const reports: DeletionReport[] = [
        ...plan.deletions.map((d): DeletionReport => ({
          repository: d.repository,
          digest: d.digest,
          tags: d.tags,
          kind: 'image',
          status: 'pending',
        })),
        ...plan.tagDeletions.map((t): DeletionReport => ({
          repository: t.repository,
          digest: t.digest,
          tags: [t.tag],
          kind: 'tag',
          status: 'pending',
        })),
      ];
      return { plan, applied: false, reports, errors: [] };
    }
    await assertUnmoved(deps, plan);
    const reports: DeletionReport[] = [];
    const errors: { repository: string; digest: string; message: string }[] = [];
    let done = 0;
    const step = Math.max(1, Math.ceil(units.length / 20));
    await mapConcurrent(units, deps.concurrency ?? 8, async (u) => {
      if (u.d) await deleteUnit(deps, u.d, reports, errors);
      else await deleteTagOnly(deps, u.tagOnly, reports, errors);
      done++;
      if (deps.progress && (done % step === 0 || done === units.length))
        deps.progress(`retention: ${done}/${units.length} deletions`);
    });
    return { plan, applied: true, reports, errors };
  } finally {
    await lock.release();
  }
}

/**
 * The pipeline lock serialises runs on this host; a promotion from another CI runner could still have
 * moved `latest` or the channel since the plan was made. Both are checked once more right before the
 * first delete, and a move stops the run with nothing deleted (the next run plans on the new state).
 */
async function assertUnmoved(deps: RetentionDeps, plan: RetentionPlan): Promise<void> {
  const watched = plan.tags.filter(
    (t) =>
      (t.tag === 'latest' &&
        plan.repositories.some((r) => r.repository === t.repository && r.role === 'variant')) ||
      (t.tag === 'current' && t.repository === `${deps.project}/${CHANNEL_REPOSITORY}`),
  );
  const moved = (
    await Promise.all(
      watched.map(async (t) => {
        const now = await deps.store.headManifest({
          registry: deps.host,
          repository: t.repository,
          tag: t.tag,
        });
        return now?.digest === t.digest
          ? undefined
          : `${t.repository}:${t.tag} (${t.digest} -> ${now?.digest ?? 'gone'})`;
      }),
    )
  ).filter((m): m is string => m !== undefined);
  if (moved.length > 0) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: `refusing to delete: ${moved.join(', ')} moved since the plan was made`,
      hint: 'nothing was deleted; another publisher is at work. Re-run `aiboxctl retention apply --yes` when it is done',
      details: { moved },
    });
  }
}

type Sink = { reports: DeletionReport[]; errors: { repository: string; digest: string; message: string }[] };

async function deleteOne(
  deps: ApplyDeps,
  what: {
    repository: string;
    digest: string;
    tags: readonly string[];
    kind: AuditEntry['kind'];
    reason: string;
  },
  sink: Sink,
  remove: () => Promise<void>,
): Promise<boolean> {
  const entry = (event: AuditEntry['event'], error?: string): AuditEntry => ({
    at: deps.now().toISOString(),
    runId: deps.runId,
    event,
    registry: deps.host,
    ...what,
    ...(error !== undefined ? { error } : {}),
  });
  // Recorded before it happens: a crash right after the delete still leaves its trace.
  await deps.audit.append(entry('delete-start'));
  let status: DeletionReport['status'] = 'deleted';
  let error: string | undefined;
  try {
    await remove();
  } catch (e: unknown) {
    if (notFound(e)) status = 'already-gone';
    else {
      status = 'failed';
      error = describeError(e);
    }
  }
  await deps.audit.append(entry(status === 'failed' ? 'failed' : status, error));
  sink.reports.push({
    repository: what.repository,
    digest: what.digest,
    tags: what.tags,
    kind: what.kind,
    status,
    ...(error !== undefined ? { error } : {}),
  });
  if (error !== undefined)
    sink.errors.push({ repository: what.repository, digest: what.digest, message: error });
  return status !== 'failed';
}

async function deleteUnit(
  deps: ApplyDeps,
  d: DigestDeletion,
  reports: DeletionReport[],
  errors: Sink['errors'],
): Promise<void> {
  const sink = { reports, errors };
  const ref = { registry: deps.host, repository: d.repository };
  const orphan = d.reason.code === 'orphan-artifact';
  const ok = await deleteOne(
    deps,
    {
      repository: d.repository,
      digest: d.digest,
      tags: d.tags,
      kind: orphan ? 'signature' : 'image',
      reason: d.reason.text,
    },
    sink,
    () => deps.store.deleteManifest({ ...ref, digest: d.digest }),
  );
  // Artifacts only after their subject is gone: a failure in between leaves an orphan the next plan finds.
  if (!ok) return;
  for (const a of d.artifacts) {
    await deleteOne(
      deps,
      {
        repository: d.repository,
        digest: a.digest,
        tags: a.tag !== undefined ? [a.tag] : [],
        kind: a.kind,
        reason: `attached to ${d.digest}`,
      },
      sink,
      () => deps.store.deleteManifest({ ...ref, digest: a.digest }),
    );
  }
}

async function deleteTagOnly(
  deps: ApplyDeps,
  t: { repository: string; tag: string; digest: string },
  reports: DeletionReport[],
  errors: Sink['errors'],
): Promise<void> {
  const deleteTag = deps.deleteTag;
  if (!deleteTag) return;
  await deleteOne(
    deps,
    {
      repository: t.repository,
      digest: t.digest,
      tags: [t.tag],
      kind: 'tag',
      reason: 'no rule keeps it (its digest stays for another tag)',
    },
    { reports, errors },
    // The digest the plan saw the tag on: Harbor deletes the tag from exactly that artifact (404 if it moved).
    () => deleteTag({ registry: deps.host, repository: t.repository, tag: t.tag, digest: t.digest }),
  );
}
