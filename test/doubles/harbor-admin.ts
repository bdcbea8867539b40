/**
 * The retention, GC and quota part of the Harbor double, written from Harbor's swagger and handlers
 * (reference/harbor.md §5-§7; goharbor/harbor v2.15.2 `api/v2.0/swagger.yaml` `RetentionPolicy` L8321,
 * `RetentionRule` L8359, `RetentionSelector` L8387, `Schedule` L8167, `GCHistory` L8105, `ProjectSummary` L7357;
 * `src/server/v2.0/handler/retention.go`, `gc.go`; `src/common/utils/utils.go` L295-L313 for crons):
 *   GET  /api/v2.0/projects/{p}                     → Project (project_id, metadata.retention_id)
 *   GET  /api/v2.0/projects/{p}/summary             → ProjectSummary (quota.hard/used.storage)
 *   POST /api/v2.0/retentions                       → 201 Location /api/v2.0/retentions/{id}; 400 if the project has one
 *   GET  /api/v2.0/retentions/{id}, PUT (full body) → RetentionPolicy (rules get id and priority, as Harbor's do)
 *   GET  /api/v2.0/system/gc/schedule               → empty 200 when none, else the GCHistory-shaped schedule
 *   POST /api/v2.0/system/gc/schedule (201), PUT (200)
 *   GET  /api/v2.0/system/gc?page&page_size&sort    → []GCHistory, X-Total-Count
 *   DELETE /api/v2.0/projects/{p}/repositories/{r}/artifacts/{digest}/tags/{tag} → 200; 404 when that tag is not on
 *        that artifact; 412 when immutable (handler artifact.go L280-L318; `r` double-encoded as everywhere)
 * Bodies are validated as Harbor validates them (algorithm "or", scope level project, ≤ 15 rules, known templates,
 * doublestar selectors, six-field crons with seconds 0, GC types and workers 1-10), so a wrong body fails here as
 * it would there.
 */

export interface AdminAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface GcHistoryEntry {
  readonly id: number;
  readonly status: 'Pending' | 'Running' | 'Stopped' | 'Error' | 'Success';
  readonly trigger?: 'MANUAL' | 'SCHEDULE';
  readonly created: string;
  readonly updated?: string;
  readonly dryRun?: boolean;
}

export interface AdminState {
  readonly projectId: number;
  retentionId: number | null;
  readonly policies: Map<number, Record<string, unknown>>;
  gcSchedule: { type: string; cron: string; parameters: Record<string, unknown> } | null;
  gcHistory: GcHistoryEntry[];
  quota: { hard: number; used: number } | null;
  nextId: number;
  /** Tags per artifact, keyed "<repository without project>@<digest>" (for tag deletes). */
  tagsOn: Map<string, Set<string>>;
  /** Tags an immutability rule protects (412 on delete). */
  immutable: Set<string>;
}

export function newAdminState(projectId = 2): AdminState {
  return {
    projectId,
    retentionId: null,
    policies: new Map(),
    gcSchedule: null,
    gcHistory: [],
    quota: { hard: 107374182400, used: 21474836480 },
    nextId: 1,
    tagsOn: new Map(),
    immutable: new Set(),
  };
}

const TEMPLATES = new Set([
  'latestPushedK',
  'latestPulledN',
  'nDaysSinceLastPush',
  'nDaysSinceLastPull',
  'always',
  'latestActiveK',
  'lastXDays',
]);
const GC_TYPES = new Set(['Manual', 'None', 'Hourly', 'Daily', 'Weekly', 'Custom']);

const err = (status: number, code: string, message: string): AdminAnswer => ({
  status,
  body: { errors: [{ code, message }] },
});

/** Harbor's ValidateCronString: six fields, seconds "0" (robfig/cron with seconds; a coarse field check here). */
function validCron(cron: string): boolean {
  const f = cron.trim().split(/\s+/);
  if (f.length !== 6 || f[0] !== '0') return false;
  return f.slice(1).every((x) => /^[0-9A-Za-z*?,/-]+$/.test(x));
}

