/**
 * Rollback (runbook §6) as one call: point every variant's `latest` back at a known-good date's images and
 * publish a new channel sequence naming them, with the weekly promotion's all-or-nothing convergence
 * (`promote.ts`: the signed intent `channel:pending`, then the `latest` moves, then `current`).
 *
 *  1. the target tag of each variant for the date (prefixes applied) must exist and carry a valid signature from
 *     a trusted key (and a passed scan, unless `allowUnscanned`);
 *  2. no variant may go below its security floor in the current channel, unless `forceBelowFloor`: then the
 *     channel entry carries a signed `belowFloor` marker with the reason, and the floor itself stays (developers
 *     below it are still refused by `aibox start`);
 *  3. every refusal is reported at once, before anything moves;
 *  4. the announcement is posted to `#aibox-announce` with exactly the runbook's text, and an audit record is
 *     appended to `<data>/audit/rollback.jsonl`.
 *
 * A re-run after a failure at any point converges: an open intent is completed first, and a state that already
 * serves the target is not published again (the announcement is posted if the audit log does not show it was).
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Channel } from '../channel/channel.js';
import { resolveChannelBase } from '../channel/publisher.js';
import { parseDateInput } from '../core/dates.js';
import { AiboxError, describeError, isAiboxError } from '../core/errors.js';
import { sanitizeDeep } from '../core/redact.js';
import type { PlatformConfig } from '../config/schema.js';
import { rollbackNotice, renderRollbackText } from '../notify/messages.js';
import { formatTag, parseTag, repositoryFor, type ParsedTag } from '../tags/tags.js';
import {
  checkAll,
  checkCandidate,
  completePendingPromotion,
  promote,
  type CheckedCandidate,
  type PromotionCandidate,
  type PromotionDeps,
} from './promote.js';
import { newRunId } from './records.js';
import { checkSigningKey, openPublisher, pipelineTrust, promotionDeps, type RunDeps } from './run.js';

export type RollbackDeps = Pick<
  RunDeps,
  'config' | 'target' | 'key' | 'trustedKeys' | 'dataDir' | 'now' | 'channelState' | 'notifier' | 'logger'
>;

export interface RollbackRequest {
  /** A date tag of any variant (`24.04-20260214`, `21-24.04-20260214`) or a date (`2026-02-14`, `20260214`). */
  readonly to: string;
  /** Variants to roll back (default: every configured variant). */
  readonly variants: readonly string[];
  /** Why (the announcement's "[brief description]"; logged in the audit record). */
  readonly reason: string;
  /** Go below a variant's floor (marked, signed, and logged; the floor stays). */
  readonly forceBelowFloor: boolean;
  /** Accept target images whose signature records no passed scan (recorded in the channel). */
  readonly allowUnscanned: boolean;
  /** false: check everything and show the plan; nothing moves. */
  readonly apply: boolean;
}

/** One variant's move. */
export interface RollbackMove {
  readonly variant: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly created: string;
  /** What the current channel names for the variant (null when it names none). */
  readonly from: { readonly tag: string; readonly digest: string } | null;
  /** The variant's floor in the current channel (RFC 3339), or null. */
  readonly floor: string | null;
  /** True when the target is older than the floor (only with forceBelowFloor). */
  readonly belowFloor: boolean;
}

export interface RollbackRun {
  /** The tag the announcement names. */
  readonly to: string;
  readonly date: string;
  readonly reason: string;
  readonly moves: readonly RollbackMove[];
  /** pending: a dry run; published: a new channel sequence; unchanged: the target was already served. */
  readonly status: 'pending' | 'published' | 'unchanged';
  readonly channel: { readonly sequence: number; readonly digest: string } | null;
  /** The runbook §6 announcement text. */
  readonly announcement: string;
  /** Posted to Slack by this call or an earlier one for the same sequence. */
  readonly notified: boolean;
  /** Why it was not posted (no webhook configured, or the post failed), when it was not. */
  readonly notifyProblem?: string;
  /** An interrupted promotion or rollback this call completed first. */
  readonly completed?: number;
  readonly auditPath: string | null;
}

