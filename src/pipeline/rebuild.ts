/**
 * The weekly pipeline (runbook §1) for the variants of one plan: per variant resolve the base
 * digest → build → stage (in the variant's repository by digest, untagged) → scan → tag with the date tag → sign →
 * verify; then, only if every variant passed, promote `latest` and publish the signed channel.
 * A re-run on the same date resumes: variants already published with the same inputs and a valid
 * signature are not rebuilt. Receives its ports; constructs none.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AiboxError, describeError, internalError, isAiboxError } from '../core/errors.js';
import { semaphore } from '../core/limit.js';
import type { Logger } from '../core/log.js';
import type { PlatformConfig } from '../config/schema.js';
import type { ChannelStateStore } from '../channel/state.js';
import type { Engine } from '../engine/engine.js';
import { tlsVerifyFor } from '../engine/tls.js';
import { describeImage } from '../inspect/describe.js';
import type { ImageStore } from '../oci/store.js';
import { copyByDigest } from '../oci/copy.js';
import { parseReference } from '../oci/reference.js';
import { escalate } from '../cve/escalation.js';
import { runScanGate } from '../scan/gate.js';
import type { Scanner } from '../scan/scanner.js';
import type { ScanReport } from '../scan/report.js';
import { floorLabels, floorTime, type Floor } from '../cve/floor.js';
import { formatSecurityFixes, type SecurityFix } from '../core/labels.js';
import type { SigningKey } from '../signing/keys.js';
import type { TrustedKey } from '../signing/trust.js';
import { signImage, verifyImage } from '../signing/workflows.js';
import { formatTag, repositoryFor } from '../tags/tags.js';
import { hashBuildContext } from './context.js';
import { imageBuildArgs, imageLabels, inputBuildArgs, inputsDigest, LABELS } from './inputs.js';
import type { RunPlan, VariantPlan } from './plan.js';
import type { Progress } from './progress.js';
import { failureLine, stepRecord, variantRecord, type RunRecord, type StepName } from './record.js';
import { checkAll, promote, promotionCandidates } from './promote.js';

export interface RebuildDeps {
  readonly engine: Engine;
  readonly store: ImageStore;
  readonly scanner: Scanner | undefined;
  readonly key: SigningKey;
  readonly trust: readonly TrustedKey[];
  readonly logger: Logger;
  readonly progress: Progress;
  readonly now: () => Date;
  /** Persist the record (called after every change). */
  readonly save: (r: RunRecord) => Promise<void>;
  /** This machine's record of the last channel published and seen (promotion verifies against it). */
  readonly channelState: ChannelStateStore;
}

export interface RebuildOptions {
  readonly config: PlatformConfig;
  /** Directory relative Containerfile paths are resolved against (the config file's). */
  readonly configDir: string;
  readonly host: string;
  readonly plan: RunPlan;
  readonly record: RunRecord;
  readonly revision: string;
  readonly signer: string;
  readonly replace: boolean;
  readonly promote: boolean;
  /** The run explicitly allows unscanned images (scan.scanner: none with --allow-unscanned). */
  readonly allowUnscanned?: boolean;
  /**
   * The security floor per variant (issue 9 §4): the highest floor ever set, recomputed from the registry
   * (src/cve/floor-source.ts), raised by an emergency rebuild. Written as labels and manifest annotations.
   */
  readonly floors?: ReadonlyMap<string, Floor>;
  /** The CVEs this run fixes (emergency rebuilds): `dev.aibox.security-fixes` on every image it builds. */
  readonly securityFixes?: readonly SecurityFix[];
  /** The one `created` of every image this run builds (RFC 3339); default: the time each build starts. */
  readonly created?: string;
  /** Emergency targeted builds: per variant, the patch to build instead of its Containerfile. */
  readonly patches?: ReadonlyMap<string, PatchBuild>;
  /** The base image of variants whose parent is not in the run, instead of the parent's date tag. */
  readonly parents?: ReadonlyMap<string, { readonly name: string; readonly digest: string }>;
  /** Called with each passed scan report before the image is tagged: throws to refuse it (CVE still present). */
  readonly confirmScan?: (variant: string, report: ScanReport) => void;
}

