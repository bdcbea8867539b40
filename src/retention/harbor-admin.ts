/**
 * Harbor's retention, GC and quota endpoints (reference/harbor.md §5-§7) and the three workflows on them:
 * `retention sync-harbor` (create or update the project's policy, diff first), `gc schedule` and `gc status`.
 * Every request goes through the one Harbor transport (src/scan/harbor-transport.ts: Basic auth, no cookies, no
 * redirects, retries of idempotent calls, `{"errors":[…]}` bodies, redaction); this module only receives it.
 */
import {
  channelRepository,
  historyTag,
  listHistory,
  readChannel,
  readChannelIfPresent,
  type ChannelRegistryWithTags,
} from '../channel/store.js';
import { AiboxError } from '../core/errors.js';
import type { Reference } from '../oci/reference.js';
import {
  harborRepositorySegment,
  type HarborMethod,
  type HarborRequest,
  type HarborResponse,
} from '../scan/harbor-transport.js';
import {
  diffPolicy,
  gcHealth,
  harborPolicy,
  toHarborCron,
  type GcHealth,
  type GcRun,
  type HarborPolicyInput,
  type HarborRetentionPolicy,
  type PolicyDiff,
} from './harbor-policy.js';

/** The Harbor transport's one method (the port this module is typed against). */
export interface HarborRequester {
  readonly baseUrl: string;
  request(method: HarborMethod, path: string, req: HarborRequest): Promise<HarborResponse>;
}

export const RETENTION_PERMISSIONS =
  'project:read and tag-retention:create, read, update and list on the project';
export const GC_PERMISSIONS = 'garbage-collection:read, list, create and update (system level)';
export const QUOTA_PERMISSIONS = 'project:read and quota:read on the project';

function unexpected(what: string, why: string): AiboxError {
  return new AiboxError({
    code: 'REGISTRY_ERROR',
    message: `Harbor's answer to ${what} is not what its API documents: ${why}`,
    hint: 'aibox expects the Harbor v2.0 REST API (Harbor 2.x); check the Harbor version',
  });
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Harbor's project: its numeric id and the id of its retention policy (metadata.retention_id), if any. */
export async function harborProject(
  t: HarborRequester,
  project: string,
): Promise<{ id: number; retentionId: number | null }> {
  const r = await t.request('GET', `/projects/${encodeURIComponent(project)}`, {
    expect: [200],
    permissions: RETENTION_PERMISSIONS,
  });
  const b = obj(r.body);
  const id = b['project_id'];
  if (typeof id !== 'number' || !Number.isInteger(id))
    throw unexpected(`GET /projects/${project}`, 'no project_id');
  const rid = obj(b['metadata'])['retention_id'];
  const n =
    typeof rid === 'string' && /^[1-9]\d{0,9}$/.test(rid)
      ? Number(rid)
      : typeof rid === 'number'
        ? rid
        : null;
  return { id, retentionId: n };
}

export interface SyncRequest extends Omit<HarborPolicyInput, 'projectId'> {
  readonly project: string;
  /** false: only show the diff. */
  readonly apply: boolean;
}

export interface SyncResult {
  readonly project: string;
  readonly policyId: number | null;
  readonly action: 'create' | 'update' | 'none';
  readonly status: 'pending' | 'applied' | 'unchanged';
  readonly diff: PolicyDiff;
  readonly policy: HarborRetentionPolicy;
}

/** Create or update the project's retention policy to match the rules; the diff is computed (and shown) first. */
export async function syncHarborRetention(t: HarborRequester, req: SyncRequest): Promise<SyncResult> {
  const p = await harborProject(t, req.project);
  const policy = harborPolicy({ ...req, projectId: p.id });
  let current: unknown = null;
  if (p.retentionId !== null) {
    const r = await t.request('GET', `/retentions/${p.retentionId}`, {
      expect: [200],
      permissions: RETENTION_PERMISSIONS,
    });
    current = r.body ?? null;
  }
  const diff = diffPolicy(current, policy);
  const action = diff.same ? 'none' : p.retentionId === null ? 'create' : 'update';
  const base = { project: req.project, action, diff, policy } as const;
  if (action === 'none') return { ...base, policyId: p.retentionId, status: 'unchanged' };
  if (!req.apply) return { ...base, policyId: p.retentionId, status: 'pending' };
  if (p.retentionId === null) {
    const r = await t.request('POST', '/retentions', {
      body: policy,
      expect: [201],
      permissions: RETENTION_PERMISSIONS,
    });
    const m = /\/retentions\/(\d+)$/.exec(r.location ?? '');
    return { ...base, policyId: m ? Number(m[1]) : null, status: 'applied' };
  }
  await t.request('PUT', `/retentions/${p.retentionId}`, {
    body: { ...policy, id: p.retentionId },
    expect: [200],
    permissions: RETENTION_PERMISSIONS,
  });
  return { ...base, policyId: p.retentionId, status: 'applied' };
}

/** Harbor's GC `Schedule` body as aibox sends it: `delete_untagged` always explicit (Harbor defaults it to true). */
export interface GcScheduleBody {
  readonly schedule: { readonly type: 'Custom'; readonly cron: string };
  readonly parameters: { readonly delete_untagged: boolean; readonly workers: number };
}

export interface GcScheduleResult {
  readonly cron: string;
  readonly previous: string | null;
  readonly body: GcScheduleBody;
  readonly method: 'POST' | 'PUT';
}

/** Set Harbor's GC schedule: the five-field cron converted to Harbor's six fields, `delete_untagged` explicit. */
export async function scheduleHarborGc(
  t: HarborRequester,
  req: { readonly cron: string; readonly deleteUntagged: boolean; readonly workers?: number },
): Promise<GcScheduleResult> {
  const cron = toHarborCron(req.cron);
  const workers = req.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 10) {
    throw new AiboxError({
      code: 'USAGE',
      message: `GC workers must be 1-10 (Harbor's limit), got ${workers}`,
      hint: 'e.g. --workers 2',
    });
  }
  const cur = await t.request('GET', '/system/gc/schedule', { expect: [200], permissions: GC_PERMISSIONS });
  const sched = obj(obj(cur.body)['schedule']);
  const type = sched['type'];
  // An empty 200 or type None means no schedule: create it; otherwise update it.
  const exists = typeof type === 'string' && type !== '' && type !== 'None';
  const previous = exists && typeof sched['cron'] === 'string' ? sched['cron'] : null;
  const body: GcScheduleBody = {
    schedule: { type: 'Custom', cron },
    parameters: { delete_untagged: req.deleteUntagged, workers },
  };
  const method = exists ? 'PUT' : 'POST';
  await t.request(method, '/system/gc/schedule', {
    body,
    expect: method === 'PUT' ? [200] : [201],
    permissions: GC_PERMISSIONS,
  });
  return { cron, previous, body, method };
}

