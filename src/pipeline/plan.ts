/**
 * The weekly pipeline's plan (pure): which variants run, in which stages (a variant builds after
 * the variant it is built FROM), with which tags. Decided before anything is built, so bad input
 * fails early with a clear error.
 */
import { parseDateInput } from '../core/dates.js';
import { AiboxError, internalError } from '../core/errors.js';
import type { PlatformConfig, VariantConfig } from '../config/schema.js';
import { formatTag, repositoryFor } from '../tags/tags.js';

export interface VariantPlan {
  readonly name: string;
  readonly config: VariantConfig;
  /** Repository path on the registry: <project>/<variant>. */
  readonly repository: string;
  /** The date tag this run publishes, e.g. 21-24.04-20260221. */
  readonly tag: string;
  /**
   * Where this variant's base comes from: the configured upstream image, another variant built in
   * this run, or another variant already published for this date (CI fan-out jobs).
   */
  readonly base:
    | { readonly kind: 'upstream'; readonly image: string }
    | { readonly kind: 'variant'; readonly variant: string; readonly inRun: boolean };
}

export interface RunPlan {
  readonly date: string;
  /** Stages run one after another; variants inside a stage run concurrently. */
  readonly stages: readonly (readonly VariantPlan[])[];
  readonly variants: readonly VariantPlan[];
}

/** YYYY-MM-DD (or YYYYMMDD) → YYYYMMDD, validating the calendar date (core/dates rule). */
export function compactDate(date: string): string {
  return parseDateInput(date).replaceAll('-', '');
}

/** The UTC calendar date of an instant, YYYY-MM-DD. */
export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** Plan a run for `date`, optionally restricted to some variants (their parents must exist). */
export function planRun(
  config: PlatformConfig,
  opts: { date: string; variants?: readonly string[] },
): RunPlan {
  const all = config.variants;
  const names = Object.keys(all);
  const selected = opts.variants && opts.variants.length > 0 ? [...new Set(opts.variants)] : names;
  for (const v of selected) {
    if (!Object.hasOwn(all, v)) {
      throw new AiboxError({
        code: 'USAGE',
        message: `unknown variant "${v}" (allowed: ${names.join(', ')})`,
        hint: 'Variants come from the "variants" map of the config file',
      });
    }
  }
  const date = parseDateInput(opts.date);
  const chosen = new Set(selected);
  const plans = new Map<string, VariantPlan>();
  for (const [name, config_] of Object.entries(all).filter(([n]) => chosen.has(n))) {
    plans.set(name, {
      name,
      config: config_,
      repository: repositoryFor(config.registry.project, name),
      tag: formatTag({ prefix: config_.tagPrefix, date }),
      base:
        config_.from === null
          ? { kind: 'upstream', image: config.baseImage }
          : { kind: 'variant', variant: config_.from, inRun: chosen.has(config_.from) },
    });
  }
  // Stage = depth among the variants of this run (a parent outside the run counts as ready).
  const depth = new Map<string, number>();
  const depthOf = (name: string, guard: number): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (guard > names.length) {
      throw new AiboxError({ code: 'CONFIG_INVALID', message: `variants form a cycle through "${name}"` });
    }
    const p = plans.get(name) ?? internalError(`variant "${name}" is not in the plan`);
    const d = p.base.kind === 'variant' && p.base.inRun ? depthOf(p.base.variant, guard + 1) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const stages: VariantPlan[][] = [];
  for (const p of plans.values()) {
    const d = depthOf(p.name, 0);
    (stages[d] ??= []).push(p);
  }
  return { date, stages, variants: [...plans.values()] };
}
