/**
 * The emergency rebuild (runbook §2, issue 9 §3) as one call: scan each variant's `latest` for the named CVEs,
 * build a targeted patch (`FROM <variant>@<latest digest>` + `apt-get install --only-upgrade`) or, with `--full`,
 * the weekly build, RE-SCAN and confirm every named CVE is gone, sign, push `<prefix>-YYYYMMDD-cve-<id>`, promote
 * `latest` through the weekly promotion (lock, resume, all-or-nothing, `channel:pending`), publish the channel and
 * raise the floor when the CVSS reaches `cve.mandatoryMinCvss`. Notices on start, completion, failure and floor.
 * Receives its ports (RunDeps); constructs none. The floor arithmetic is `floor.ts`, the input rules `request.ts`.
 */
import { join } from 'node:path';
import { AiboxError, describeError, internalError, isAiboxError } from '../core/errors.js';
import { mapLimited } from '../core/limit.js';
import type { SecurityFix } from '../core/labels.js';
import type { PlatformConfig } from '../config/schema.js';
import { resolveChannelBase } from '../channel/publisher.js';
import { describeImage } from '../inspect/describe.js';
import { emergencyNotice, type EmergencyNoticeInput } from '../notify/messages.js';
import { preferredCvss } from '../scan/cvss.js';
import type { Finding, ScanReport } from '../scan/report.js';
import type { Scanner } from '../scan/scanner.js';
import { formatTag, parseTag, repositoryFor } from '../tags/tags.js';
import { planRun, utcDate, type RunPlan, type VariantPlan } from '../pipeline/plan.js';
import { completePendingPromotion, type PromotionDeps } from '../pipeline/promote.js';
import { rebuild, type PatchBuild } from '../pipeline/rebuild.js';
import { newRunRecord, failureLine, type RunRecord } from '../pipeline/record.js';
import { newRunId, recordPath, saveCveRecordsCopy, saveRecord } from '../pipeline/records.js';
import { openPublisher, type RunDeps, type RunTarget } from '../pipeline/run.js';
import { registryFloors } from './floor-source.js';
import { updateCveRecords } from './record-store.js';
import { markFixed } from './records.js';
import {
  floorTime,
  mergeFixes,
  newFloor,
  raiseFloors,
  topFix,
  withDescendants,
  type Floor,
} from './floor.js';
import { parseEmergencyInput, type EmergencyInput } from './request.js';

/** The ports of an emergency rebuild: those of the weekly run. */
export type EmergencyDeps = RunDeps;

export interface EmergencyRequest {
  readonly cves: readonly string[];
  readonly cvss?: string | number | undefined;
  readonly packages: readonly string[];
  readonly variants: readonly string[];
  readonly full: boolean;
  readonly revision: string;
}

export interface EmergencyRun {
  /** `published`: new images and channel; `converged`: an earlier run's promotion was completed, nothing new. */
  readonly outcome: 'published' | 'converged';
  readonly runId: string;
  /** The CVEs, highest score first; the first names the tag. */
  readonly cves: readonly SecurityFix[];
  /** variant → what was built: `patch` (targeted), `rebuild` (FROM a rebuilt parent), `full`, or `earlier` (converged). */
  readonly variants: Record<
    string,
    { tag: string; digest: string; build: 'patch' | 'rebuild' | 'full' | 'earlier' }
  >;
  readonly channel?: { sequence: number; digest: string };
  /** The floor set by this run (CVSS ≥ threshold), with the variants it raised. */
  readonly floor?: { minImageCreated: string; mandatoryUpdate: boolean; variants: string[] };
  readonly mandatoryMinCvss: number;
  readonly record?: RunRecord;
  readonly recordPath?: string;
  /** Every notice and whether it was delivered (a failed notice never fails the rebuild). */
  readonly notices: { phase: EmergencyNoticeInput['phase']; delivered: boolean; error?: string }[];
  readonly warnings: readonly string[];
}

/** `cve.mandatoryMinCvss` (default 7.0, the runbook table): the one place the emergency reads the threshold. */
export function mandatoryMinCvss(config: PlatformConfig): number {
  return config.cve.mandatoryMinCvss;
}

/** Score of a finding when the scanner gives none: the lower bound of its severity's band (runbook §2 table). */
const SEVERITY_SCORE: Record<string, number> = { CRITICAL: 9.0, HIGH: 7.0, MEDIUM: 4.0, LOW: 0.1 };