/** What a `--to` names: the date (and CVE of an emergency tag) and the tag the announcement shows. */
export interface RollbackTarget {
  readonly date: string;
  readonly cve?: string;
  readonly shown: string;
}

/** Read `--to` (pure): a date, or a date tag of one of the given prefixes; throws USAGE naming the forms. */
export function parseRollbackTarget(to: string, prefixes: readonly string[]): RollbackTarget {
  const t = to.trim();
  if (/^\d{4}-?\d{2}-?\d{2}$/.test(t)) {
    const date = parseDateInput(t, '--to');
    return { date, shown: t };
  }
  // Longest prefix first: "21-24.04" before "24.04" would not matter, but "24.04" must not eat "1-24.04".
  for (const p of [...new Set(prefixes)].sort((a, b) => b.length - a.length)) {
    if (!t.startsWith(`${p}-`)) continue;
    let parsed: ParsedTag;
    try {
      parsed = parseTag(t, p);
    } catch {
      continue;
    }
    return { date: parsed.date, ...(parsed.cve ? { cve: parsed.cve } : {}), shown: t };
  }
  throw new AiboxError({
    code: 'USAGE',
    message: `--to ${JSON.stringify(to.slice(0, 100))} is neither a date nor a date tag of a variant (prefixes: ${prefixes.join(', ')})`,
    hint: "Give the known-good tag, e.g. --to 24.04-20260214, or its date (--to 2026-02-14); 'aiboxctl rollback --list' shows the candidates",
  });
}

/** The promotion candidates of a rollback target (pure): each selected variant's tag for that date. */
export function rollbackCandidates(
  config: PlatformConfig,
  target: RollbackTarget,
  variants: readonly string[],
): PromotionCandidate[] {
  const names = Object.keys(config.variants);
  const selected = variants.length > 0 ? [...new Set(variants)] : names;
  for (const v of selected) {
    if (!Object.hasOwn(config.variants, v)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `unknown variant "${v}" (allowed: ${names.join(', ')})`,
        hint: 'Variants come from the "variants" map of the config file',
      });
    }
  }
  return Object.entries(config.variants)
    .filter(([n]) => selected.includes(n))
    .map(([n, vc]) => {
      return {
        variant: n,
        repository: repositoryFor(config.registry.project, n),
        tag: formatTag({ prefix: vc.tagPrefix, date: target.date, cve: target.cve }),
        ...(vc.from !== null ? { parent: vc.from } : {}),
      };
    });
}

function requireReason(reason: string): string {
  const r = reason.replace(/\s+/g, ' ').trim();
  if (r === '') {
    throw new AiboxError({
      code: 'USAGE',
      message: 'a rollback needs --reason (the announcement says why)',
      hint: 'e.g. --reason "a broken apt mirror in the 20260221 build"',
    });
  }
  return r;
}

/** The variant's floor in `current` (RFC 3339) or null. */
function floorOf(current: Channel | null, variant: string): string | null {
  return current?.variants[variant]?.minImageCreated ?? null;
}

/** Every target older than its variant's floor, as refusal lines (pure). */
export function floorViolations(checked: readonly CheckedCandidate[], current: Channel | null): string[] {
  const out: string[] = [];
  for (const c of checked) {
    const floor = floorOf(current, c.variant);
    if (floor !== null && Date.parse(c.created) < Date.parse(floor)) {
      const cve = current?.variants[c.variant]?.cve;
      out.push(
        `${c.variant}:${c.tag} was created ${c.created}, below the security floor ${floor}${cve ? ` (${cve.id})` : ''}`,
      );
    }
  }
  return out;
}