function gcRun(v: unknown): GcRun | null {
  const r = obj(v);
  if (typeof r['id'] !== 'number' || typeof r['job_status'] !== 'string') return null;
  let params: Record<string, unknown> = {};
  try {
    params = obj(typeof r['job_parameters'] === 'string' ? JSON.parse(r['job_parameters']) : {});
  } catch {
    /* unparseable parameters: treated as defaults */
  }
  return {
    id: r['id'],
    status: r['job_status'],
    trigger: typeof r['job_kind'] === 'string' ? r['job_kind'] : '',
    created: typeof r['creation_time'] === 'string' ? r['creation_time'] : '',
    updated: typeof r['update_time'] === 'string' ? r['update_time'] : '',
    dryRun: params['dry_run'] === true,
    deleteUntagged: typeof params['delete_untagged'] === 'boolean' ? params['delete_untagged'] : null,
  };
}

export interface GcStatus extends GcHealth {
  readonly schedule: { readonly cron: string; readonly next: string | null } | null;
  readonly runs: readonly GcRun[];
}

/** GC history, schedule and the project's storage against its quota, judged by the runbook §4 alerts. */
export async function harborGcStatus(
  t: HarborRequester,
  req: { readonly project: string; readonly now: Date; readonly history?: number },
): Promise<GcStatus> {
  const hist = await t.request('GET', '/system/gc', {
    query: { page: '1', page_size: String(Math.min(req.history ?? 20, 100)), sort: '-creation_time' },
    expect: [200],
    permissions: GC_PERMISSIONS,
  });
  if (!Array.isArray(hist.body) && hist.body !== undefined) throw unexpected('GET /system/gc', 'not a list');
  const runs = ((hist.body as unknown[] | undefined) ?? []).map(gcRun).filter((r): r is GcRun => r !== null);
  const s = await t.request('GET', '/system/gc/schedule', { expect: [200], permissions: GC_PERMISSIONS });
  const sched = obj(obj(s.body)['schedule']);
  const cron = typeof sched['cron'] === 'string' && sched['cron'] !== '' ? sched['cron'] : null;
  const nextRaw = sched['next_scheduled_time'];
  const next = typeof nextRaw === 'string' && !nextRaw.startsWith('0001-') ? nextRaw : null;
  const sum = await t.request('GET', `/projects/${encodeURIComponent(req.project)}/summary`, {
    expect: [200],
    permissions: QUOTA_PERMISSIONS,
  });
  const q = obj(obj(sum.body)['quota']);
  const used = obj(q['used'])['storage'];
  const hard = obj(q['hard'])['storage'];
  const quota = typeof used === 'number' && typeof hard === 'number' ? { used, hard } : null;
  const health = gcHealth(runs, quota, req.now);
  const alerts = [...health.alerts];
  if (cron === null) alerts.push("no GC schedule is set (run 'aiboxctl gc schedule')");
  return { ...health, alerts, schedule: cron ? { cron, next } : null, runs };
}