function scoreOf(f: Finding): number {
  return preferredCvss(f) ?? SEVERITY_SCORE[f.severity] ?? 0;
}

/** The Containerfile of a targeted patch: upgrade only the named packages, then restore the image's user. */
export function patchContainerfile(
  cves: readonly string[],
  packages: readonly string[],
  user: string,
): string {
  return [
    `# aibox emergency patch for ${cves.join(', ')} (aiboxctl cve rebuild)`,
    'ARG BASE_IMAGE',
    'FROM ${BASE_IMAGE}',
    'USER root',
    'RUN apt-get update \\',
    ` && DEBIAN_FRONTEND=noninteractive apt-get install -y --only-upgrade ${packages.join(' ')} \\`,
    ' && apt-get clean \\',
    ' && rm -rf /var/lib/apt/lists/*',
    ...(user && user !== 'root' && user !== '0' ? [`USER ${user}`] : []),
    '',
  ].join('\n');
}

function refused(message: string, hint: string, details?: Record<string, unknown>): AiboxError {
  return new AiboxError({ code: 'POLICY_REFUSED', message, hint, ...(details ? { details } : {}) });
}

/** The emergency rebuild as one call; bad input throws USAGE before anything starts. */
export async function runEmergency(deps: EmergencyDeps, req: EmergencyRequest): Promise<EmergencyRun> {
  const { config } = deps;
  const names = Object.keys(config.variants);
  const input = parseEmergencyInput(req, names);
  if (config.scan.scanner === 'none') {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message:
        'cve rebuild needs a scanner: scan.scanner is "none", so no re-scan could confirm the CVE is gone',
      hint: 'Configure scan.scanner: trivy or harbor',
    });
  }
  const now = deps.now();
  const runId = newRunId(now);
  const notices: EmergencyRun['notices'] = [];
  const warnings: string[] = [];
  const notify = async (n: Omit<EmergencyNoticeInput, 'runId'>) => {
    if (!deps.notifier) return;
    try {
      await deps.notifier.notify(emergencyNotice({ ...n, runId }));
      notices.push({ phase: n.phase, delivered: true });
    } catch (e: unknown) {
      // Reported, never fatal: the Slack adapter already retried (429/5xx).
      const error = describeError(e);
      deps.logger.warn(`could not post the "${n.phase}" notice: ${error}`);
      notices.push({ phase: n.phase, delivered: false, error });
    }
  };
  let known: { id: string; cvss?: number | undefined }[] = input.cves.map((id) => ({ id, cvss: input.cvss }));
  let affected: string[] = [...input.variants];
  try {
    const { key, trust, target, lock } = await openPublisher(deps, runId);
    try {
      await notify({
        phase: 'started',
        cves: known,
        variants: affected.length ? affected : ['(from the scan)'],
      });
      const out = await emergencyInner(deps, input, req, { key, trust, target, runId, now, warnings });
      known = [...out.cves];
      affected = Object.keys(out.variants);
      const tags = Object.fromEntries(Object.entries(out.variants).map(([v, x]) => [v, x.tag]));
      const at = deps.now().toISOString();
      const deadline = await recordFix(deps, { key, trust, target }, out, { tags, at }, warnings);
      await notify({ phase: 'completed', cves: out.cves, variants: affected, tags, deadline });
      if (out.floor) {
        await notify({
          phase: 'floor-raised',
          cves: out.cves,
          variants: out.floor.variants,
          tags,
          floor: out.floor.minImageCreated,
          deadline,
        });
      }
      return { ...out, notices, warnings };
    } finally {
      await lock.release();
    }
  } catch (e: unknown) {
    await notify({ phase: 'failed', cves: known, variants: affected, reason: describeError(e) });
    throw e;
  }
}

/**
 * Mark the CVEs fixed in the signed CVE records (registry, `cve-records:current`) and their local copy; returns
 * the top CVE's triage deadline and whether it was met. The images are published by then: a records failure is
 * a warning, never a failed rebuild (`aiboxctl cve list` shows the CVE still open; a re-run records it).
 */