/** Check everything, then (with apply) move `latest` and publish the channel; see the module comment. */
export async function runRollback(deps: RollbackDeps, req: RollbackRequest): Promise<RollbackRun> {
  const reason = requireReason(req.reason);
  const prefixes = Object.values(deps.config.variants).map((v) => v.tagPrefix);
  const target = parseRollbackTarget(req.to, prefixes);
  const candidates = rollbackCandidates(deps.config, target, req.variants);
  const announcement = renderRollbackText(target.shown, reason);
  const runId = newRunId(deps.now());
  const { key, trust, target: t, lock } = await openPublisher(deps, runId);
  try {
    const d = promotionDeps(deps, t, key, trust, req.allowUnscanned);
    // A dry run moves nothing, not even an interrupted intent; a real run completes it first.
    const completed = req.apply ? await completePendingPromotion(d) : null;
    const base = await resolveChannelBase({ ...d, state: d.channelState });
    const current = base.prev?.channel ?? null;
    const checked = await checkAll(d, candidates).catch((e: unknown) => {
      if (!isAiboxError(e, 'POLICY_REFUSED')) throw e;
      throw new AiboxError({
        code: 'POLICY_REFUSED',
        message: `not rolling back to ${target.shown}: ${e.message.replace(/^not promoting: /, '')}`,
        hint: "Every variant needs a signed image for the target date; 'aiboxctl rollback --list' shows the dates that qualify",
        details: e.details,
      });
    });
    const below = floorViolations(checked, current);
    if (below.length > 0 && !req.forceBelowFloor) {
      throw new AiboxError({
        code: 'POLICY_REFUSED',
        message: `not rolling back to ${target.shown}: ${below.join('; ')}`,
        hint: 'Roll back to a date at or above the floor (aiboxctl rollback --list), or, if the floored images are the problem, pass --force-below-floor with --reason (the floor stays: developers below it are still refused by aibox start)',
        details: { refused: below },
      });
    }
    const moves: RollbackMove[] = checked.map((c) => {
      const floor = floorOf(current, c.variant);
      const prev = current?.variants[c.variant];
      return {
        variant: c.variant,
        repository: c.repository,
        tag: c.tag,
        digest: c.digest,
        created: c.created,
        from: prev ? { tag: prev.tag, digest: prev.digest } : null,
        floor,
        belowFloor: floor !== null && Date.parse(c.created) < Date.parse(floor),
      };
    });
    const auditPath = join(deps.dataDir, 'audit', 'rollback.jsonl');
    const result = {
      to: target.shown,
      date: target.date,
      reason,
      moves,
      announcement,
      ...(completed ? { completed: completed.sequence } : {}),
    };
    if (!req.apply) {
      return { ...result, status: 'pending', channel: null, notified: false, auditPath: null };
    }
    let channel: { sequence: number; digest: string };
    let status: 'published' | 'unchanged';
    if (current && base.currentDigest && (await serves(d, current, moves))) {
      channel = { sequence: current.sequence, digest: base.currentDigest };
      status = 'unchanged';
    } else {
      const belowFloor = Object.fromEntries(
        moves.filter((m) => m.belowFloor).map((m) => [m.variant, reason]),
      );
      const r = await promote(d, checked, Object.keys(belowFloor).length ? { belowFloor } : {});
      channel = { sequence: r.channel.sequence, digest: r.channel.digest };
      status = 'published';
    }
    const already = status === 'unchanged' && (await announced(auditPath, channel.sequence));
    const posted = already ? { notified: true } : await announce(deps, target.shown, reason);
    await appendAudit(auditPath, {
      event: 'rollback',
      at: deps.now().toISOString(),
      runId,
      to: target.shown,
      reason,
      forceBelowFloor: req.forceBelowFloor,
      belowFloor: moves.filter((m) => m.belowFloor).map((m) => m.variant),
      moves: moves.map((m) => ({ variant: m.variant, tag: m.tag, digest: m.digest, from: m.from })),
      status,
      channel,
      notified: posted.notified,
    });
    return { ...result, status, channel, ...posted, auditPath };
  } finally {
    await lock.release();
  }
}

/** True when `current` and every `latest` already serve the rollback's digests (a converged earlier run). */
async function serves(d: PromotionDeps, current: Channel, moves: readonly RollbackMove[]): Promise<boolean> {
  for (const m of moves) {
    if (current.variants[m.variant]?.digest !== m.digest) return false;
    const head = await d.store.headManifest({ registry: d.host, repository: m.repository, tag: 'latest' });
    if (head?.digest !== m.digest) return false;
  }
  return true;
}

