import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultRetentionConfig, type RetentionConfig, type RetentionRule } from '../rules.js';
import { deleteLimit, planRetention, type PlanChannel, type PlanRepository, type PlanTag } from '../plan.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const hex = (n: number, salt = 'a') => `${salt}${n.toString(16)}`.padStart(64, '0').slice(-64);
const dg = (n: number, salt = 'a') => `sha256:${hex(n, salt)}`;
const day = (daysAgo: number) => {
  const d = new Date(NOW.getTime() - daysAgo * 86_400_000);
  return d.toISOString().slice(0, 10).replaceAll('-', '');
};
const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

/** 20 weekly tags (newest 0 days ago), cve tags aged 10/80/100/200 days, latest on weekly #15 (rolled back). */
function realisticRepo(prefix = '24.04'): PlanRepository {
  const tags: PlanTag[] = [];
  for (let w = 0; w < 20; w++) tags.push({ tag: `${prefix}-${day(w * 7)}`, digest: dg(w), size: 500 });
  [10, 80, 100, 200].forEach((age, i) =>
    tags.push({ tag: `${prefix}-${day(age)}-cve-2026-1000${i}`, digest: dg(100 + i), size: 500 }),
  );
  tags.push({ tag: 'latest', digest: dg(15), size: 500 });
  for (const t of [...tags])
    if (t.tag !== 'latest')
      tags.push({
        tag: sigTag(t.digest),
        digest: dg(Number.parseInt(t.digest.slice(-4), 16), 's'),
        size: 300,
      });
  return { repository: 'aibox/base', role: 'variant', variant: 'base', prefix, tags };
}

function kept(plan: ReturnType<typeof planRetention>, repo = 'aibox/base') {
  return plan.tags
    .filter((t) => t.repository === repo && t.action === 'keep')
    .map((t) => t.tag)
    .sort();
}

