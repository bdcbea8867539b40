/**
 * Runbook §1 "Verification" as one workflow: per variant the latest tag, digest, age, signature
 * (verified with the trusted keys), scan (asked of the scanner, or recorded at signing) and security
 * floor, against the signed channel. Returns plain rows; the CLI renders them.
 */
import { belowFloor, floorFromChannel, imageCreated } from '../cve/floor.js';
import { describeError } from '../core/errors.js';
import type { PlatformConfig } from '../config/schema.js';
import { channelRepository, readChannel } from '../channel/store.js';
import type { ChannelStateStore } from '../channel/state.js';
import { readTrustedChannel, type TrustedChannel } from '../channel/trusted.js';
import { describeImage } from '../inspect/describe.js';
import type { ImageStore } from '../oci/store.js';
import { evaluateScan } from '../scan/policy.js';
import type { Scanner } from '../scan/scanner.js';
import type { TrustedKey } from '../signing/trust.js';
import { verifyImage } from '../signing/workflows.js';
import { repositoryFor } from '../tags/tags.js';
import { LABELS } from './inputs.js';
import { PENDING_TAG } from './promote.js';

export interface VariantStatus {
  variant: string;
  tag: string | null;
  digest: string | null;
  created: string | null;
  ageDays: number | null;
  signature: { ok: boolean; signer?: string; detail?: string };
  scan: string;
  scanSummary?: Record<string, number>;
  scanBlocking?: string[];
  floor: {
    mandatoryUpdate: boolean;
    minImageDate: string | null;
    /** The precise floor (RFC 3339), when there is one. */
    minImageCreated?: string | null;
    /** latest was created before the floor (the one `created` of the image, `imageCreated`). */
    below?: boolean;
  } | null;
  /** latest is the digest the trusted channel names for this variant. */
  inChannel: boolean;
  ok: boolean;
}

export interface StatusReport {
  readonly ok: boolean;
  readonly variants: VariantStatus[];
  readonly channel: { sequence: number; digest: string; expiresAt: string } | null;
  /** Why the channel is not trusted (signature, freshness, rollback), or null. */
  readonly channelProblem: string | null;
  /** A promotion recorded at `channel:pending` and not completed (newer than current), or null. */
  readonly pendingPromotion: { sequence: number; digest: string } | null;
  /** The channel's sequence is below what this machine saw before (local channel state). */
  readonly channelWarnings: readonly string[];
}

export interface StatusDeps {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  readonly config: PlatformConfig;
  readonly trust: readonly TrustedKey[];
  /** Ask this scanner about latest now; undefined = show the result recorded at signing. */
  readonly scanner: Scanner | undefined;
  readonly now: Date;
  /** Image age that fails the check (runbook §7 alert: 30 days). */
  readonly maxAgeDays: number;
  /** This machine's channel state: warn when the channel went below what it saw (updated on verified reads). */
  readonly channelState?: ChannelStateStore;
  /** Read the channel as a client would (default: readTrustedChannel). */
  readonly readChannel?: () => Promise<TrustedChannel>;
}

/** The status of every configured variant against the trusted channel. */
export async function pipelineStatus(d: StatusDeps): Promise<StatusReport> {
  let trusted: TrustedChannel | undefined;
  let channelProblem: string | undefined;
  try {
    trusted = await (
      d.readChannel ?? (() => readTrustedChannel(d.store, d.host, d.project, d.trust, d.now, d.channelState))
    )();
    if (trusted.problems.length > 0) channelProblem = trusted.problems.join('; ');
  } catch (e: unknown) {
    channelProblem = describeError(e);
  }
  // Floors and digests are taken only from a channel whose signature verifies.
  const channel = trusted?.signatureValid ? trusted.read.channel : undefined;
  const rows: VariantStatus[] = [];
  for (const name of Object.keys(d.config.variants)) rows.push(await variantStatus(d, name, channel));
  const channelWarnings = trusted?.warnings ?? [];
  const ok = rows.every((r) => r.ok) && !channelProblem && channelWarnings.length === 0;
  return {
    pendingPromotion: await pendingPromotion(d, trusted),
    ok,
    variants: rows,
    channel: trusted
      ? {
          sequence: trusted.read.channel.sequence,
          digest: trusted.read.digest,
          expiresAt: trusted.read.channel.expiresAt,
        }
      : null,
    channelProblem: channelProblem ?? null,
    channelWarnings,
  };
}