async function recordFix(
  deps: EmergencyDeps,
  o: Pick<Opened, 'key' | 'trust' | 'target'>,
  out: { readonly cves: readonly SecurityFix[]; readonly variants: Record<string, unknown> },
  fix: { readonly tags: Record<string, string>; readonly at: string },
  warnings: string[],
): Promise<{ at: string; met: boolean } | undefined> {
  const top = out.cves[0];
  let deadline: string | undefined;
  try {
    const doc = await updateCveRecords(
      {
        store: o.target.store,
        host: o.target.host,
        project: o.target.project,
        trust: o.trust,
        key: o.key,
        signer: deps.config.signing.identity,
        now: deps.now,
        logger: deps.logger,
      },
      (prev) => {
        deadline = prev?.records.find((r) => r.id === top?.id)?.deadline;
        // One call per CVE, so each keeps its own score.
        let doc = prev;
        for (const c of out.cves) {
          doc = markFixed(
            doc,
            { ids: [c.id], cvss: c.cvss, tags: fix.tags, at: fix.at, variants: Object.keys(out.variants) },
            deps.now(),
          );
        }
        return doc ?? markFixed(prev, { ids: [], tags: fix.tags, at: fix.at, variants: [] }, deps.now());
      },
    );
    await saveCveRecordsCopy(join(deps.dataDir, 'runs'), doc);
  } catch (e: unknown) {
    const w = `could not update the CVE records: ${describeError(e)}`;
    warnings.push(w);
    deps.logger.warn(w);
  }
  return deadline ? { at: deadline, met: Date.parse(fix.at) <= Date.parse(deadline) } : undefined;
}

interface Opened {
  readonly key: Awaited<ReturnType<typeof openPublisher>>['key'];
  readonly trust: Awaited<ReturnType<typeof openPublisher>>['trust'];
  readonly target: RunTarget;
  readonly runId: string;
  readonly now: Date;
  readonly warnings: string[];
}