describe('planRetention with the default rules', () => {
  it("keeps latest, the -cve- builds under 90 days, the last 8 weekly, and latest's rolled-back digest", () => {
    const repo = realisticRepo();
    const plan = planRetention({
      repositories: [repo],
      channels: [],
      config: defaultRetentionConfig(),
      now: NOW,
    });
    const weekly = Array.from({ length: 8 }, (_, w) => `24.04-${day(w * 7)}`);
    const want = [
      'latest',
      ...weekly,
      `24.04-${day(15 * 7)}`,
      `24.04-${day(10)}-cve-2026-10000`,
      `24.04-${day(80)}-cve-2026-10001`,
    ];
    const wantDigests = new Set(repo.tags.filter((t) => want.includes(t.tag)).map((t) => t.digest));
    const sigs = repo.tags
      .filter((t) => t.tag.endsWith('.sig') && wantDigests.has(t.tag.replace('-', ':').slice(0, -4)))
      .map((t) => t.tag);
    expect(kept(plan)).toEqual([...want, ...sigs].sort());
    const rolledBack = plan.tags.find((t) => t.tag === `24.04-${day(105)}`);
    expect(rolledBack?.reason.code).toBe('shared-digest');
    expect(rolledBack?.reason.text).toContain('latest');
    expect(plan.tags.find((t) => t.tag === weekly[0])?.age).toBe('tag-date');
    // Deleted: 11 weekly + 2 cve digests, each with its signature.
    expect(plan.deletions).toHaveLength(13);
    expect(
      plan.deletions.every((d) => d.artifacts.length === 1 && d.artifacts[0]?.kind === 'signature'),
    ).toBe(true);
    expect(plan.bytes).toBe(13 * 800);
    expect(plan.repositories).toEqual([
      { repository: 'aibox/base', role: 'variant', tags: 25, keep: 12, delete: 13 },
    ]);
  });

  it('keeps the digests of the current channel, the last N sequences and the first fixed image of the floor', () => {
    const repo = realisticRepo();
    const channels: PlanChannel[] = [
      {
        sequence: 9,
        source: 'current',
        variants: {
          base: {
            digest: dg(12),
            tag: `24.04-${day(84)}`,
            minImageCreated: '2026-01-05T10:00:00Z',
            minImageDate: '2026-01-05',
          },
        },
      },
      { sequence: 8, source: 'seq-8', variants: { base: { digest: dg(13), tag: `24.04-${day(91)}` } } },
    ];
    const floorTag = `24.04-${day(18 * 7)}`;
    const tags = repo.tags.map((t) => (t.tag === floorTag ? { ...t, created: '2026-01-05T10:00:00Z' } : t));
    const plan = planRetention({
      repositories: [{ ...repo, tags }],
      channels,
      config: defaultRetentionConfig(),
      now: NOW,
    });
    const reasonOf = (tag: string) => plan.tags.find((t) => t.tag === tag)?.reason.code;
    expect(reasonOf(`24.04-${day(84)}`)).toBe('channel-current');
    expect(reasonOf(`24.04-${day(91)}`)).toBe('channel-history');
    expect(reasonOf(floorTag)).toBe('floor');
    expect(reasonOf(sigTag(dg(12)))).toBe('artifact-of-kept');
  });

  it('protects every tag of the floor date when no created time identifies the first fixed image', () => {
    const repo = realisticRepo();
    const channels: PlanChannel[] = [
      {
        sequence: 1,
        source: 'current',
        variants: {
          base: {
            digest: dg(0),
            tag: 'x',
            minImageCreated: null,
            minImageDate: `${day(133).slice(0, 4)}-${day(133).slice(4, 6)}-${day(133).slice(6)}`,
          },
        },
      },
    ];
    const plan = planRetention({
      repositories: [repo],
      channels,
      config: defaultRetentionConfig(),
      now: NOW,
    });
    expect(plan.tags.find((t) => t.tag === `24.04-${day(133)}`)?.reason.code).toBe('floor');
  });

  it('never touches the channel or CVE-records repositories; cleans staging', () => {
    const plan = planRetention({
      repositories: [
        {
          repository: 'aibox/channel',
          role: 'protected',
          tags: [
            { tag: 'seq-1', digest: dg(1) },
            { tag: 'current', digest: dg(1) },
          ],
        },
        { repository: 'aibox/cve-records', role: 'protected', tags: [{ tag: 'current', digest: dg(2) }] },
        {
          repository: 'aibox/staging/base',
          role: 'staging',
          prefix: '24.04',
          variant: 'base',
          tags: [{ tag: 'run-1', digest: dg(3) }],
        },
      ],
      channels: [],
      config: defaultRetentionConfig(),
      now: NOW,
    });
    expect(kept(plan, 'aibox/channel')).toEqual(['current', 'seq-1']);
    expect(kept(plan, 'aibox/cve-records')).toEqual(['current']);
    expect(plan.deletions.map((d) => [d.repository, d.digest, d.reason.code])).toEqual([
      ['aibox/staging/base', dg(3), 'staging'],
    ]);
  });

  it("orders tags outside the scheme by the image's created time, and keeps those of unknown age", () => {
    const config: RetentionConfig = {
      ...defaultRetentionConfig(),
      rules: [
        {
          tag_pattern: 'v*',
          action: 'retain',
          retain_days: null,
          retain_count: 1,
          scope: 'per_repository',
          excludes: [],
        },
      ],
    };
    const plan = planRetention({
      repositories: [
        {
          repository: 'aibox/base',
          role: 'variant',
          prefix: '24.04',
          variant: 'base',
          tags: [
            { tag: 'v1', digest: dg(1), created: '2026-01-01T00:00:00Z' },
            { tag: 'v2', digest: dg(2), created: '2026-02-01T00:00:00Z' },
            { tag: 'v3', digest: dg(3) },
          ],
        },
      ],
      channels: [],
      config,
      now: NOW,
    });
    const by = Object.fromEntries(plan.tags.map((t) => [t.tag, t]));
    expect([by.v1?.action, by.v2?.action, by.v3?.action]).toEqual(['delete', 'keep', 'keep']);
    expect(by.v2?.age).toBe('created');
    expect(by.v3?.reason.code).toBe('age-unknown');
  });

  it('retention.excludes keeps what the rules would drop', () => {
    const plan = planRetention({
      repositories: [realisticRepo()],
      channels: [],
      config: { ...defaultRetentionConfig(), excludes: [`24.04-${day(19 * 7)}`] },
      now: NOW,
    });
    expect(plan.tags.find((t) => t.tag === `24.04-${day(19 * 7)}`)?.reason.code).toBe('excluded');
  });

  it('deletes an orphan signature only when its subject is known to be gone', () => {
    const orphan = sigTag(dg(77));
    const base = {
      repository: 'aibox/base',
      role: 'variant' as const,
      prefix: '24.04',
      variant: 'base',
      tags: [{ tag: orphan, digest: dg(77, 's') }],
    };
    const unknown = planRetention({
      repositories: [base],
      channels: [],
      config: defaultRetentionConfig(),
      now: NOW,
    });
    expect(unknown.tags[0]?.reason.code).toBe('subject-untagged');
    const gone = planRetention({
      repositories: [{ ...base, absentSubjects: [dg(77)] }],
      channels: [],
      config: defaultRetentionConfig(),
      now: NOW,
    });
    expect(gone.deletions.map((d) => d.digest)).toEqual([dg(77, 's')]);
  });

  it('with tag delete (Harbor), a dropped tag goes alone while another kept tag holds its digest', () => {
    const repo = realisticRepo();
    const plan = planRetention({
      repositories: [repo],
      channels: [],
      config: defaultRetentionConfig(),
      now: NOW,
      tagDelete: true,
    });
    expect(plan.tagDeletions).toEqual([
      { repository: 'aibox/base', tag: `24.04-${day(105)}`, digest: dg(15) },
    ]);
    expect(plan.deletions.some((d) => d.digest === dg(15))).toBe(false);
  });

  it('deleteLimit: 50 % of the judged tags by default, --max-delete overrides, staging is exempt', () => {
    expect(deleteLimit({ repository: 'r', role: 'variant', tags: 25, keep: 0, delete: 0 }, 50)).toBe(12);
    expect(deleteLimit({ repository: 'r', role: 'variant', tags: 25, keep: 0, delete: 0 }, 50, 20)).toBe(20);
    expect(deleteLimit({ repository: 'r', role: 'staging', tags: 3, keep: 0, delete: 3 }, 50)).toBe(Infinity);
  });
});