/** An interrupted promotion, so the operator knows a re-run of `aiboxctl promote` completes it. */
async function pendingPromotion(
  d: StatusDeps,
  trusted: TrustedChannel | undefined,
): Promise<{ sequence: number; digest: string } | null> {
  const repo = channelRepository(d.host, d.project);
  try {
    const head = await d.store.headManifest({ ...repo, tag: PENDING_TAG });
    if (!head || head.digest === trusted?.read.digest) return null;
    const read = await readChannel(d.store, repo, { digest: head.digest });
    if (trusted && read.channel.sequence <= trusted.read.channel.sequence) return null;
    return { sequence: read.channel.sequence, digest: head.digest };
  } catch {
    return null; // an unreadable intent is ignored by promote too
  }
}

async function variantStatus(
  d: StatusDeps,
  name: string,
  channel: TrustedChannel['read']['channel'] | undefined,
): Promise<VariantStatus> {
  const repo = { registry: d.host, repository: repositoryFor(d.project, name) };
  const st: VariantStatus = {
    variant: name,
    tag: null,
    digest: null,
    created: null,
    ageDays: null,
    signature: { ok: false },
    scan: 'unknown',
    floor: null,
    inChannel: false,
    ok: false,
  };
  try {
    const desc = await describeImage(d.store, { ...repo, tag: 'latest' });
    st.digest = desc.digest;
    st.tag = desc.labels[LABELS.version] ?? null;
    st.created = imageCreated(desc) ?? null;
    st.ageDays = st.created ? Math.floor((d.now.getTime() - Date.parse(st.created)) / 86_400_000) : null;
    const v = await verifyImage({
      client: d.store,
      ref: { ...repo, digest: desc.digest },
      trustedKeys: d.trust,
      now: d.now,
    });
    const newest = v.verified[0];
    st.signature = v.ok
      ? { ok: true, ...(newest ? { signer: newest.signer } : {}) }
      : { ok: false, detail: v.rejected.map((x) => x.reason).join('; ') || 'no signatures' };
    // Only a scan recorded in a verified signature counts; an unscanned image is OK only when its promotion
    // explicitly allowed it (the channel entry for this digest says `unscanned`).
    const recorded = v.verified
      .map((x) => x.payload?.optional?.[LABELS.scan])
      .filter((x): x is string => typeof x === 'string');
    const cv = channel?.variants[name];
    let scanOk = recorded.includes('passed');
    if (scanOk) st.scan = 'passed';
    else if (cv?.scan === 'unscanned' && cv.digest === desc.digest) {
      st.scan = 'UNSCANNED (allowed)';
      scanOk = true;
    } else {
      st.scan = `NOT SCANNED (${recorded[0] ?? desc.labels[LABELS.scan] ?? 'no scan recorded'})`;
    }
    if (d.scanner) {
      // Runbook §1 "Check Trivy scan results": ask the scanner (Trivy or Harbor) about latest now.
      try {
        const ev = evaluateScan(
          await d.scanner.scan({ reference: `${d.host}/${repo.repository}`, digest: desc.digest }),
          d.config.scan,
          d.now,
        );
        const b = ev.summary.bySeverity;
        st.scan = `${ev.passed ? 'passed' : 'refused'} (C${b.CRITICAL} H${b.HIGH} M${b.MEDIUM} L${b.LOW})`;
        scanOk = ev.passed;
        st.scanSummary = { ...b };
        if (!ev.passed) st.scanBlocking = ev.blocking.map((f) => f.id);
      } catch (e: unknown) {
        st.scan = `error: ${describeError(e)}`;
        scanOk = false;
      }
    }
    const floor = floorFromChannel(cv);
    const below = floor !== undefined && st.created !== null && belowFloor(st.created, floor);
    st.floor = cv
      ? {
          mandatoryUpdate: cv.mandatoryUpdate,
          minImageDate: cv.minImageDate,
          minImageCreated: cv.minImageCreated,
          below,
        }
      : null;
    st.inChannel = cv ? cv.digest === desc.digest : false;
    st.ok =
      st.signature.ok &&
      scanOk &&
      (st.ageDays === null || st.ageDays <= d.maxAgeDays) &&
      st.inChannel &&
      !below;
    if (!st.inChannel)
      st.signature.detail = `${st.signature.detail ? `${st.signature.detail}; ` : ''}${
        channel ? "latest is not the channel's digest" : 'no trusted channel to compare with'
      }`;
  } catch (e: unknown) {
    st.signature = { ok: false, detail: describeError(e) };
  }
  return st;
}