async function emergencyInner(
  deps: EmergencyDeps,
  input: EmergencyInput,
  req: EmergencyRequest,
  o: Opened,
): Promise<Omit<EmergencyRun, 'notices' | 'warnings'>> {
  const { config } = deps;
  const { target } = o;
  const threshold = mandatoryMinCvss(config);
  const pdeps: PromotionDeps = {
    store: target.store,
    host: target.host,
    project: target.project,
    key: o.key,
    signer: config.signing.identity,
    trust: o.trust,
    now: deps.now,
    logger: deps.logger,
    allowUnscanned: false,
    channelState: deps.channelState,
  };
  // An interrupted promotion (an earlier emergency run) is completed first: a re-run converges.
  const completed = await completePendingPromotion(pdeps);
  const base = await resolveChannelBase({ ...pdeps, state: deps.channelState });
  const channel = base.prev?.channel ?? null;
  const scanner = deps.scanner(target);
  if (!scanner) throw new AiboxError({ code: 'CONFIG_INVALID', message: 'no scanner configured' });
  const parents = Object.fromEntries(Object.entries(config.variants).map(([n, v]) => [n, v.from]));
  const named = new Set(input.cves);

  // 1. Scan each candidate's latest: which variants list which named CVE, with which packages (with the floors
  //    carried from the registry read at the same time).
  const candidates = input.variants.length ? input.variants : Object.keys(config.variants);
  const [{ latest, hits, inherited }, carried] = await Promise.all([
    scanLatest(deps, { target, channel, scanner, parents, named }, candidates),
    registryFloors({ ...pdeps, logger: deps.logger }, Object.keys(config.variants)),
  ]);
  const fixes = mergeFixes(
    input.cves.map((id) => {
      const fs = [...hits.values()].flat().filter((f) => f.id.toUpperCase() === id);
      return { id, cvss: input.cvss ?? Math.max(0, ...fs.map(scoreOf)) };
    }),
  );
  const top = topFix(fixes) ?? { id: input.cves[0] ?? '', cvss: 0 };

  // 2. Which variants to rebuild. A CVE absent from every scan: nothing to patch (unless --full).
  const absent = input.cves.filter((id) => ![...hits.values()].flat().some((f) => f.id.toUpperCase() === id));
  if (!req.full && absent.length > 0) {
    // Converged: an earlier run already published this fix (its -cve- tag is in the channel).
    const done = [...latest].filter(([, l]) => l.tag && isCveTag(config, l.tag, named));
    if (done.length > 0 && absent.length === input.cves.length) {
      // The scan no longer lists them: their scores come from the channel entries that recorded the fix.
      const recorded = Object.values(channel?.variants ?? {}).flatMap((e) => (e.cve ? [e.cve] : []));
      const scored = input.cves.map((id) => ({
        id,
        cvss: input.cvss ?? Math.max(0, ...recorded.filter((c) => c.id === id).map((c) => c.cvss)),
      }));
      return converged(o, mergeFixes(scored), done, completed, threshold);
    }
    throw refused(
      `nothing to patch: ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} not in the current scan of ${candidates.join(', ')}`,
      'Check the id (aiboxctl cve triage lists what the scan found), or pass --full to rebuild those variants anyway',
      { absent },
    );
  }
  const affected = input.variants.length ? [...input.variants] : [...hits.keys()];
  if (!req.full) {
    const clean = affected.filter((v) => !hits.has(v) && !inherited.has(v));
    if (clean.length > 0) {
      throw refused(
        `nothing to patch in ${clean.join(', ')}: ${input.cves.join(', ')} ${input.cves.length > 1 ? 'are' : 'is'} not in ${clean.length > 1 ? 'their' : 'its'} current scan`,
        'Drop that --variant, or pass --full to rebuild it anyway',
        { variants: clean },
      );
    }
  }
  const roots = affected.length ? affected : Object.keys(config.variants);
  const rebuilt = withDescendants(parents, roots);
  const date = utcDate(o.now);
  const plan = emergencyPlan(planRun(config, { date, variants: [...rebuilt] }), top.id);

  // 3. Per variant: a targeted patch FROM its latest, or its normal build (FROM a rebuilt parent, or --full).
  const patches = new Map<string, PatchBuild>();
  const parentImages = new Map<string, { name: string; digest: string }>();
  const kinds: Record<string, 'patch' | 'rebuild' | 'full'> = {};
  for (const p of plan.variants) {
    const parent = parents[p.name] ?? null;
    const parentRebuilt = parent !== null && rebuilt.has(parent);
    if (!req.full && !parentRebuilt && roots.includes(p.name)) {
      const l = latest.get(p.name);
      if (!l) {
        throw refused(
          `${p.name} has no latest image to patch on ${target.host}`,
          `Run the weekly 'aiboxctl rebuild' first, or pass --full`,
        );
      }
      const name = `${target.host}/${p.repository}`;
      const desc = await describeImage(target.store, {
        registry: target.host,
        repository: p.repository,
        digest: l.digest,
      });
      const pkgs = input.packages.length
        ? input.packages
        : [...new Set((hits.get(p.name) ?? []).map((f) => f.pkg))];
      patches.set(p.name, {
        containerfile: patchContainerfile(input.cves, pkgs, desc.user ?? ''),
        from: { name, digest: l.digest },
        baseName: desc.labels['org.opencontainers.image.base.name'] ?? name,
        baseDigest: desc.labels['org.opencontainers.image.base.digest'] ?? l.digest,
      });
      kinds[p.name] = 'patch';
    } else {
      kinds[p.name] = req.full ? 'full' : 'rebuild';
      if (parent !== null && !parentRebuilt) {
        const pd = channel?.variants[parent]?.digest;
        if (pd)
          parentImages.set(p.name, {
            name: `${target.host}/${repositoryFor(target.project, parent)}`,
            digest: pd,
          });
      }
    }
  }

  // 4. Floors: the highest ever set (registry), raised for the affected variants and their children.
  const created = floorTime(o.now.toISOString()) ?? o.now.toISOString();
  const floor: Floor | undefined = newFloor(created, fixes, threshold);
  const floors = raiseFloors(parents, carried, roots, floor);

  // 5. Build, re-scan (every named CVE must be gone), tag, sign, verify, promote: the weekly machinery.
  const runsDir = join(deps.dataDir, 'runs');
  const record = newRunRecord({
    runId: o.runId,
    date,
    now: o.now,
    registry: target.host,
    project: target.project,
    variants: plan.variants.map((p) => ({ name: p.name, tag: p.tag, repository: p.repository })),
  });
  const remaining: string[] = [];
  const result = await rebuild(
    {
      engine: deps.engine,
      store: target.store,
      scanner,
      key: o.key,
      trust: o.trust,
      logger: deps.logger,
      progress: deps.progress(() => record),
      now: deps.now,
      save: (r) => saveRecord(runsDir, r),
      channelState: deps.channelState,
    },
    {
      config,
      configDir: deps.configDir,
      host: target.host,
      plan,
      record,
      revision: req.revision,
      signer: config.signing.identity,
      replace: false,
      promote: true,
      floors,
      securityFixes: fixes,
      created,
      patches,
      parents: parentImages,
      confirmScan: (variant, report) => {
        const left = report.findings.filter((f) => named.has(f.id.toUpperCase()));
        if (left.length === 0) return;
        const what = left.map((f) => `${f.id} in ${f.pkg} ${f.installedVersion}`).join(', ');
        remaining.push(`${variant}: ${what}`);
        throw refused(
          `the rebuilt ${variant} image still has ${what}: not publishing`,
          req.full
            ? 'The archive does not carry the fix yet; wait for it, or patch by hand'
            : 'Name the package that carries the fix (--package NAME), or try --full; nothing was published and the floor is unchanged',
        );
      },
    },
  );
  if (result.failure) {
    const line = failureLine(result) ?? 'failed';
    throw new AiboxError({
      code:
        remaining.length > 0
          ? 'POLICY_REFUSED'
          : ((result.failure.code as AiboxError['code'] | undefined) ?? 'PROCESS_FAILED'),
      message: `emergency rebuild for ${input.cves.join(', ')} failed: ${line}`,
      hint:
        result.failure.step === 'promote'
          ? "Re-run the same 'aiboxctl cve rebuild' command: it completes the interrupted promotion"
          : `Nothing was published and the floor is unchanged; the run record is ${recordPath(runsDir, o.runId)}`,
      details: { record: recordPath(runsDir, o.runId), ...(remaining.length ? { remaining } : {}) },
    });
  }
  const variants: EmergencyRun['variants'] = {};
  for (const p of plan.variants) {
    const v = result.variants[p.name];
    if (v?.digest) variants[p.name] = { tag: p.tag, digest: v.digest, build: kinds[p.name] ?? 'rebuild' };
  }
  const raised = floor ? [...withDescendants(parents, roots)].sort() : [];
  return {
    outcome: 'published',
    runId: o.runId,
    cves: fixes,
    variants,
    ...(result.channel ? { channel: result.channel } : {}),
    ...(floor
      ? {
          floor: {
            minImageCreated: floor.minImageCreated,
            mandatoryUpdate: floor.mandatoryUpdate,
            variants: raised,
          },
        }
      : {}),
    mandatoryMinCvss: threshold,
    record: result,
    recordPath: recordPath(runsDir, o.runId),
  };
}