function policyProblem(p: Record<string, unknown>, projectId: number): string | null {
  if (p['algorithm'] !== 'or') return 'algorithm must be "or"';
  const scope = (p['scope'] ?? {}) as Record<string, unknown>;
  if (scope['level'] !== 'project') return 'scope level must be project';
  if (scope['ref'] !== projectId) return `scope ref ${String(scope['ref'])} is not project ${projectId}`;
  const trigger = (p['trigger'] ?? {}) as { kind?: unknown; settings?: { cron?: unknown } };
  if (trigger.kind !== 'Schedule') return 'trigger kind must be Schedule';
  const cron = trigger.settings?.cron;
  if (typeof cron !== 'string') return 'trigger settings.cron missing';
  if (cron !== '' && !validCron(cron)) return `invalid cron "${cron}"`;
  const rules = p['rules'];
  if (!Array.isArray(rules)) return 'rules missing';
  if (rules.length > 15) return 'at most 15 rules';
  const seen = new Set<string>();
  for (const r of rules as Record<string, unknown>[]) {
    if (r['action'] !== 'retain') return 'rule action must be retain';
    if (typeof r['template'] !== 'string' || !TEMPLATES.has(r['template'])) return `unknown template`;
    const tags = r['tag_selectors'];
    if (!Array.isArray(tags) || tags.length === 0) return 'tag_selectors missing';
    for (const s of tags as Record<string, unknown>[]) {
      if (s['kind'] !== 'doublestar') return 'tag selector kind must be doublestar';
      if (s['decoration'] !== 'matches' && s['decoration'] !== 'excludes') return 'bad tag decoration';
      if (typeof s['pattern'] !== 'string') return 'tag pattern missing';
      if (s['extras'] !== undefined && typeof s['extras'] !== 'string') return 'extras must be a JSON string';
    }
    const repos = ((r['scope_selectors'] ?? {}) as { repository?: unknown }).repository;
    if (!Array.isArray(repos) || repos.length === 0) return 'scope_selectors.repository missing';
    for (const s of repos as Record<string, unknown>[]) {
      if (s['kind'] !== 'doublestar') return 'repository selector kind must be doublestar';
      if (s['decoration'] !== 'repoMatches' && s['decoration'] !== 'repoExcludes')
        return 'bad repo decoration';
    }
    const key = JSON.stringify([r['template'], r['params'], r['tag_selectors'], r['scope_selectors']]);
    if (seen.has(key)) return 'CONFLICT';
    seen.add(key);
  }
  return null;
}

function stored(id: number, p: Record<string, unknown>): Record<string, unknown> {
  const rules = (p['rules'] as Record<string, unknown>[]).map((r, i) => ({ id: i + 1, priority: 0, ...r }));
  return { ...p, id, rules };
}

function gcHistoryJson(e: GcHistoryEntry) {
  const trigger = e.trigger ?? 'SCHEDULE';
  return {
    id: e.id,
    job_name: 'GARBAGE_COLLECTION',
    job_kind: trigger,
    job_parameters: JSON.stringify({
      delete_untagged: true,
      dry_run: e.dryRun ?? false,
      time_window: 2,
      workers: 1,
    }),
    schedule: {
      type: trigger === 'MANUAL' ? 'Manual' : 'Schedule',
      cron: '',
      next_scheduled_time: '0001-01-01T00:00:00.000Z',
    },
    job_status: e.status,
    deleted: false,
    creation_time: e.created,
    update_time: e.updated ?? e.created,
  };
}

