/**
 * Pipeline commands: `rebuild` (runbook §1 as one command), `promote` (CI fan-in), `status`
 * (runbook §1 "Verification"), `channel show`, `local-base`, `notify pipeline-failed`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Exec } from '../../adapters/exec.js';
import { ensureLocalBase } from '../../base/local-base.js';
import { renderChannel } from '../../channel/render.js';
import { channelRepository, type ReadChannel } from '../../channel/store.js';
import { readTrustedChannel } from '../../channel/trusted.js';
import { dataDir } from '../../config/load.js';
import { AiboxError, describeError } from '../../core/errors.js';
import { Podman } from '../../engine/podman.js';
import { describeImage } from '../../inspect/describe.js';
import { pipelineFailedNotice } from '../../notify/messages.js';
import { notifierFromConfig } from '../../notify/factory.js';
import { LABELS } from '../../pipeline/inputs.js';
import { acquirePipelineLock } from '../../pipeline/lock.js';
import { ActivityMeter } from '../../pipeline/meter.js';
import { planRun, utcDate } from '../../pipeline/plan.js';
import { parseDateInput } from '../../core/dates.js';
import { lineProgress, renderTable, ttyProgress } from '../../pipeline/progress.js';
import { checkCandidate, promote } from '../../pipeline/promote.js';
import { failureLine, newRunRecord, type RunRecord } from '../../pipeline/record.js';
import { rebuild } from '../../pipeline/rebuild.js';
import { scannerFromConfig } from '../../scan/factory.js';
import { evaluateScan } from '../../scan/policy.js';
import { loadSigningKey, loadTrust } from '../../signing/keyring.js';
import type { SigningKey } from '../../signing/keys.js';
import { keyStatus, type TrustedKey } from '../../signing/trust.js';
import { verifyImage } from '../../signing/workflows.js';
import type { Context, RegisterCommands } from '../command.js';
import { EXIT } from '../exit.js';
import { table } from '../output.js';
import { repositoryFor } from '../../tags/tags.js';

const collect = (v: string, prev: string[]) => [...prev, v];

function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** Decrypt the signing key up front and say exactly what is wrong with it (runbook §1 failure handling). */
async function signingKeyChecked(ctx: Context, spec: string | undefined): Promise<SigningKey> {
  const loaded = await ctx.config();
  try {
    return await loadSigningKey({ spec, loaded, env: ctx.env, cwd: ctx.cwd });
  } catch (e: unknown) {
    const what =
      e instanceof AiboxError && e.code === 'KEY_PASSWORD'
        ? 'the key does not decrypt with the given password'
        : e instanceof AiboxError && /vault/i.test(e.message)
          ? 'Vault is not reachable or refused the request'
          : 'the key could not be loaded';
    throw new AiboxError({
      code: e instanceof AiboxError ? e.code : 'KEY_INVALID',
      message: `signing key check failed: ${what}: ${describeError(e)}`,
      ...(e instanceof AiboxError && e.hint ? { hint: e.hint } : {}),
      cause: e,
    });
  }
}

/** Trusted keys for pipeline checks: the configured trust store plus the signing key itself. */
async function pipelineTrust(ctx: Context, key: SigningKey): Promise<TrustedKey[]> {
  const loaded = await ctx.config();
  const configured = loaded.config.signing.trustedKeys.length
    ? await loadTrust({ keyFlags: [], loaded, env: ctx.env, cwd: ctx.cwd })
    : [];
  const self: TrustedKey = {
    name: 'signing key',
    publicKey: key.publicKey,
    notBefore: null,
    notAfter: null,
    createdAt: null,
  };
  return [...configured, self];
}

async function saveRecord(dir: string, r: RunRecord): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${r.runId}.json`);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(r, null, 2)}\n`);
  await rename(tmp, path);
}

interface RebuildFlags {
  date?: string;
  variant: string[];
  promote: boolean;
  replace: boolean;
  allowUnscanned: boolean;
  key?: string;
  revision?: string;
}