interface LatestScan {
  /** variant → its `latest` digest (the channel's entry, else the registry's `latest` tag) and channel tag. */
  readonly latest: Map<string, { digest: string; tag: string | undefined }>;
  /** variant → the findings of its `latest` scan that name one of the CVEs. */
  readonly hits: Map<string, Finding[]>;
  /** Variants not scanned: an ancestor's scan lists every named CVE, so they carry them by inheritance. */
  readonly inherited: Set<string>;
}

/**
 * Scan the candidates' `latest` images, parents before children: a variant whose ancestor's scan lists EVERY named
 * CVE inherits them and is rebuilt FROM the patched ancestor in any case, so it is not scanned first (its rebuilt
 * image is re-scanned like every other). The scans of one generation run at once, at most `scan.concurrency`.
 */
async function scanLatest(
  deps: EmergencyDeps,
  s: {
    readonly target: RunTarget;
    readonly channel: { readonly variants: Readonly<Record<string, { digest: string; tag: string }>> } | null;
    readonly scanner: Scanner;
    readonly parents: Readonly<Record<string, string | null>>;
    readonly named: ReadonlySet<string>;
  },
  candidates: readonly string[],
): Promise<LatestScan> {
  const { target, channel, parents, named } = s;
  const latest = new Map<string, { digest: string; tag: string | undefined }>();
  const hits = new Map<string, Finding[]>();
  const inherited = new Set<string>();
  const repoOf = (v: string) => ({ registry: target.host, repository: repositoryFor(target.project, v) });
  // The registry is asked only for variants the channel does not name.
  const digests = await Promise.all(
    candidates.map(
      async (v) =>
        channel?.variants[v]?.digest ??
        (await target.store.headManifest({ ...repoOf(v), tag: 'latest' }))?.digest,
    ),
  );
  candidates.forEach((v, i) => {
    const digest = digests[i];
    if (digest) latest.set(v, { digest, tag: channel?.variants[v]?.tag });
  });
  const depth = (v: string): number => {
    const p = parents[v] ?? null;
    return p === null ? 0 : 1 + depth(p);
  };
  const listsAll = (v: string) => {
    const ids = new Set((hits.get(v) ?? []).map((f) => f.id.toUpperCase()));
    return [...named].every((id) => ids.has(id));
  };
  const heir = (v: string): string | undefined => {
    for (let p = parents[v] ?? null; p !== null; p = parents[p] ?? null)
      if (inherited.has(p) || listsAll(p)) return p;
    return undefined;
  };
  const scanned = [...latest.keys()];
  const generations = [...new Set(scanned.map(depth))].sort((a, b) => a - b);
  for (const g of generations) {
    const level = scanned.filter((v) => depth(v) === g);
    const todo: string[] = [];
    for (const v of level) {
      const from = heir(v);
      if (from === undefined) todo.push(v);
      else {
        inherited.add(v);
        deps.logger.debug(`${v}: not scanned first: ${from}'s scan lists every named CVE (rebuilt FROM it)`);
      }
    }
    const reports = await mapLimited(todo, deps.config.scan.concurrency, (v) => {
      const l = latest.get(v) ?? internalError(`no latest digest for ${v}`);
      return scanWith(s.scanner, `${target.host}/${repoOf(v).repository}`, l.digest);
    });
    todo.forEach((v, i) => {
      const found = (reports[i]?.findings ?? []).filter((f) => named.has(f.id.toUpperCase()));
      if (found.length) hits.set(v, found);
    });
  }
  return { latest, hits, inherited };
}