/** Answer an admin route, or undefined when the path is not one. `project` is the double's project. */
export function adminRoute(
  state: AdminState,
  project: string,
  method: string,
  rawPath: string,
  query: URLSearchParams,
  body: string,
): AdminAnswer | undefined {
  const p = rawPath.replace(/^\/api\/v2\.0/, '');
  if (p === rawPath) return undefined;
  const json = (): Record<string, unknown> | null => {
    try {
      const v = JSON.parse(body) as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  if (p === `/projects/${encodeURIComponent(project)}` && method === 'GET') {
    return {
      status: 200,
      body: {
        project_id: state.projectId,
        name: project,
        owner_id: 1,
        repo_count: 5,
        metadata: {
          public: 'false',
          ...(state.retentionId !== null ? { retention_id: String(state.retentionId) } : {}),
        },
      },
    };
  }
  if (p === `/projects/${encodeURIComponent(project)}/summary` && method === 'GET') {
    return {
      status: 200,
      body: {
        repo_count: 5,
        project_admin_count: 1,
        ...(state.quota
          ? { quota: { hard: { storage: state.quota.hard }, used: { storage: state.quota.used } } }
          : {}),
      },
    };
  }
  const td = /^\/projects\/([^/]+)\/repositories\/([^/]+)\/artifacts\/([^/]+)\/tags\/([^/]+)$/.exec(p);
  if (td && method === 'DELETE') {
    const once = decodeURIComponent(td[2] ?? '');
    if (decodeURIComponent(td[1] ?? '') !== project || once.includes('/'))
      return err(404, 'NOT_FOUND', `no route for ${rawPath}`);
    const key = `${decodeURIComponent(once)}@${decodeURIComponent(td[3] ?? '')}`;
    const tag = decodeURIComponent(td[4] ?? '');
    const tags = state.tagsOn.get(key);
    if (!tags?.has(tag)) return err(404, 'NOT_FOUND', `tag ${tag} not found on ${key}`);
    if (state.immutable.has(tag))
      return err(412, 'PRECONDITION', `the tag ${tag} is immutable, cannot be deleted`);
    tags.delete(tag);
    return { status: 200 };
  }
  if (p === '/retentions' && method === 'POST') {
    const b = json();
    if (!b) return err(400, 'BAD_REQUEST', 'invalid JSON');
    const problem = policyProblem(b, state.projectId);
    if (problem === 'CONFLICT') return err(409, 'CONFLICT', 'rule conflicts');
    if (problem) return err(400, 'BAD_REQUEST', problem);
    if (state.retentionId !== null)
      return err(
        400,
        'BAD_REQUEST',
        `project ${state.projectId} already has retention policy ${state.retentionId}`,
      );
    const id = state.nextId++;
    state.policies.set(id, stored(id, b));
    state.retentionId = id;
    return { status: 201, headers: { location: `/api/v2.0/retentions/${id}` } };
  }
  const rm = /^\/retentions\/(\d+)$/.exec(p);
  if (rm) {
    const id = Number(rm[1]);
    const cur = state.policies.get(id);
    if (!cur) return err(404, 'NOT_FOUND', `retention ${id} not found`);
    if (method === 'GET') return { status: 200, body: cur };
    if (method === 'PUT') {
      const b = json();
      if (!b) return err(400, 'BAD_REQUEST', 'invalid JSON');
      const problem = policyProblem(b, state.projectId);
      if (problem === 'CONFLICT') return err(409, 'CONFLICT', 'rule conflicts');
      if (problem) return err(400, 'BAD_REQUEST', problem);
      state.policies.set(id, stored(id, b));
      return { status: 200 };
    }
    return err(405, 'METHOD_NOT_ALLOWED', method);
  }
  if (p === '/system/gc/schedule') {
    if (method === 'GET') {
      const s = state.gcSchedule;
      if (!s || s.type === 'None') return { status: 200 };
      return {
        status: 200,
        body: {
          id: 1,
          job_name: '',
          job_kind: s.cron,
          job_parameters: JSON.stringify({ ...s.parameters, time_window: 2 }),
          job_status: '',
          deleted: false,
          schedule: { type: s.type, cron: s.cron, next_scheduled_time: '2026-12-07T04:00:00.000Z' },
          creation_time: '2026-11-30T04:00:00Z',
          update_time: '2026-11-30T04:00:00Z',
        },
      };
    }
    if (method === 'POST' || method === 'PUT') {
      const b = json();
      if (!b) return err(400, 'BAD_REQUEST', 'invalid JSON');
      const sch = (b['schedule'] ?? {}) as { type?: unknown; cron?: unknown };
      const params = (b['parameters'] ?? {}) as Record<string, unknown>;
      if (typeof sch.type !== 'string' || !GC_TYPES.has(sch.type))
        return err(400, 'BAD_REQUEST', `unsupported schedule type ${String(sch.type)}`);
      if (
        sch.type !== 'Manual' &&
        sch.type !== 'None' &&
        (typeof sch.cron !== 'string' || !validCron(sch.cron))
      )
        return err(400, 'BAD_REQUEST', `invalid cron ${String(sch.cron)}`);
      const w = params['workers'];
      if (w !== undefined && (typeof w !== 'number' || w < 1 || w > 10))
        return err(400, 'BAD_REQUEST', 'workers must be 1-10');
      const exists = state.gcSchedule !== null && state.gcSchedule.type !== 'None';
      if (method === 'POST' && exists && sch.type !== 'Manual')
        return err(409, 'CONFLICT', 'a GC schedule already exists; update it');
      if (method === 'PUT' && !exists) return err(404, 'NOT_FOUND', 'no GC schedule to update');
      if (sch.type === 'Manual') {
        const id = state.nextId++;
        state.gcHistory.unshift({
          id,
          status: 'Pending',
          trigger: 'MANUAL',
          created: '2026-12-01T00:00:00Z',
        });
        return { status: 201, headers: { location: `/api/v2.0/system/gc/${id}` } };
      }
      state.gcSchedule = {
        type: sch.type,
        cron: typeof sch.cron === 'string' ? sch.cron : '',
        parameters: params,
      };
      return { status: method === 'POST' ? 201 : 200 };
    }
    return err(405, 'METHOD_NOT_ALLOWED', method);
  }
  if (p === '/system/gc' && method === 'GET') {
    const page = Number(query.get('page') ?? '1');
    const size = Math.min(Number(query.get('page_size') ?? '10'), 100);
    const sorted = [...state.gcHistory].sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    return {
      status: 200,
      body: sorted.slice((page - 1) * size, page * size).map(gcHistoryJson),
      headers: { 'x-total-count': String(sorted.length) },
    };
  }
  return undefined;
}