async function rebuildCommand(ctx: Context, flags: RebuildFlags) {
  const now = ctx.now();
  const runId = newRunId(now);
  try {
    return await runRebuild(ctx, flags, now, runId);
  } catch (e: unknown) {
    // A run that could not even start (bad key, lock held, bad config) pages on-call too.
    await notifyFailure(ctx, { variant: '(all)', step: 'preflight', reason: describeError(e), runId });
    throw e;
  }
}

async function runRebuild(ctx: Context, flags: RebuildFlags, now: Date, runId: string) {
  const loaded = await ctx.config();
  const config = loaded.config;
  const date = parseDateInput(flags.date ?? utcDate(now));
  const plan = planRun(config, { date, variants: flags.variant });
  if (config.scan.scanner === 'none' && !flags.allowUnscanned) {
    throw new AiboxError({
      code: 'POLICY_REFUSED',
      message: 'scan.scanner is "none": refusing to publish unscanned images',
      hint: 'Configure trivy or harbor, or pass --allow-unscanned for local use (images are labelled dev.aibox.scan=skipped)',
    });
  }
  if (config.scan.scanner === 'none')
    ctx.logger.warn(
      'NOT SCANNING: scan.scanner is "none" (--allow-unscanned); images are labelled dev.aibox.scan=skipped',
    );
  const key = await signingKeyChecked(ctx, flags.key);
  const trust = await pipelineTrust(ctx, key);
  // Rotation age comes from the trust store entry of the same key (its notBefore), when there is one.
  const entry =
    trust.find((t) => t.publicKey.fingerprint === key.publicKey.fingerprint) ?? trust[trust.length - 1]!;
  const ks = keyStatus(entry, now, config.signing.rotationDays);
  if (ks.state === 'rotation-overdue' || ks.state === 'retired') {
    ctx.logger.warn(`signing key ${ks.fingerprint}: ${ks.message}; see 'aiboxctl keys rotate'`);
  }
  const target = await ctx.target();
  const data = dataDir({ ...ctx.env });
  const lock = await acquirePipelineLock(join(data, 'locks'), `${target.host}/${target.project}`, runId, now);
  const meter = new ActivityMeter();
  const exec: Exec = (f, a, o) => meter.track(() => ctx.exec(f, a, o));
  const client = meter.wrap(target.client);
  const record = newRunRecord({
    runId,
    date,
    now,
    registry: target.host,
    project: target.project,
    variants: plan.variants.map((p) => ({ name: p.name, tag: p.tag, repository: p.repository })),
  });
  const write = (s: string) => ctx.io.err(s);
  const progress =
    ctx.interactive && !ctx.global.json
      ? ttyProgress(write, () => record)
      : lineProgress(write, () => record);
  const t0 = performance.now();
  let result: RunRecord;
  try {
    result = await rebuild(
      {
        podman: new Podman(config.engine, exec, ctx.logger),
        client,
        scanner: scannerFromConfig(
          config.scan,
          { host: target.host, project: target.project, insecure: config.registry.insecure },
          { exec, env: ctx.env, logger: ctx.logger },
        ),
        key,
        trust,
        logger: ctx.logger,
        progress,
        now: ctx.now,
        save: (r) => saveRecord(join(data, 'runs'), r),
      },
      {
        config,
        configDir: loaded.dir,
        host: target.host,
        plan,
        record,
        revision: flags.revision ?? ctx.env.GITHUB_SHA ?? ctx.env.CI_COMMIT_SHA ?? 'unknown',
        signer: config.signing.identity,
        replace: flags.replace,
        promote: flags.promote,
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
  await saveRecord(join(data, 'runs'), result);
  if (result.failure)
    await notifyFailure(ctx, {
      variant: result.failure.variant,
      step: result.failure.step,
      reason: result.failure.reason,
      runId,
    });
  const lines = [
    renderTable(result),
    '',
    `run ${runId}: ${result.result}${result.promoted ? `, latest promoted, channel sequence ${result.channel?.sequence}` : flags.promote ? '' : ' (not promoted: --no-promote)'}`,
    `record: ${join(data, 'runs', `${runId}.json`)}`,
  ];
  // What to do next (CVE triage for the root variant, --replace for an existing date tag): the hints are
  // in the record too, but a person reading the log must see them. The FAILED line stays last.
  for (const v of Object.values(result.variants))
    if (v.error?.hint) lines.push(`hint (${v.variant}): ${v.error.hint}`);
  const fail = failureLine(result);
  if (fail) lines.push(fail);
  return {
    data: result,
    text: lines.join('\n'),
    exitCode: result.result === 'success' ? EXIT.OK : EXIT.FAILURE,
  };
}

async function notifyFailure(
  ctx: Context,
  f: { variant: string; step: string; reason: string; runId: string },
): Promise<void> {
  let config;
  try {
    ({ config } = await ctx.config());
  } catch {
    return; // no readable config: no webhook to post to
  }
  const notifier = notifierFromConfig(config.notify, { logger: ctx.logger });
  if (!notifier) return;
  try {
    await notifier.notify(pipelineFailedNotice(f));
  } catch (e: unknown) {
    ctx.logger.warn(`could not post the failure notice: ${describeError(e)}`);
  }
}

async function promoteCommand(ctx: Context, flags: { date?: string; variant: string[]; key?: string }) {
  const loaded = await ctx.config();
  const now = ctx.now();
  const plan = planRun(loaded.config, {
    date: parseDateInput(flags.date ?? utcDate(now)),
    variants: flags.variant,
  });
  const key = await signingKeyChecked(ctx, flags.key);
  const trust = await pipelineTrust(ctx, key);
  const target = await ctx.target();
  const runId = newRunId(now);
  const lock = await acquirePipelineLock(
    join(dataDir({ ...ctx.env }), 'locks'),
    `${target.host}/${target.project}`,
    runId,
    now,
  );
  try {
    const d = {
      client: target.client,
      host: target.host,
      project: target.project,
      key,
      signer: loaded.config.signing.identity,
      trust,
      now: ctx.now,
      logger: ctx.logger,
    };
    const checked = [];
    const problems: string[] = [];
    for (const p of plan.variants) {
      try {
        checked.push(await checkCandidate(d, { variant: p.name, repository: p.repository, tag: p.tag }));
      } catch (e: unknown) {
        problems.push(describeError(e));
      }
    }
    if (problems.length > 0) {
      throw new AiboxError({
        code: 'POLICY_REFUSED',
        message: `not promoting: ${problems.join('; ')}`,
        hint: 'Every variant must be built, scanned and signed for the date before latest moves',
      });
    }
    const pr = await promote(d, checked);
    return {
      data: {
        date: plan.date,
        promoted: pr.variants,
        channel: { sequence: pr.channel.sequence, digest: pr.channel.digest },
      },
      text: [
        table(
          ['VARIANT', 'TAG', 'DIGEST'],
          Object.entries(pr.variants).map(([v, x]) => [v, x.tag, x.digest]),
        ),
        `latest promoted; channel sequence ${pr.channel.sequence} (${pr.channel.digest})`,
      ].join('\n'),
    };
  } finally {
    await lock.release();
  }
}

interface VariantStatus {
  variant: string;
  tag: string | null;
  digest: string | null;
  created: string | null;
  ageDays: number | null;
  signature: { ok: boolean; signer?: string; detail?: string };
  scan: string;
  scanSummary?: Record<string, number>;
  scanBlocking?: string[];
  floor: { mandatoryUpdate: boolean; minImageDate: string | null } | null;
  ok: boolean;
}

async function statusCommand(ctx: Context, flags: { key: string[]; maxAgeDays: string; scan: boolean }) {
  const loaded = await ctx.config();
  const target = await ctx.target();
  const now = ctx.now();
  const trust = await loadTrust({ keyFlags: flags.key, loaded, env: ctx.env, cwd: ctx.cwd });
  let channel: ReadChannel | undefined;
  let channelProblem: string | undefined;
  try {
    const trusted = await readTrustedChannel(target.client, target.host, target.project, trust, now);
    channel = trusted.read;
    if (trusted.problems.length > 0) channelProblem = trusted.problems.join('; ');
  } catch (e: unknown) {
    channelProblem = describeError(e);
  }
  const maxAge = Number(flags.maxAgeDays);
  const scanner = scannerFromConfig(
    loaded.config.scan,
    { host: target.host, project: target.project, insecure: loaded.config.registry.insecure },
    { exec: ctx.exec, env: ctx.env, logger: ctx.logger },
  );
  const rows: VariantStatus[] = [];
  for (const name of Object.keys(loaded.config.variants)) {
    const repo = { registry: target.host, repository: repositoryFor(target.project, name) };
    const st: VariantStatus = {
      variant: name,
      tag: null,
      digest: null,
      created: null,
      ageDays: null,
      signature: { ok: false },
      scan: 'unknown',
      floor: null,
      ok: false,
    };
    try {
      const d = await describeImage(target.client, { ...repo, tag: 'latest' });
      st.digest = d.digest;
      st.tag = d.labels[LABELS.version] ?? null;
      st.created = d.labels[LABELS.created] || d.created || null;
      st.ageDays = st.created ? Math.floor((now.getTime() - Date.parse(st.created)) / 86_400_000) : null;
      const v = await verifyImage({
        client: target.client,
        ref: { ...repo, digest: d.digest },
        trustedKeys: trust,
        now,
      });
      const newest = v.verified[0];
      st.signature = v.ok
        ? { ok: true, ...(newest ? { signer: newest.signer } : {}) }
        : { ok: false, detail: v.rejected.map((x) => x.reason).join('; ') || 'no signatures' };
      const scanAnn = v.verified
        .map((x) => (x.payload?.optional as Record<string, unknown> | null | undefined)?.[LABELS.scan])
        .find((x) => typeof x === 'string');
      st.scan = typeof scanAnn === 'string' ? scanAnn : (d.labels[LABELS.scan] ?? 'unknown');
      if (scanner && flags.scan) {
        // Runbook §1 "Check Trivy scan results": ask the scanner (Trivy or Harbor) about latest now.
        try {
          const ev = evaluateScan(
            await scanner.scan({ reference: `${target.host}/${repo.repository}`, digest: d.digest }),
            loaded.config.scan,
            now,
          );
          const b = ev.summary.bySeverity;
          st.scan = `${ev.passed ? 'passed' : 'refused'} (C${b.CRITICAL} H${b.HIGH} M${b.MEDIUM} L${b.LOW})`;
          st.scanSummary = { ...b };
          if (!ev.passed) st.scanBlocking = ev.blocking.map((f) => f.id);
        } catch (e: unknown) {
          st.scan = `error: ${describeError(e)}`;
        }
      }
      const cv = channel?.channel.variants[name];
      st.floor = cv ? { mandatoryUpdate: cv.mandatoryUpdate, minImageDate: cv.minImageDate } : null;
      const inChannel = cv ? cv.digest === d.digest : false;
      st.ok =
        st.signature.ok &&
        !/^(refused|error)/.test(st.scan) &&
        (st.ageDays === null || st.ageDays <= maxAge) &&
        inChannel;
      if (!inChannel)
        st.signature.detail = `${st.signature.detail ? `${st.signature.detail}; ` : ''}latest is not the channel's digest`;
    } catch (e: unknown) {
      st.signature = { ok: false, detail: describeError(e) };
    }
    rows.push(st);
  }
  const ok = rows.every((r) => r.ok) && !channelProblem;
  const text = [
    table(
      ['VARIANT', 'LATEST', 'DIGEST', 'AGE', 'SIGNATURE', 'SCAN', 'FLOOR', 'OK'],
      rows.map((r) => [
        r.variant,
        r.tag ?? '-',
        r.digest ? `${r.digest.slice(0, 19)}…` : '-',
        r.ageDays === null ? '-' : `${r.ageDays}d`,
        r.signature.ok
          ? `valid (${r.signature.signer ?? '?'})`
          : `INVALID${r.signature.detail ? `: ${r.signature.detail}` : ''}`,
        r.scan,
        r.floor?.mandatoryUpdate ? `mandatory ≥ ${r.floor.minImageDate}` : 'none',
        r.ok ? 'yes' : 'NO',
      ]),
    ),
    channel
      ? `channel: sequence ${channel.channel.sequence}, expires ${channel.channel.expiresAt}${channelProblem ? ` — PROBLEM: ${channelProblem}` : ''}`
      : `channel: PROBLEM: ${channelProblem ?? 'missing'}`,
  ].join('\n');
  return {
    data: {
      ok,
      variants: rows,
      channel: channel
        ? { sequence: channel.channel.sequence, digest: channel.digest, expiresAt: channel.channel.expiresAt }
        : null,
      channelProblem: channelProblem ?? null,
    },
    text,
    exitCode: ok ? EXIT.OK : EXIT.FAILURE,
  };
}

async function channelShowCommand(ctx: Context, flags: { key: string[] }) {
  const loaded = await ctx.config();
  const target = await ctx.target();
  const now = ctx.now();
  const trust = await loadTrust({ keyFlags: flags.key, loaded, env: ctx.env, cwd: ctx.cwd });
  const repo = channelRepository(target.host, target.project);
  const {
    read: ch,
    signatureValid,
    signer,
    problems,
  } = await readTrustedChannel(target.client, target.host, target.project, trust, now);
  const text = [
    renderChannel(ch.channel, {
      now,
      digest: ch.digest,
      location: `${repo.registry}/${repo.repository}:current`,
    }),
    signatureValid ? `signature: valid (signed by ${signer})` : 'signature: INVALID',
    ...problems.map((p) => `PROBLEM: ${p}`),
  ].join('\n');
  return {
    data: { channel: ch.channel, digest: ch.digest, signatureValid, problems },
    text,
    exitCode: problems.length ? EXIT.FAILURE : EXIT.OK,
  };
}

export const registerPipelineCommands: RegisterCommands = (program: Command, run) => {
  program
    .command('rebuild')
    .description(
      'the weekly pipeline: build, scan, stage, tag, sign and verify every variant, then promote latest and publish the channel',
    )
    .option('--date <YYYY-MM-DD>', 'date of the tags, YYYY-MM-DD or YYYYMMDD (default: today, UTC)')
    .option(
      '--variant <name>',
      'only this variant (repeatable); its base variant must be published for the date',
      collect,
      [],
    )
    .option('--no-promote', 'do not move latest (CI fan-out; run `aiboxctl promote` after)')
    .option('--replace', 'overwrite an existing date tag that holds another image', false)
    .option(
      '--allow-unscanned',
      'allow scan.scanner: none (local use only; images are labelled dev.aibox.scan=skipped)',
      false,
    )
    .option('--key <key>', 'signing key: file, env://VAR or vault://… (default: signing.key)')
    .option('--revision <rev>', 'source revision label (default: $GITHUB_SHA or $CI_COMMIT_SHA)')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl rebuild                                   # all variants for today, then promote
  $ aiboxctl rebuild --variant java --date 2026-02-22 --no-promote
  $ COSIGN_PASSWORD=… aiboxctl --config profiles/local/aibox.yaml rebuild --allow-unscanned --key cosign.key`,
    )
    .action(run((ctx, flags: RebuildFlags) => rebuildCommand(ctx, flags)));

  program
    .command('promote')
    .description(
      'check every variant of a date (present, signed by a trusted key), then move latest and publish the signed channel',
    )
    .option(
      '--date <YYYY-MM-DD>',
      'date of the tags to promote, YYYY-MM-DD or YYYYMMDD (default: today, UTC)',
    )
    .option('--variant <name>', 'only these variants (repeatable)', collect, [])
    .option('--key <key>', 'signing key for the channel (default: signing.key)')
    .addHelpText('after', '\nExample:\n  $ aiboxctl promote --date 2026-02-22')
    .action(
      run((ctx, flags: { date?: string; variant: string[]; key?: string }) => promoteCommand(ctx, flags)),
    );

  program
    .command('status')
    .description(
      'runbook §1 verification: per variant the latest tag, digest, age, signature, scan result and security floor',
    )
    .option('--key <pub>', 'trusted public key (repeatable; default: signing.trustedKeys)', collect, [])
    .option('--max-age-days <n>', 'image age that fails the check (runbook §7 alert: 30)', '30')
    .option('--no-scan', 'do not ask the scanner; show the scan result recorded at signing')
    .addHelpText('after', '\nExample:\n  $ aiboxctl status --key cosign.pub --json')
    .action(
      run((ctx, flags: { key: string[]; maxAgeDays: string; scan: boolean }) => statusCommand(ctx, flags)),
    );

  const channel = program
    .command('channel')
    .description('the signed release channel developers trust instead of latest')
    .addHelpText('after', '\nExample:\n  $ aiboxctl channel show --key cosign.pub');
  channel
    .command('show')
    .description('print the current channel document and verify its signature and freshness')
    .option('--key <pub>', 'trusted public key (repeatable; default: signing.trustedKeys)', collect, [])
    .addHelpText('after', '\nExample:\n  $ aiboxctl channel show --key cosign.pub --json')
    .action(run((ctx, flags: { key: string[] }) => channelShowCommand(ctx, flags)));

  program
    .command('local-base')
    .description(
      "create the local profile base image (Debian 12 via debootstrap from this host's apt archive)",
    )
    .option('--force', 'rebuild even if it exists', false)
    .addHelpText('after', '\nExample:\n  $ aiboxctl --config profiles/local/aibox.yaml local-base')
    .action(
      run(async (ctx, flags: { force: boolean }) => {
        const { config } = await ctx.config();
        const b = await ensureLocalBase({
          engine: config.engine,
          exec: ctx.exec,
          logger: ctx.logger,
          force: flags.force,
        });
        return {
          data: b,
          text: `${b.reference} (${b.imageId.slice(0, 12)}) ${b.created ? 'created' : 'already present'}`,
        };
      }),
    );

  const notify = program
    .command('notify')
    .description('post notices to the on-call channel (notify.slackWebhook)')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl notify pipeline-failed --run-id 42 --variant base --step scan --reason "…"',
    );
  notify
    .command('pipeline-failed')
    .description('post the failed-pipeline notice (runbook §1 failure handling)')
    .requiredOption('--run-id <id>', 'CI run id')
    .requiredOption('--variant <name>', 'variant (or "all")')
    .requiredOption('--step <step>', 'failed step')
    .requiredOption('--reason <text>', 'one-line reason')
    .addHelpText(
      'after',
      '\nExample:\n  $ aiboxctl notify pipeline-failed --run-id 42 --variant base --step scan --reason "CRITICAL CVE-2026-12345"',
    )
    .action(
      run(async (ctx, f: { runId: string; variant: string; step: string; reason: string }) => {
        const { config } = await ctx.config();
        const notifier = notifierFromConfig(config.notify, { logger: ctx.logger });
        if (!notifier) {
          throw new AiboxError({
            code: 'CONFIG_INVALID',
            message: 'notify.slackWebhook is not configured',
            hint: 'Set notify.slackWebhook in the config',
          });
        }
        const notice = pipelineFailedNotice(f);
        await notifier.notify(notice);
        return { data: { posted: true, text: notice.text }, text: 'notice posted' };
      }),
    );
};