// ---------------------------------------------------------------- properties

const tagName = fc.oneof(
  fc.constant('latest'),
  fc
    .tuple(fc.integer({ min: 0, max: 400 }), fc.boolean())
    .map(([a, cve]) => `24.04-${day(a)}${cve ? '-cve-2026-1234' : ''}`),
  fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/),
);
const ruleArb: fc.Arbitrary<RetentionRule> = fc
  .record({
    tag_pattern: fc.constantFrom(
      '*',
      '**',
      'latest',
      '*-cve-*',
      '24.04-*',
      'v*',
      '{latest,stable}',
      '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]',
    ),
    action: fc.constant('retain' as const),
    retain_days: fc.option(fc.integer({ min: 1, max: 300 }), { nil: null }),
    retain_count: fc.constant(null),
    scope: fc.constant('per_repository' as const),
    excludes: fc.array(fc.constantFrom('*-cve-*', 'latest', 'v*'), { maxLength: 2 }),
  })
  .chain((r) =>
    r.retain_days !== null
      ? fc.constant(r)
      : fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }).map((c) => ({ ...r, retain_count: c })),
  );

const scenario = fc
  .record({
    tags: fc.uniqueArray(
      fc.tuple(
        tagName,
        fc.integer({ min: 0, max: 12 }),
        fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
      ),
      { selector: (t) => t[0], maxLength: 30 },
    ),
    sigs: fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 10 }),
    rules: fc.array(ruleArb, { maxLength: 4 }),
    channel: fc.array(fc.integer({ min: 0, max: 14 }), { maxLength: 4 }),
    absent: fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 5 }),
    tagDelete: fc.boolean(),
  })
  .map((s) => {
    const tags: PlanTag[] = s.tags.map(([tag, d, createdAgo]) => ({
      tag,
      digest: dg(d),
      ...(createdAgo !== undefined
        ? { created: new Date(NOW.getTime() - createdAgo * 86_400_000).toISOString() }
        : {}),
    }));
    for (const n of new Set(s.sigs)) tags.push({ tag: sigTag(dg(n)), digest: dg(n, 's') });
    const repo: PlanRepository = {
      repository: 'aibox/base',
      role: 'variant',
      variant: 'base',
      prefix: '24.04',
      tags,
      absentSubjects: s.absent.map((n) => dg(n)),
    };
    const channels: PlanChannel[] = s.channel.map((n, i) => ({
      sequence: 10 - i,
      source: i === 0 ? 'current' : `seq-${10 - i}`,
      variants: { base: { digest: dg(n), tag: 't' } },
    }));
    return {
      repo,
      channels,
      config: { ...defaultRetentionConfig(), rules: s.rules },
      tagDelete: s.tagDelete,
    };
  });

