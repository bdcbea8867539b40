import { describe, expect, it } from 'vitest';
import { defaultRetentionConfig } from '../rules.js';
import { planRetention } from '../plan.js';
import { renderPlan } from '../render.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

describe('renderPlan', () => {
  it('shows each judged tag with its action, age source and reason, and a summary with bytes', () => {
    const tags = Array.from({ length: 10 }, (_, w) => ({
      tag: `24.04-202611${String(30 - w).padStart(2, '0')}`,
      digest: d(w),
      size: 1024,
    }));
    tags.push({ tag: `${d(9).replace(':', '-')}.sig`, digest: d(99), size: 1024 });
    const plan = planRetention({
      repositories: [{ repository: 'aibox/base', role: 'variant', variant: 'base', prefix: '24.04', tags }],
      channels: [],
      config: defaultRetentionConfig(),
      now: new Date('2026-12-01T00:00:00Z'),
    });
    const text = renderPlan(plan);
    expect(text).toMatch(/^REPOSITORY\s+TAG\s+ACTION\s+AGE FROM\s+REASON$/m);
    expect(text).toMatch(
      /aibox\/base\s+24\.04-20261130\s+keep\s+2026-11-30 \(tag-date\)\s+rule 3 .*\(#1 newest\)/,
    );
    expect(text).toMatch(
      /aibox\/base\s+24\.04-20261121\s+DELETE\s+2026-11-21 \(tag-date\)\s+no rule keeps it/,
    );
    expect(text).not.toContain('.sig  '); // signature tags are counted with their subject, not listed
    expect(text).toContain('aibox/base: 10 tags, keep 8, delete 2');
    expect(text).toContain('2 manifest(s) to delete with 1 attached artifact(s); 3.0 KiB of manifests');
  });
});