/** A targeted patch (src/cve/emergency.ts): a generated Containerfile built FROM the variant's current image. */
export interface PatchBuild {
  /** Containerfile text; its FROM is `${BASE_IMAGE}` (the build arg names `from`). */
  readonly containerfile: string;
  /** The image patched, pinned: `<host>/<repository>@<digest>`. */
  readonly from: { readonly name: string; readonly digest: string };
  /** The lineage the patched image keeps (its layers are the parent's): the old image's base labels. */
  readonly baseName: string;
  readonly baseDigest: string;
}

/** Local name of a variant's build image (removed at the end of the run). */
function buildImageName(p: VariantPlan, runId: string): string {
  // The run id keeps two pipelines on one host (other registries or projects: the lock is per project)
  // from removing each other's build images at the end of a run.
  return `localhost/aibox-build/${p.name}:${p.tag}-${runId.toLowerCase()}`;
}

class StepFailure extends Error {
  constructor(
    readonly step: StepName,
    readonly error: unknown,
  ) {
    super(describeError(error));
  }
}

/** Bounded-concurrency map that runs every item and never rejects. */
async function eachLimited<T>(items: readonly T[], limit: number, f: (t: T) => Promise<void>): Promise<void> {
  // One iterator shared by the workers: each takes the next item when it is free.
  const queue = items.values();
  const worker = async () => {
    for (const item of queue) await f(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Check every planned variant's Containerfile exists before anything is built. */
export async function checkContainerfiles(
  plan: RunPlan,
  configDir: string,
): Promise<Map<string, { path: string; text: string }>> {
  const out = new Map<string, { path: string; text: string }>();
  const missing: string[] = [];
  for (const v of plan.variants) {
    const path = resolve(configDir, v.config.containerfile);
    try {
      out.set(v.name, { path, text: await readFile(path, 'utf8') });
    } catch {
      missing.push(`${v.name}: ${path}`);
    }
  }
  if (missing.length > 0) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `Containerfile missing for ${missing.join('; ')}`,
      hint: 'Set variants.<name>.containerfile in the config (relative to the config file)',
    });
  }
  return out;
}