describe('planRetention properties', () => {
  it('nothing kept is ever deleted; a digest a kept tag points at is never deleted; nor a protected digest or signatures of kept digests', () => {
    fc.assert(
      fc.property(scenario, ({ repo, channels, config, tagDelete }) => {
        const plan = planRetention({ repositories: [repo], channels, config, now: NOW, tagDelete });
        const keptTags = plan.tags.filter((t) => t.action === 'keep');
        const keptDigests = new Set(keptTags.map((t) => t.digest));
        const deleted = new Set(
          plan.deletions.flatMap((d) => [d.digest, ...d.artifacts.map((a) => a.digest)]),
        );
        for (const d of keptDigests) expect(deleted.has(d)).toBe(false);
        for (const c of channels) expect(deleted.has(c.variants.base!.digest)).toBe(false);
        // Every tag on the registry gets exactly one decision.
        expect(plan.tags.map((t) => t.tag).sort()).toEqual(repo.tags.map((t) => t.tag).sort());
        // A tag that goes with a digest is in that digest's deletion; a deleted digest's tags all go.
        for (const d of plan.deletions)
          for (const t of d.tags) expect(plan.tags.find((x) => x.tag === t)?.action).toBe('delete');
        for (const t of repo.tags) {
          if (deleted.has(t.digest)) expect(plan.tags.find((x) => x.tag === t.tag)?.action).toBe('delete');
          // Signatures of kept digests stay.
          const m = /^sha256-([0-9a-f]{64})\.sig$/.exec(t.tag);
          if (m && keptDigests.has(`sha256:${m[1]}`)) expect(deleted.has(t.digest)).toBe(false);
        }
        // What any rule keeps is kept (Harbor's OR semantics): `latest` under a plain `latest` rule, for one.
        if (
          config.rules.some(
            (r) =>
              r.tag_pattern === 'latest' &&
              r.retain_count === null &&
              r.retain_days === null &&
              !r.excludes.includes('latest'),
          )
        )
          expect(plan.tags.find((t) => t.tag === 'latest')?.action ?? 'keep').toBe('keep');
      }),
      { numRuns: 300 },
    );
  });
});

describe('planRetention with tag delete and a channel', () => {
  it('keeps the date tag of a channel digest even where tags can be deleted alone (rollback finds it by tag)', () => {
    const repo = realisticRepo();
    const channels: PlanChannel[] = [
      { sequence: 3, source: 'current', variants: { base: { digest: dg(15), tag: `24.04-${day(105)}` } } },
    ];
    const plan = planRetention({
      repositories: [repo],
      channels,
      config: defaultRetentionConfig(),
      now: NOW,
      tagDelete: true,
    });
    expect(plan.tagDeletions).toEqual([]);
    expect(plan.tags.find((t) => t.tag === `24.04-${day(105)}`)?.reason.code).toBe('channel-current');
  });
});
