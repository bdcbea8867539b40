import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultPlatformConfig } from '../../config/schema.js';
import { AiboxError } from '../../core/errors.js';
import { compactDate, planRun } from '../plan.js';
import { inputBuildArgs, inputsDigest, type BuildInputs } from '../inputs.js';

const config = defaultPlatformConfig();

describe('planRun', () => {
  it('builds base first, then the four variants built FROM it, with the runbook tags', () => {
    const plan = planRun(config, { date: '2026-02-21' });
    expect(plan.stages.map((s) => s.map((v) => v.name))).toEqual([
      ['base'],
      ['java', 'node', 'dotnet', 'full'],
    ]);
    expect(Object.fromEntries(plan.variants.map((v) => [v.name, `${v.repository}:${v.tag}`]))).toEqual({
      base: 'aibox/base:24.04-20260221',
      java: 'aibox/java:21-24.04-20260221',
      node: 'aibox/node:20-24.04-20260221',
      dotnet: 'aibox/dotnet:8-24.04-20260221',
      full: 'aibox/full:24.04-20260221',
    });
    expect(plan.variants[0]!.base).toEqual({ kind: 'upstream', image: 'docker.io/library/ubuntu:24.04' });
  });

  it('takes the base of a single variant from the registry (CI fan-out)', () => {
    const plan = planRun(config, { date: '2026-02-22', variants: ['java'] });
    expect(plan.stages).toHaveLength(1);
    expect(plan.variants[0]!.base).toEqual({ kind: 'variant', variant: 'base', inRun: false });
  });

  it('rejects an unknown variant naming the allowed ones', () => {
    expect(() => planRun(config, { date: '2026-02-21', variants: ['python'] })).toThrow(
      /unknown variant "python" \(allowed: base, java, node, dotnet, full\)/,
    );
  });

  it.each(['2026-02-30', '20260230', '2026-0221', '2026-2-1', ''])('rejects the date %j', (date) => {
    expect(() => planRun(config, { date })).toThrow(AiboxError);
  });

  it('accepts every calendar date and no other string', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
        (d) => {
          const iso = d.toISOString().slice(0, 10);
          expect(compactDate(iso)).toBe(iso.replaceAll('-', ''));
        },
      ),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          compactDate(s);
          expect(s).toMatch(/^\d{4}-\d{2}-\d{2}$|^\d{8}$/);
        } catch (e: unknown) {
          expect(e).toBeInstanceOf(AiboxError);
        }
      }),
    );
  });
});

describe('inputsDigest', () => {
  const base: BuildInputs = {
    variant: 'base',
    tag: '24.04-20260221',
    containerfile: 'FROM x',
    baseDigest: 'sha256:1',
    mandatoryUpdate: false,
    minImageDate: '',
    context: 'sha256:c1',
    buildArgs: { BASE_IMAGE: 'x@sha256:1', VARIANT: 'base' },
  };
  it('changes with every input and nothing else', () => {
    const d = inputsDigest(base);
    expect(inputsDigest({ ...base })).toBe(d);
    const changes: Partial<BuildInputs>[] = [
      { containerfile: 'FROM y' },
      { baseDigest: 'sha256:2' },
      { tag: 't' },
      { mandatoryUpdate: true },
      { minImageDate: '2026-02-21' },
      { context: 'sha256:c2' },
      { buildArgs: { BASE_IMAGE: 'x@sha256:1', VARIANT: 'java' } },
      { buildArgs: { BASE_IMAGE: 'x@sha256:1', VARIANT: 'base', EXTRA: '1' } },
    ];
    for (const change of changes) {
      expect(inputsDigest({ ...base, ...change })).not.toBe(d);
    }
    // key order of the build args does not matter
    expect(inputsDigest({ ...base, buildArgs: { VARIANT: 'base', BASE_IMAGE: 'x@sha256:1' } })).toBe(d);
  });

  it('the run-only build args (time, revision) are not inputs', () => {
    expect(inputBuildArgs({ CREATED: 'now', REVISION: 'abc', VARIANT: 'base' })).toEqual({ VARIANT: 'base' });
  });
});
