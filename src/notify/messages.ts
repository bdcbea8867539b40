/**
 * The words of aibox's notices: the runbook §6 rollback announcement (exact text) and the failed
 * pipeline alert. Pure; golden-tested.
 */
import { AiboxError } from '../core/errors.js';
import type { Notice } from './notifier.js';

// eslint-disable-next-line no-control-regex -- matching control characters is this regex's job
const CONTROL_RUN = /[\u0000-\u001f\u007f]+/g;

function oneLine(s: string): string {
  return s.replace(CONTROL_RUN, ' ').replace(/\s+/g, ' ').trim();
}

function required(name: string, value: string, example: string): string {
  const v = oneLine(value);
  if (v === '') {
    throw new AiboxError({
      code: 'USAGE',
      message: `notice ${name} is empty`,
      hint: `Give a ${name}, e.g. ${example}`,
    });
  }
  return v;
}

/**
 * Runbook §6 text, exactly: "Image rollback: aibox images have been rolled back to <tag> due to\n
 * <description>. Run 'aibox update' to get the stable image."
 */
export function renderRollbackText(tag: string, description: string): string {
  const t = required('tag', tag, '24.04-20260214');
  // The template adds the full stop; a description ending in one would print "..".
  const d = required('description', description, '"a broken apt mirror in the 20260221 build"').replace(
    /\.+$/,
    '',
  );
  return `Image rollback: aibox images have been rolled back to ${t} due to\n${d}. Run 'aibox update' to get the stable image.`;
}

/** The rollback announcement for #aibox-announce. */
export function rollbackNotice(tag: string, description: string): Notice {
  return {
    title: 'Image rollback',
    text: renderRollbackText(tag, description),
    severity: 'warning',
    fields: [{ label: 'Stable tag', value: oneLine(tag) }],
  };
}

export interface PipelineFailure {
  /** Variant name, e.g. "java". */
  readonly variant: string;
  /** Pipeline step that failed: build, scan, sign, push, promote. */
  readonly step: string;
  /** One-line reason (already free of secrets). */
  readonly reason: string;
  /** CI run id, to find the log. */
  readonly runId: string;
  /** What to do next, e.g. the escalation's exact `aiboxctl cve rebuild …` command (issue 9 §6). */
  readonly next?: string;
}

/** Text of the failed-pipeline alert (runbook §1 "Failure Handling": on-call investigates). */
export function renderPipelineFailedText(f: PipelineFailure): string {
  const variant = required('variant', f.variant, 'base');
  const step = required('step', f.step, 'scan');
  const runId = required('run id', f.runId, '20260222-0200');
  const reason = required('reason', f.reason, '"trivy exited with code 1"');
  const shown = reason.length > 500 ? `${reason.slice(0, 499)}…` : reason;
  const next = f.next === undefined ? '' : oneLine(f.next);
  const nextShown = next.length > 1500 ? `${next.slice(0, 1499)}…` : next;
  return (
    `Image pipeline failed: aibox-${variant} at step "${step}" (run ${runId}).\n` +
    `Reason: ${shown}\n` +
    (nextShown ? `Next: ${nextShown}\n` : '') +
    `Platform on-call: investigate within 4 hours (runbook §1).`
  );
}

/** The failed-pipeline alert for the platform channel. */
export function pipelineFailedNotice(f: PipelineFailure): Notice {
  return {
    title: `Image pipeline failed: aibox-${oneLine(f.variant)}`,
    text: renderPipelineFailedText(f),
    severity: 'critical',
    fields: [
      { label: 'Variant', value: oneLine(f.variant) },
      { label: 'Step', value: oneLine(f.step) },
      { label: 'Run', value: oneLine(f.runId) },
    ],
  };
}

// ------------------------------------------------------------------ emergency rebuilds (issue 9 §5)

/** One phase of an emergency rebuild, as the platform channel is told it. */
export interface EmergencyNoticeInput {
  readonly phase: 'started' | 'completed' | 'failed' | 'floor-raised';
  /** The CVEs of the rebuild, highest score first. */
  readonly cves: readonly { readonly id: string; readonly cvss?: number | undefined }[];
  readonly variants: readonly string[];
  /** variant → new tag (completed, floor-raised). */
  readonly tags?: Readonly<Record<string, string>>;
  readonly runId: string;
  /** Why it failed (failed). */
  readonly reason?: string;
  /** The new floor, RFC 3339 (floor-raised). */
  readonly floor?: string;
  /** The triage deadline of the top CVE and whether it was met; undefined when no triage record exists. */
  readonly deadline?: { readonly at: string; readonly met: boolean } | undefined;
}

const PHASE_TITLE = {
  started: 'Emergency rebuild started',
  completed: 'Emergency rebuild completed',
  failed: 'Emergency rebuild FAILED',
  'floor-raised': 'Security floor raised: update required',
} as const;

function cveList(cves: EmergencyNoticeInput['cves']): string {
  return cves.length
    ? cves
        .map((c) => (c.cvss === undefined ? oneLine(c.id) : `${oneLine(c.id)} (CVSS ${c.cvss.toFixed(1)})`))
        .join(', ')
    : '(none)';
}

/** The emergency-rebuild notices: start, completion, failure, and the floor being raised (runbook §2). */
export function emergencyNotice(n: EmergencyNoticeInput): Notice {
  const cves = cveList(n.cves);
  const variants = n.variants.length ? n.variants.map(oneLine).join(', ') : '(none)';
  const tags = Object.entries(n.tags ?? {}).map(([v, t]) => `${oneLine(v)}: ${oneLine(t)}`);
  const deadline = n.deadline
    ? `${oneLine(n.deadline.at)} (${n.deadline.met ? 'met' : 'MISSED'})`
    : 'unknown (no triage record)';
  const reason = n.reason === undefined ? '' : oneLine(n.reason);
  const lines: Record<EmergencyNoticeInput['phase'], string> = {
    started: `Emergency rebuild for ${cves} started (run ${oneLine(n.runId)}): ${variants}.`,
    completed: `Emergency rebuild for ${cves} published (run ${oneLine(n.runId)}); latest moved for ${variants}.`,
    failed:
      `Emergency rebuild for ${cves} failed (run ${oneLine(n.runId)}): ${reason.length > 500 ? `${reason.slice(0, 499)}…` : reason}\n` +
      'Nothing was published; the floor is unchanged. Platform on-call: investigate now (runbook §2).',
    'floor-raised':
      `Security floor raised for ${variants} to ${oneLine(n.floor ?? '?')} because of ${cves}.\n` +
      "Developers: run 'aibox update'; older images are refused by 'aibox start'.",
  };
  return {
    title: PHASE_TITLE[n.phase],
    text: lines[n.phase],
    severity: n.phase === 'failed' ? 'critical' : n.phase === 'started' ? 'info' : 'warning',
    fields: [
      { label: 'CVE', value: cves },
      { label: 'Variants', value: variants },
      ...(tags.length ? [{ label: 'New tags', value: tags.join(', ') }] : []),
      ...(n.phase === 'completed' || n.phase === 'floor-raised' || n.phase === 'failed'
        ? [{ label: 'Deadline', value: deadline }]
        : []),
      { label: 'Run', value: oneLine(n.runId) },
    ],
  };
}