/** Run the pipeline; returns the final record (also saved). Never throws for a failed variant. */
export async function rebuild(deps: RebuildDeps, opts: RebuildOptions): Promise<RunRecord> {
  const { store, engine, progress } = deps;
  const r = opts.record;
  const files = await checkContainerfiles(opts.plan, opts.configDir);
  const fixesLabel =
    opts.securityFixes && opts.securityFixes.length > 0 ? formatSecurityFixes(opts.securityFixes) : '';
  const publishedNow = new Map<string, string>(); // variant → digest published in this run
  // Saves are serialised: concurrent variants change the record at the same time.
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => (saving = saving.then(() => deps.save(r)));
  // Scans run concurrently with the builds, at most `scan.concurrency` at once (a scanner pulls and unpacks the
  // whole image: unbounded, four children re-scanning at once would starve the builds still running).
  const scanSlot = semaphore(opts.config.scan.concurrency);
  const pulls = new Map<string, Promise<unknown>>();
  const pullOnce = (ref: string): Promise<unknown> => {
    let p = pulls.get(ref);
    if (!p) {
      const tlsVerify = tlsVerifyFor(
        parseReference(ref).registry,
        opts.config.engine.tlsVerify,
        opts.config.registry.insecure,
      );
      p = engine.pull(ref, { tlsVerify });
      pulls.set(ref, p);
    }
    return p;
  };

  const runVariant = async (p: VariantPlan): Promise<void> => {
    const v = variantRecord(r, p.name);
    v.status = 'running';
    let current: StepName = 'resolve-base';
    const step = async <T>(
      name: StepName,
      f: () => Promise<T>,
      detail?: (t: T) => string | undefined,
    ): Promise<T> => {
      current = name;
      const s = stepRecord(v, name);
      s.status = 'running';
      s.startedAt = deps.now().toISOString();
      const t0 = performance.now();
      progress.step(p.name, name, 'running');
      await save();
      try {
        const out = await f();
        s.status = 'ok';
        s.durationMs = Math.round(performance.now() - t0);
        const d = detail?.(out);
        if (d) s.detail = d;
        progress.step(p.name, name, 'ok', d);
        await save();
        return out;
      } catch (e: unknown) {
        s.status = 'failed';
        s.durationMs = Math.round(performance.now() - t0);
        s.detail = describeError(e);
        progress.step(p.name, name, 'failed', s.detail);
        throw new StepFailure(name, e);
      }
    };
    const skipRest = (from: StepName) => {
      let after = false;
      for (const s of v.steps) {
        if (s.name === from) after = true;
        if (after && s.status === 'pending') s.status = 'skipped';
      }
    };
    const repo = { registry: opts.host, repository: p.repository };
    try {
      // 1. Resolve and record the base digest.
      const patch = opts.patches?.get(p.name);
      const floor = opts.floors?.get(p.name);
      const mandatory = floor?.mandatoryUpdate ?? false;
      const minDate = floor?.minImageDate ?? '';
      const base = await step(
        'resolve-base',
        async () => {
          const b = patch
            ? {
                name: patch.baseName,
                digest: patch.baseDigest,
                pullRef: `${patch.from.name}@${patch.from.digest}`,
                local: false,
              }
            : await resolveBase(deps, opts, p, publishedNow);
          if (!b.local) await pullOnce(b.pullRef);
          return b;
        },
        (b) => b.digest,
      );
      v.baseImage = base.name;
      v.baseDigest = base.digest;
      const configured = files.get(p.name) ?? internalError(`no Containerfile checked for ${p.name}`);
      const file = patch ? { path: undefined, text: patch.containerfile } : configured;
      const contextDir = dirname(configured.path);
      // Floor, fixes and patch lineage: labels and manifest annotations both (clients read either).
      const securityLabels: Record<string, string> = {
        ...floorLabels(floor),
        ...(fixesLabel ? { [LABELS.securityFixes]: fixesLabel } : {}),
        ...(patch ? { [LABELS.patchedFrom]: patch.from.digest } : {}),
      };
      const labelInputs = {
        tag: p.tag,
        baseName: base.name,
        baseDigest: base.digest,
        variant: p.name,
        mandatoryUpdate: mandatory,
        minImageDate: minDate,
        scanSkipped: deps.scanner === undefined,
      };
      // Everything the build reads: the Containerfile, every file of its context, and the build args.
      const inputs = inputsDigest({
        variant: p.name,
        tag: p.tag,
        containerfile: file.text,
        baseDigest: base.digest,
        mandatoryUpdate: mandatory,
        minImageDate: minDate,
        context: patch ? 'patch' : (await hashBuildContext(contextDir)).digest,
        ...(fixesLabel ? { securityFixes: fixesLabel } : {}),
        buildArgs: inputBuildArgs(
          imageBuildArgs(
            imageLabels({ ...labelInputs, created: '', revision: '', inputs: '' }),
            base.pullRef,
          ),
        ),
      });
      v.inputs = inputs;

      // Resume / immutability: is the date tag already there? A published date tag never moves without --replace.
      let published: { digest: string; bytes: Uint8Array; mediaType: string } | undefined;
      const existing = await store.headManifest({ ...repo, tag: p.tag });
      if (existing) {
        const desc = await describeImage(store, { ...repo, digest: existing.digest });
        const sameInputs = desc.labels[LABELS.inputs] === inputs;
        if (sameInputs) {
          const ver = await verifyImage({
            client: store,
            ref: { ...repo, digest: existing.digest },
            trustedKeys: deps.trust,
            now: deps.now(),
          });
          if (ver.ok) {
            v.digest = existing.digest;
            v.status = 'resumed';
            for (const s of v.steps) if (s.status === 'pending') s.status = 'skipped';
            publishedNow.set(p.name, existing.digest);
            progress.note(`[${p.name}] ${p.tag} already published with the same inputs and signed: resumed`);
            await save();
            return;
          }
          if (!opts.replace) {
            // Tagged but not (validly) signed: a crash between tag and sign. Re-scan and sign these bytes.
            const m = await store.getManifest({ ...repo, digest: existing.digest });
            published = { digest: existing.digest, bytes: m.bytes, mediaType: m.descriptor.mediaType };
            progress.note(
              `[${p.name}] ${p.tag} is published with the same inputs but not signed: re-scanning and signing ${existing.digest} (the tag does not move)`,
            );
          }
        } else if (!opts.replace) {
          throw new StepFailure(
            'tag',
            new AiboxError({
              code: 'POLICY_REFUSED',
              message: `date tag ${opts.host}/${p.repository}:${p.tag} already exists with another image (${existing.digest}); date tags are immutable`,
              hint: 'Pass --replace to overwrite it deliberately, or build for another --date',
            }),
          );
        }
      }

      let staged: { digest: string; bytes: Uint8Array; mediaType: string };
      if (published) {
        for (const name of ['build', 'stage'] as const) {
          const s = stepRecord(v, name);
          s.status = 'skipped';
          s.detail = `not rebuilt: ${p.tag} is published as ${published.digest}`;
        }
        staged = published;
      } else {
        // 2. Build.
        const local = buildImageName(p, r.runId);
        // One `created` per image: the label and (through --timestamp) the config's created are this value.
        const created = opts.created ?? floorTime(deps.now().toISOString()) ?? internalError('bad clock');
        const labels = {
          ...imageLabels({ ...labelInputs, created, revision: opts.revision, inputs }),
          ...securityLabels,
        };
        await step('build', () =>
          engine.build({
            contextDir,
            containerfile: file.path,
            ...(patch ? { containerfileText: patch.containerfile } : {}),
            created,
            tags: [local],
            buildArgs: imageBuildArgs(labels, base.pullRef),
            labels,
            annotations: securityLabels,
            // The base was pulled (once) in resolve-base: concurrent pulls of one image race in podman 4.3.
            pull: 'never',
            // A security rebuild never reuses cached layers: `apt-get upgrade` must really run.
            layers: false,
            runId: r.runId,
          }),
        );

        // 3. Stage: push to a per-run staging repository, then mount into the variant's repository by
        //    digest with no tag, so the scanner sees exactly what will be published.
        staged = await step(
          'stage',
          async () => {
            const staging = stagingRepository(opts.host, r.project, p.name);
            const { digest } = await engine.push(local, `${opts.host}/${staging.repository}:${r.runId}`, {
              tlsVerify: tlsVerifyFor(opts.host, opts.config.engine.tlsVerify, opts.config.registry.insecure),
              format: 'oci',
            });
            const copied = await copyByDigest(store, { ...staging, digest }, repo);
            // The staging manifest is only a vehicle: removed now, and swept again once the run is promoted.
            await store.deleteManifest({ ...staging, digest }).catch((e: unknown) => {
              deps.logger.debug(`could not delete ${staging.repository}@${digest}: ${describeError(e)}`);
            });
            return copied;
          },
          (s) => `${s.digest} (${s.mounted} mounted, ${s.present} present, ${s.uploaded} uploaded)`,
        );
      }
      v.digest = staged.digest;

      // 4. Scan gate.
      const gate = await step(
        'scan',
        async () => {
          const g = await scanSlot(() =>
            runScanGate(
              deps.scanner,
              { reference: `${opts.host}/${p.repository}`, digest: staged.digest },
              opts.config.scan,
              deps.now(),
            ),
          );
          // An emergency build must have removed the CVEs it names, whatever the gate's policy says.
          if (g.status !== 'skipped') opts.confirmScan?.(p.name, g.report);
          if (g.status === 'refused') {
            v.scan = { status: 'refused', summary: { ...g.report.summary } };
            const blocking = g.evaluation.blocking.map(
              (f) => `${f.id} (${f.severity}) in ${f.pkg} ${f.installedVersion}`,
            );
            progress.note(`[${p.name}] blocking findings:\n  ${blocking.join('\n  ')}`);
            if (p.base.kind === 'upstream') {
              throw new AiboxError({
                code: 'POLICY_REFUSED',
                message: `${g.error.message}: critical findings in the base image`,
                // Escalation (issue 9 §6): triage this report and name the exact emergency command.
                hint: escalate(
                  g.report,
                  p.name,
                  opts.config.cve,
                  deps.now(),
                  `${p.repository}@${staged.digest}`,
                ).hint,
                cause: g.error,
              });
            }
            throw g.error;
          }
          return g;
        },
        (g) =>
          g.status === 'skipped'
            ? 'not scanned (scanner: none)'
            : `passed (${summaryText(g.report.summary)})`,
      );
      v.scan =
        gate.status === 'passed'
          ? { status: 'passed', summary: { ...gate.report.summary } }
          : { status: 'skipped' };

      // 5. The date tag: PUT the exact staged bytes under it (already there when re-signing a published tag).
      if (published) {
        const s = stepRecord(v, 'tag');
        s.status = 'skipped';
        s.detail = `${p.tag} already points at ${published.digest}`;
      } else {
        await step(
          'tag',
          () => store.putManifest({ ...repo, tag: p.tag }, staged.bytes, staged.mediaType),
          () => p.tag,
        );
      }

      // 6. Sign, 7. verify what the registry now serves.
      await step('sign', () =>
        signImage({
          client: store,
          ref: { ...repo, digest: staged.digest },
          key: deps.key,
          signer: opts.signer,
          annotations: {
            [LABELS.scan]: gate.status === 'passed' ? 'passed' : 'skipped',
            [LABELS.version]: p.tag,
          },
          now: deps.now(),
        }),
      );
      await step(
        'verify',
        async () => {
          const ver = await verifyImage({
            client: store,
            ref: { ...repo, tag: p.tag },
            trustedKeys: deps.trust,
            now: deps.now(),
          });
          if (!ver.ok || ver.digest !== staged.digest) {
            throw new AiboxError({
              code: 'NO_MATCHING_SIGNATURE',
              message: `the pushed signature of ${p.repository}:${p.tag} does not verify with the trusted keys`,
              hint: "Check signing.trustedKeys: it must include the signing key's public key",
            });
          }
          return ver;
        },
        (ver) => `signed by ${ver.verified[0]?.signer ?? '?'}`,
      );
      v.status = 'passed';
      publishedNow.set(p.name, staged.digest);
    } catch (e: unknown) {
      const f = e instanceof StepFailure ? e : new StepFailure(current, e);
      const s = v.steps.find((x) => x.name === f.step);
      if (s && s.status !== 'failed') s.status = 'failed';
      skipRest(f.step);
      v.status = 'failed';
      v.error = {
        step: f.step,
        message: describeError(f.error),
        ...(f.error instanceof AiboxError && f.error.hint ? { hint: f.error.hint } : {}),
      };
      r.failure ??= {
        variant: p.name,
        step: f.step,
        reason: v.error.message,
        ...(v.error.hint ? { hint: v.error.hint } : {}),
        ...(isAiboxError(f.error) ? { code: f.error.code } : {}),
      };
    } finally {
      await save();
    }
  };

  // Build images are removed once, at the end: removing one while a sibling builds on shared
  // intermediate layers breaks that build (podman 4.3).
  const removeBuilt = () =>
    engine
      .rmi(
        opts.plan.variants.map((p) => buildImageName(p, r.runId)),
        { force: true },
      )
      .catch(() => undefined);
  try {
    for (const stage of opts.plan.stages) {
      // A variant whose parent failed in this run is not built.
      const runnable = stage.filter((p) => {
        if (p.base.kind === 'variant' && p.base.inRun && !publishedNow.has(p.base.variant)) {
          const v = variantRecord(r, p.name);
          v.status = 'failed';
          for (const s of v.steps) s.status = 'skipped';
          v.error = { step: 'resolve-base', message: `its base variant ${p.base.variant} failed` };
          return false;
        }
        return true;
      });
      await eachLimited(runnable, opts.config.engine.buildConcurrency, runVariant);
    }
  } catch (e: unknown) {
    await removeBuilt();
    throw e;
  }

  const failed = Object.values(r.variants).filter((v) => v.status === 'failed');
  if (failed.length === 0 && opts.promote) {
    try {
      const pdeps = {
        store,
        host: opts.host,
        project: r.project,
        key: deps.key,
        signer: opts.signer,
        trust: deps.trust,
        now: deps.now,
        logger: deps.logger,
        allowUnscanned: opts.allowUnscanned ?? false,
        channelState: deps.channelState,
      };
      const checked = await checkAll(pdeps, promotionCandidates(opts.plan));
      const pr = await promote(pdeps, checked);
      r.promoted = true;
      r.promotion = { variants: pr.variants };
      await sweepStaging(store, opts.host, r.project, opts.plan.variants, progress);
      r.channel = { sequence: pr.channel.sequence, digest: pr.channel.digest };
      progress.note(
        `promoted latest for ${Object.keys(pr.variants).join(', ')}; channel sequence ${pr.channel.sequence}`,
      );
    } catch (e: unknown) {
      r.failure = {
        variant: '(all)',
        step: 'promote',
        reason: describeError(e),
        ...(isAiboxError(e) ? { code: e.code } : {}),
      };
    }
  }
  r.result = r.failure ? 'failed' : 'success';
  r.finishedAt = deps.now().toISOString();
  await removeBuilt();
  await save();
  const line = failureLine(r);
  if (line) progress.note(line);
  progress.done();
  return r;
}