/** Post the runbook's announcement; a missing webhook or a failed post is reported, never fatal. */
async function announce(
  deps: RollbackDeps,
  tag: string,
  reason: string,
): Promise<{ notified: boolean; notifyProblem?: string }> {
  if (!deps.notifier) {
    return { notified: false, notifyProblem: 'no Slack webhook configured (notify.slackWebhook)' };
  }
  try {
    await deps.notifier.notify(rollbackNotice(tag, reason));
    return { notified: true };
  } catch (e: unknown) {
    deps.logger.warn(`could not post the rollback announcement: ${describeError(e)}`);
    return { notified: false, notifyProblem: describeError(e) };
  }
}

/** Whether the audit log records the announcement of a rollback published as `sequence`. */
async function announced(path: string, sequence: number): Promise<boolean> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').some((line) => {
    try {
      const r = JSON.parse(line) as { channel?: { sequence?: unknown }; notified?: unknown };
      return r.channel?.sequence === sequence && r.notified === true;
    } catch {
      return false;
    }
  });
}

/** Append one redacted JSON line to an audit log (0600, directory created). */
async function appendAudit(path: string, record: Record<string, unknown>): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await appendFile(path, `${JSON.stringify(sanitizeDeep(record))}\n`, { mode: 0o600 });
}

// ------------------------------------------------------------------ --list

export interface RollbackCandidateDate {
  readonly date: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The current channel names exactly these images. */
  readonly current: boolean;
}

export interface RollbackList {
  /** Dates whose tags exist for every variant, are signed by a trusted key and are at or above every floor; newest first. */
  readonly candidates: readonly RollbackCandidateDate[];
  /** Dates present for every variant that do not qualify, with why. */
  readonly excluded: readonly { readonly date: string; readonly reasons: readonly string[] }[];
}

/** `aiboxctl rollback --list`: the dates a rollback may target (read-only; no lock). */
export async function listRollbackCandidates(
  deps: RollbackDeps,
  req: { readonly variants: readonly string[]; readonly limit?: number },
): Promise<RollbackList> {
  const key = await checkSigningKey(deps);
  const trust = await pipelineTrust(deps, key);
  const t = await deps.target();
  const d = promotionDeps(deps, t, key, trust, true);
  const base = await resolveChannelBase({ ...d, state: d.channelState });
  const current = base.prev?.channel ?? null;
  const names = rollbackCandidates(deps.config, { date: '2000-01-01', shown: '' }, req.variants).map(
    (c) => c.variant,
  );
  // Dates with a weekly tag in every selected repository.
  let dates: Set<string> | undefined;
  for (const v of names) {
    const prefix = deps.config.variants[v]?.tagPrefix;
    if (prefix === undefined) continue;
    const tags = await t.store.listTags({ registry: t.host, repository: repositoryFor(t.project, v) });
    const mine = new Set<string>();
    for (const tag of tags) {
      try {
        const p = parseTag(tag, prefix);
        if (p.cve === undefined) mine.add(p.date);
      } catch {
        /* not a date tag of this variant */
      }
    }
    dates = dates ? new Set([...dates].filter((x) => mine.has(x))) : mine;
  }
  const ordered = [...(dates ?? [])]
    .sort()
    .reverse()
    .slice(0, req.limit ?? 20);
  const candidates: RollbackCandidateDate[] = [];
  const excluded: { date: string; reasons: string[] }[] = [];
  for (const date of ordered) {
    const reasons: string[] = [];
    const checked: CheckedCandidate[] = [];
    for (const c of rollbackCandidates(deps.config, { date, shown: '' }, names)) {
      try {
        checked.push(await checkCandidate(d, c));
      } catch (e: unknown) {
        if (!isAiboxError(e, 'POLICY_REFUSED')) throw e;
        reasons.push(e.message);
      }
    }
    reasons.push(...floorViolations(checked, current));
    if (reasons.length > 0) {
      excluded.push({ date, reasons });
      continue;
    }
    candidates.push({
      date,
      tags: Object.fromEntries(checked.map((c) => [c.variant, c.tag])),
      current: checked.every((c) => current?.variants[c.variant]?.digest === c.digest),
    });
  }
  return { candidates, excluded };
}
