/**
 * The pipeline runs as one call each, for the CLI (and CI) to render: `runRebuild` (runbook §1: key
 * check, trust, lock, metered rebuild, run record, on-call notice) and `runPromote` (CI fan-in: check
 * every variant, move latest, publish the channel). Receives its ports (ImageStore, Engine, Scanner,
 * Notifier) and settings; constructs none.
 */
import { join } from 'node:path';
import type { ChannelStateStore } from '../channel/state.js';
import { AiboxError, describeError, internalError, isAiboxError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PlatformConfig } from '../config/schema.js';
import type { Engine } from '../engine/engine.js';
import { pipelineFailedNotice } from '../notify/messages.js';
import type { Notifier } from '../notify/notifier.js';
import type { ImageStore } from '../oci/store.js';
import type { Scanner } from '../scan/scanner.js';
import type { SigningKey } from '../signing/keys.js';
import { keyStatus, trustedSelf, type TrustedKey } from '../signing/trust.js';
import { acquirePipelineLock } from './lock.js';
import { ActivityMeter } from './meter.js';
import { planRun, utcDate } from './plan.js';
import { parseDateInput } from '../core/dates.js';
import type { Progress } from './progress.js';
import {
  checkAll,
  completePendingPromotion,
  promote,
  promotionCandidates,
  type PromotionDeps,
  type PromotionResult,
} from './promote.js';
import { newRunId, recordPath, saveRecord } from './records.js';
import { newRunRecord, type RunRecord } from './record.js';
import { rebuild, sweepStaging } from './rebuild.js';
import { registryFloors } from '../cve/floor-source.js';

/** The registry a run publishes to. */
export interface RunTarget {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
}

/** How to get the signing key, and what kind of source it is (for the preflight message). */
export interface KeyLoader {
  /** The key spec as given (`cosign.key`, `env://VAR`, `vault://…`), or undefined for the config's. */
  readonly spec: string | undefined;
  load(): Promise<SigningKey>;
}

/** Ports and settings shared by rebuild and promote runs. */
export interface RunDeps {
  readonly config: PlatformConfig;
  /** Directory relative paths in the config resolve against. */
  readonly configDir: string;
  /** The registry; resolved after the cheap preflight checks (it may start the embedded registry). */
  readonly target: () => Promise<RunTarget>;
  readonly engine: Engine;
  /** The configured scanner for a target, or undefined for `scan.scanner: none`. */
  readonly scanner: (target: RunTarget) => Scanner | undefined;
  readonly notifier: Notifier | undefined;
  readonly key: KeyLoader;
  /** Trusted keys from the config's trust store (may be empty). */
  readonly trustedKeys: () => Promise<TrustedKey[]>;
  /** `$XDG_DATA_HOME/aibox`: locks/ and runs/ live here. */
  readonly dataDir: string;
  /** This machine's record of the last channel published and seen (channel-state.json in the data dir). */
  readonly channelState: ChannelStateStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Live progress (a TTY table or CI lines), given access to the record as it changes. */
  readonly progress: (record: () => RunRecord) => Progress;
}

export interface RebuildRequest {
  readonly date?: string | undefined;
  readonly variants: readonly string[];
  readonly promote: boolean;
  readonly replace: boolean;
  readonly allowUnscanned: boolean;
  readonly revision: string;
}

export interface RebuildRun {
  readonly record: RunRecord;
  readonly recordPath: string;
  /** The hints of failed variants (CVE triage, --replace), for the person reading the log. */
  readonly hints: readonly { variant: string; hint: string }[];
}

/** Where source names in the key spec point: used to say which check failed, by error code. */
function keySourceKind(spec: string | undefined, config: PlatformConfig): 'vault' | 'env' | 'file' {
  const s = spec ?? config.signing.key ?? '';
  return s.startsWith('vault://') ? 'vault' : s.startsWith('env://') ? 'env' : 'file';
}

const REMOTE_FAILURES = new Set(['REGISTRY_UNREACHABLE', 'REGISTRY_AUTH', 'REGISTRY_ERROR', 'TIMEOUT']);