/** The per-run staging repository of a variant: `<project>/staging/<variant>`. */
export function stagingRepository(host: string, project: string, variant: string) {
  return { registry: host, repository: `${project}/staging/${variant}` };
}

/**
 * Once a run is promoted, remove every manifest left in its variants' staging repositories (a run that crashed
 * between push and delete leaves one). A registry that refuses deletes keeps them: said once, never fatal.
 * Distribution keeps the (empty) repository names in `/v2/_catalog` either way (docs/pipeline.md).
 */
export async function sweepStaging(
  store: ImageStore,
  host: string,
  project: string,
  variants: readonly VariantPlan[],
  progress: Progress,
): Promise<{ removed: number; left: number }> {
  let removed = 0;
  let left = 0;
  let why: string | undefined;
  for (const p of variants) {
    const staging = stagingRepository(host, project, p.name);
    const tags = await store.listTags(staging).catch(() => [] as string[]);
    const digests = new Set<string>();
    for (const tag of tags) {
      const d = await store.headManifest({ ...staging, tag }).catch(() => null);
      if (d) digests.add(d.digest);
    }
    for (const digest of digests) {
      try {
        await store.deleteManifest({ ...staging, digest });
        removed++;
      } catch (e: unknown) {
        left++;
        why ??= describeError(e);
      }
    }
  }
  if (left > 0) {
    progress.note(
      `staging: ${left} manifest(s) left in ${project}/staging/* (the registry refused the delete: ${why}); enable deletes or let the registry's retention remove them`,
    );
  }
  return { removed, left };
}