/** What `aiboxctl retention sync-harbor` needs: the transport, the registry (for the channel) and the rules. */
export interface SyncHarborDeps {
  readonly harbor: HarborRequester;
  readonly store: ChannelRegistryWithTags;
  readonly host: string;
  readonly project: string;
}

/**
 * `retention sync-harbor` as one call: the tags the current channel names are pinned (an unverified read is
 * enough: a pin only keeps more), then the policy is diffed and, with apply, written.
 */
export async function runSyncHarbor(
  deps: SyncHarborDeps,
  req: Omit<SyncRequest, 'project' | 'pinnedTags'> & { readonly keepChannelSequences?: number },
): Promise<SyncResult & { readonly pinnedTags: readonly string[] }> {
  const repo = channelRepository(deps.host, deps.project);
  const tags = new Set<string>();
  const current = await readChannelIfPresent(deps.store, repo);
  for (const v of Object.values(current?.channel.variants ?? {})) tags.add(v.tag);
  // The last N history entries name the rollback targets (config retention.keepChannelSequences).
  for (const n of (await listHistory(deps.store, repo)).slice(0, req.keepChannelSequences ?? 0)) {
    const h = await readChannel(deps.store, repo, { tag: historyTag(n) });
    for (const v of Object.values(h.channel.variants)) tags.add(v.tag);
  }
  const pinnedTags = [...tags].sort();
  const r = await syncHarborRetention(deps.harbor, { ...req, project: deps.project, pinnedTags });
  return { ...r, pinnedTags };
}

export const TAG_DELETE_PERMISSIONS = 'tag:delete and artifact:read on the project';

/**
 * Delete one tag and keep its artifact, through Harbor's REST API (`DELETE .../artifacts/{digest}/tags/{tag}`,
 * harbor.md §4): the `deleteTag` seam of `retention apply`, which plain OCI registries cannot offer (a digest
 * delete removes every tag on it). The artifact is named by the digest the plan saw the tag on, so a tag that moved
 * since is not deleted from its new image (Harbor answers 404). A 404 for a tag already gone counts as done (a
 * re-run after an interruption converges); 412 (immutable tag) is an error naming the rule.
 */
export function harborTagDeleter(
  t: HarborRequester,
  project: string,
): (ref: Reference & { readonly tag: string }) => Promise<void> {
  return async (ref) => {
    const prefix = `${project}/`;
    if (!ref.repository.startsWith(prefix)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `cannot delete ${ref.repository}:${ref.tag} through Harbor: it is not in project "${project}"`,
        hint: 'retention only manages the configured registry project',
      });
    }
    const repo = harborRepositorySegment(ref.repository.slice(prefix.length));
    const artifact = encodeURIComponent(ref.digest ?? ref.tag);
    const path = `/projects/${encodeURIComponent(project)}/repositories/${repo}/artifacts/${artifact}/tags/${encodeURIComponent(ref.tag)}`;
    const r = await t.request('DELETE', path, {
      expect: [200, 404, 412],
      permissions: TAG_DELETE_PERMISSIONS,
    });
    if (r.status === 412) {
      throw new AiboxError({
        code: 'POLICY_REFUSED',
        message: `Harbor refused to delete ${ref.repository}:${ref.tag}: the tag is immutable (412)`,
        hint: "An immutability rule of the Harbor project protects it; exclude it from retention (retention.excludes) or change the project's tag immutability rules",
      });
    }
  };
}