/** Scan one image; a scanner failure is named (the run publishes nothing). */
async function scanWith(scanner: Scanner, reference: string, digest: string): Promise<ScanReport> {
  try {
    return await scanner.scan({ reference, digest });
  } catch (e: unknown) {
    throw new AiboxError({
      code: isAiboxError(e) ? e.code : 'SCAN_FAILED',
      message: `could not scan ${reference}@${digest} for the CVEs: ${describeError(e)}`,
      hint: 'Nothing was built or published; fix the scanner and re-run the same command',
      cause: e,
    });
  }
}

/** True when `tag` is an emergency tag of its variant naming one of `cves`. */
function isCveTag(config: PlatformConfig, tag: string, cves: ReadonlySet<string>): boolean {
  for (const v of Object.values(config.variants)) {
    try {
      const t = parseTag(tag, v.tagPrefix);
      if (t.cve && cves.has(t.cve)) return true;
    } catch {
      // another variant's prefix
    }
  }
  return false;
}

/** The weekly plan with the emergency tag `<prefix>-YYYYMMDD-cve-<id>` on every variant. */
function emergencyPlan(plan: RunPlan, cve: string): RunPlan {
  const map = new Map<string, VariantPlan>();
  for (const p of plan.variants)
    map.set(p.name, { ...p, tag: formatTag({ prefix: p.config.tagPrefix, date: plan.date, cve }) });
  const get = (p: VariantPlan) => map.get(p.name) ?? p;
  return { date: plan.date, stages: plan.stages.map((s) => s.map(get)), variants: plan.variants.map(get) };
}

function converged(
  o: Opened,
  fixes: readonly SecurityFix[],
  done: readonly (readonly [string, { digest: string; tag: string | undefined }])[],
  completed: { sequence: number; digest: string } | null,
  threshold: number,
): Omit<EmergencyRun, 'notices' | 'warnings'> {
  o.warnings.push(
    `already fixed: ${done.map(([v, l]) => `${v} is at ${l.tag ?? '?'}`).join(', ')}${completed ? ` (completed the interrupted promotion of channel sequence ${completed.sequence})` : ''}`,
  );
  const variants: EmergencyRun['variants'] = {};
  for (const [v, l] of done) variants[v] = { tag: l.tag ?? '', digest: l.digest, build: 'earlier' };
  return {
    outcome: 'converged',
    runId: o.runId,
    cves: fixes,
    variants,
    ...(completed ? { channel: completed } : {}),
    mandatoryMinCvss: threshold,
  };
}