/** Decrypt the signing key up front and say exactly which check failed (runbook §1 failure handling). */
export async function checkSigningKey(deps: Pick<RunDeps, 'key' | 'config'>): Promise<SigningKey> {
  try {
    return await deps.key.load();
  } catch (e: unknown) {
    const code = isAiboxError(e) ? e.code : 'KEY_INVALID';
    const kind = keySourceKind(deps.key.spec, deps.config);
    const what =
      code === 'KEY_PASSWORD'
        ? 'the key does not decrypt with the given password'
        : code.startsWith('VAULT_') || (kind === 'vault' && REMOTE_FAILURES.has(code))
          ? 'Vault is not reachable or refused the request'
          : 'the key could not be loaded';
    throw new AiboxError({
      code,
      message: `signing key check failed: ${what}: ${describeError(e)}`,
      ...(isAiboxError(e) && e.hint ? { hint: e.hint } : {}),
      cause: e,
    });
  }
}

/** Trusted keys for pipeline checks: the configured trust store plus the signing key itself. */
export async function pipelineTrust(
  deps: Pick<RunDeps, 'trustedKeys'>,
  key: SigningKey,
): Promise<TrustedKey[]> {
  return [...(await deps.trustedKeys()), trustedSelf(key.publicKey)];
}

/**
 * What every publishing run starts with (rebuild, promote, channel repair): the signing key checked,
 * the pipeline trust set, the registry, and the project's pipeline lock (the caller releases it).
 */
export async function openPublisher(
  deps: Pick<RunDeps, 'config' | 'key' | 'trustedKeys' | 'target' | 'dataDir' | 'now'>,
  runId: string,
) {
  const key = await checkSigningKey(deps);
  const trust = await pipelineTrust(deps, key);
  const target = await deps.target();
  const lock = await acquirePipelineLock(
    join(deps.dataDir, 'locks'),
    `${target.host}/${target.project}`,
    runId,
    deps.now(),
  );
  return { key, trust, target, lock };
}

/** Post the failed-pipeline notice; a notice that cannot be posted is logged, never fatal. */
async function notifyFailure(
  deps: Pick<RunDeps, 'notifier' | 'logger'>,
  f: { variant: string; step: string; reason: string; runId: string; next?: string },
): Promise<void> {
  if (!deps.notifier) return;
  try {
    await deps.notifier.notify(pipelineFailedNotice(f));
  } catch (e: unknown) {
    deps.logger.warn(`could not post the failure notice: ${describeError(e)}`);
  }
}

/** The weekly rebuild as one call. A run that cannot start pages on-call too, then throws. */
export async function runRebuild(deps: RunDeps, req: RebuildRequest): Promise<RebuildRun> {
  const now = deps.now();
  const runId = newRunId(now);
  try {
    return await runRebuildInner(deps, req, now, runId);
  } catch (e: unknown) {
    await notifyFailure(deps, { variant: '(all)', step: 'preflight', reason: describeError(e), runId });
    throw e;
  }
}