function summaryText(s: Readonly<Record<string, number>>): string {
  return ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].map((k) => `${k} ${s[k] ?? 0}`).join(', ');
}

interface ResolvedBase {
  /** Name recorded in org.opencontainers.image.base.name. */
  readonly name: string;
  readonly digest: string;
  /** What FROM pulls: name@digest. */
  readonly pullRef: string;
  /** True when the base is in local Podman storage only (the local profile's debootstrap base). */
  readonly local: boolean;
}

/** Pin the base by digest: upstream image, a variant built in this run, or one published for this date. */
async function resolveBase(
  deps: RebuildDeps,
  opts: RebuildOptions,
  p: VariantPlan,
  published: Map<string, string>,
): Promise<ResolvedBase> {
  if (p.base.kind === 'upstream') {
    const ref = parseReference(p.base.image);
    const name = `${ref.registry}/${ref.repository}`;
    if (ref.registry === 'localhost') {
      if (!(await deps.engine.imageExists(p.base.image))) {
        throw new AiboxError({
          code: 'NOT_FOUND',
          message: `base image ${p.base.image} is not in local Podman storage`,
          hint: "Create it with 'aiboxctl local-base' (debootstrap), or set baseImage to a registry image",
        });
      }
      const info = await deps.engine.inspectImage(p.base.image);
      return { name, digest: info.digest, pullRef: `${name}@${info.digest}`, local: true };
    }
    if (ref.digest) return { name, digest: ref.digest, pullRef: `${name}@${ref.digest}`, local: false };
    const head = await deps.store.headManifest(ref);
    if (!head) {
      throw new AiboxError({
        code: 'NOT_FOUND',
        message: `base image ${p.base.image} not found in its registry`,
        hint: 'Check baseImage in the config',
      });
    }
    return { name, digest: head.digest, pullRef: `${name}@${head.digest}`, local: false };
  }
  const parentPlan =
    opts.config.variants[p.base.variant] ?? internalError(`variant "${p.base.variant}" is not configured`);
  const repository = repositoryFor(opts.record.project, p.base.variant);
  const name = `${opts.host}/${repository}`;
  let digest = published.get(p.base.variant);
  const given = opts.parents?.get(p.name);
  if (!digest && given)
    return { name: given.name, digest: given.digest, pullRef: `${given.name}@${given.digest}`, local: false };
  if (!digest) {
    const parentTag = formatTag({ prefix: parentPlan.tagPrefix, date: opts.plan.date });
    const head = await deps.store.headManifest({ registry: opts.host, repository, tag: parentTag });
    if (!head) {
      throw new AiboxError({
        code: 'NOT_FOUND',
        message: `base variant ${p.base.variant} has no ${parentTag} image on ${opts.host}`,
        hint: `Run 'aiboxctl rebuild --variant ${p.base.variant} --date ${opts.plan.date}' first`,
      });
    }
    digest = head.digest;
  }
  return { name, digest, pullRef: `${name}@${digest}`, local: false };
}
