/**
 * The run record: what a pipeline run did, step by step, kept as JSON under the data dir and
 * printed with --json. Pure data and pure helpers only.
 */
import { internalError } from '../core/errors.js';

export const STEPS = ['resolve-base', 'build', 'stage', 'scan', 'tag', 'sign', 'verify'] as const;
export type StepName = (typeof STEPS)[number];
export type StepStatus = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

export interface StepRecord {
  readonly name: StepName;
  status: StepStatus;
  startedAt?: string;
  durationMs?: number;
  detail?: string;
}

export type VariantStatus = 'pending' | 'running' | 'passed' | 'failed' | 'resumed';

export interface VariantRecord {
  readonly variant: string;
  readonly tag: string;
  readonly repository: string;
  status: VariantStatus;
  steps: StepRecord[];
  baseImage?: string;
  baseDigest?: string;
  digest?: string;
  inputs?: string;
  scan?: { status: 'passed' | 'skipped' | 'refused'; summary?: Record<string, number> };
  error?: { step: StepName; message: string; hint?: string };
}

export interface RunRecord {
  readonly schemaVersion: 1;
  readonly runId: string;
  readonly date: string;
  readonly startedAt: string;
  finishedAt?: string;
  readonly registry: string;
  readonly project: string;
  result: 'running' | 'success' | 'failed';
  promoted: boolean;
  promotion?: { variants: Record<string, { tag: string; digest: string }> };
  channel?: { sequence: number; digest: string };
  variants: Record<string, VariantRecord>;
  /**
   * `hint`: what to do next (the escalation's exact `aiboxctl cve rebuild …`), carried into the on-call notice;
   * `code`: the error's code (what an emergency run exits with).
   */
  failure?: { variant: string; step: string; reason: string; hint?: string; code?: string };
  timings?: { wallMs: number; externalMs: number; overheadMs: number; overheadPercent: number };
}

/** The record of a planned variant (`newRunRecord` makes one for each). */
export function variantRecord(r: RunRecord, name: string): VariantRecord {
  return r.variants[name] ?? internalError(`the run record has no variant "${name}"`);
}

/** A variant's record of one step (`newRunRecord` makes every step). */
export function stepRecord(v: VariantRecord, name: StepName): StepRecord {
  return (
    v.steps.find((x) => x.name === name) ??
    internalError(`the run record of ${v.variant} has no step "${name}"`)
  );
}

/** A fresh record for a planned run. */
export function newRunRecord(i: {
  runId: string;
  date: string;
  now: Date;
  registry: string;
  project: string;
  variants: readonly { name: string; tag: string; repository: string }[];
}): RunRecord {
  const variants: Record<string, VariantRecord> = {};
  for (const v of i.variants) {
    variants[v.name] = {
      variant: v.name,
      tag: v.tag,
      repository: v.repository,
      status: 'pending',
      steps: STEPS.map((name) => ({ name, status: 'pending' })),
    };
  }
  return {
    schemaVersion: 1,
    runId: i.runId,
    date: i.date,
    startedAt: i.now.toISOString(),
    registry: i.registry,
    project: i.project,
    result: 'running',
    promoted: false,
    variants,
  };
}

/** The one line that ends a failed run: names the variant, the step and the reason. */
export function failureLine(r: RunRecord): string | undefined {
  if (!r.failure) return undefined;
  return `FAILED: ${r.failure.variant}: step ${r.failure.step}: ${r.failure.reason}`;
}

/** Seconds with one decimal, for tables. */
export function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`;
}