async function runRebuildInner(deps: RunDeps, req: RebuildRequest, now: Date, runId: string) {
  const { config } = deps;
  const date = parseDateInput(req.date ?? utcDate(now));
  const plan = planRun(config, { date, variants: req.variants });
  if (config.scan.scanner === 'none' && !req.allowUnscanned) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: 'scan.scanner is "none": refusing to publish unscanned images',
      hint: 'Configure trivy or harbor, or pass --allow-unscanned for local use (images are labelled dev.aibox.scan=skipped)',
    });
  }
  if (config.scan.scanner === 'none')
    deps.logger.warn(
      'NOT SCANNING: scan.scanner is "none" (--allow-unscanned); images are labelled dev.aibox.scan=skipped',
    );
  const { key, trust, target, lock } = await openPublisher(deps, runId);
  // Rotation age comes from the trust store entry of the same key (its notBefore), when there is one.
  // pipelineTrust always ends with the signing key itself, so the search always finds an entry.
  const entry =
    trust.find((t) => t.publicKey.fingerprint === key.publicKey.fingerprint) ??
    internalError('the signing key is missing from its own trust list');
  const ks = keyStatus(entry, now, config.signing.rotationDays);
  if (ks.state === 'rotation-overdue' || ks.state === 'retired') {
    deps.logger.warn(`signing key ${ks.fingerprint}: ${ks.message}; see 'aiboxctl keys rotate'`);
  }
  const runsDir = join(deps.dataDir, 'runs');
  const meter = new ActivityMeter();
  const record = newRunRecord({
    runId,
    date,
    now,
    registry: target.host,
    project: target.project,
    variants: plan.variants.map((p) => ({ name: p.name, tag: p.tag, repository: p.repository })),
  });
  const scanner = deps.scanner(target);
  const t0 = performance.now();
  let result: RunRecord;
  try {
    // Every build carries the highest floor ever set for its variant, read from the registry (issue 9 §4);
    // a run that cannot read them builds nothing (it would publish below a floor).
    const floors = await registryFloors(
      {
        store: target.store,
        host: target.host,
        project: target.project,
        trust,
        now: deps.now,
        logger: deps.logger,
      },
      plan.variants.map((p) => p.name),
    ).catch((e: unknown) => {
      record.failure = {
        variant: '(all)',
        step: 'resolve-base',
        reason: `could not read the security floors from ${target.host}: ${describeError(e)}`,
        ...(isAiboxError(e) ? { code: e.code } : {}),
      };
      record.result = 'failed';
      record.finishedAt = deps.now().toISOString();
      return undefined;
    });
    result = !floors
      ? record
      : await rebuild(
          {
            engine: meter.wrap(deps.engine),
            store: meter.wrap(target.store),
            scanner: scanner ? meter.wrap(scanner) : undefined,
            key,
            trust,
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
            replace: req.replace,
            promote: req.promote,
            allowUnscanned: req.allowUnscanned,
            floors,
          },
        );
  } finally {
    await lock.release();
  }
  const wallMs = performance.now() - t0;
  const externalMs = meter.busyMs();
  result.timings = {
    wallMs: Math.round(wallMs),
    externalMs: Math.round(externalMs),
    overheadMs: Math.round(wallMs - externalMs),
    overheadPercent: Number((((wallMs - externalMs) / wallMs) * 100).toFixed(2)),
  };
  await saveRecord(runsDir, result);
  if (result.failure)
    await notifyFailure(deps, {
      variant: result.failure.variant,
      step: result.failure.step,
      reason: result.failure.reason,
      runId,
      ...(result.failure.hint ? { next: result.failure.hint } : {}),
    });
  const hints = Object.values(result.variants).flatMap((v) =>
    v.error?.hint ? [{ variant: v.variant, hint: v.error.hint }] : [],
  );
  return { record: result, recordPath: recordPath(runsDir, runId), hints };
}

export interface PromoteRequest {
  readonly date?: string | undefined;
  readonly variants: readonly string[];
  /** Promote images whose signed payload records no passed scan (recorded in the channel entry). */
  readonly allowUnscanned: boolean;
}

export interface PromoteRun extends PromotionResult {
  readonly date: string;
}

/** What promoting (and publishing the channel) needs, from the run's deps and an opened publisher. */
export function promotionDeps(
  deps: Pick<RunDeps, 'config' | 'now' | 'logger' | 'channelState'>,
  target: { readonly store: ImageStore; readonly host: string; readonly project: string },
  key: SigningKey,
  trust: readonly TrustedKey[],
  allowUnscanned: boolean | undefined,
): PromotionDeps {
  return {
    store: target.store,
    host: target.host,
    project: target.project,
    key,
    signer: deps.config.signing.identity,
    trust,
    now: deps.now,
    logger: deps.logger,
    allowUnscanned,
    channelState: deps.channelState,
  };
}

/** CI fan-in as one call: check every variant of a date, then move latest and publish the channel. */
export async function runPromote(
  deps: Omit<RunDeps, 'engine' | 'scanner' | 'progress'>,
  req: PromoteRequest,
): Promise<PromoteRun> {
  const now = deps.now();
  const plan = planRun(deps.config, {
    date: parseDateInput(req.date ?? utcDate(now)),
    variants: req.variants,
  });
  const { key, trust, target, lock } = await openPublisher(deps, newRunId(now));
  try {
    const d = promotionDeps(deps, target, key, trust, req.allowUnscanned);
    // An interrupted promotion is completed first, whatever today's candidates turn out to be.
    const completed = await completePendingPromotion(d);
    const checked = await checkAll(d, promotionCandidates(plan));
    const result = await promote(d, checked);
    // CI fan-in: the per-variant runs left their staging manifests for this promotion to sweep.
    await sweepStaging(target.store, target.host, target.project, plan.variants, {
      step: () => {},
      note: (line) => deps.logger.info(line),
      done: () => {},
    });
    return { date: plan.date, ...result, ...(completed ? { completed: completed.sequence } : {}) };
  } finally {
    await lock.release();
  }
}
