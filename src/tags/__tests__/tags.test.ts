import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultVariants } from '../../config/schema.js';
import { isAiboxError } from '../../core/errors.js';
import {
  classifyTag,
  compareTags,
  displayName,
  formatTag,
  newestTag,
  parseTag,
  repositoryFor,
  toDateString,
} from '../tags.js';

const prefix = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,30}$/);
const date = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const cve = fc
  .tuple(fc.integer({ min: 1999, max: 9999 }), fc.stringMatching(/^\d{4,7}$/))
  .map(([y, n]) => `CVE-${y}-${n}`);

function rule(f: () => unknown): string {
  try {
    f();
  } catch (e: unknown) {
    // A bad date is INVALID_DATE (one code for one failure); every other broken rule is INVALID_TAG.
    if (isAiboxError(e, 'INVALID_TAG') || isAiboxError(e, 'INVALID_DATE')) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected INVALID_TAG or INVALID_DATE');
}

describe('formatTag', () => {
  it('writes the runbook tags for the default variants', () => {
    const v = defaultVariants();
    const tags = Object.values(v).map((x) => formatTag({ prefix: x.tagPrefix, date: '2026-02-21' }));
    expect(tags).toEqual([
      '24.04-20260221',
      '21-24.04-20260221',
      '20-24.04-20260221',
      '8-24.04-20260221',
      '24.04-20260221',
    ]);
  });
  it('adds the emergency suffix in lower case', () => {
    expect(formatTag({ prefix: '24.04', date: '2026-02-21', cve: 'CVE-2026-12345' })).toBe(
      '24.04-20260221-cve-2026-12345',
    );
    expect(formatTag({ prefix: '24.04', date: '2026-02-21', cve: 'cve-2026-12345' })).toBe(
      '24.04-20260221-cve-2026-12345',
    );
  });
  it('takes a Date as its UTC day', () => {
    expect(formatTag({ prefix: '24.04', date: new Date('2026-02-21T23:59:59Z') })).toBe('24.04-20260221');
  });
  it.each([
    [
      { prefix: '24.04', date: '2026-02-30' },
      'INVALID_DATE: invalid date "2026-02-30" (build date): expected a calendar date written YYYY-MM-DD',
    ],
    [{ prefix: '24.04', date: '20260221' }, 'INVALID_DATE: invalid date "20260221"'],
    [
      { prefix: '24.04', date: '2026-02-21', cve: 'CVE-26-1' },
      'invalid CVE id "CVE-26-1": must match CVE-YYYY-NNNN',
    ],
    [{ prefix: '24.04', date: '2026-02-21', cve: 'CVE-2026-123' }, 'invalid CVE id "CVE-2026-123"'],
    [{ prefix: '', date: '2026-02-21' }, 'invalid tag "-20260221"'],
    [{ prefix: 'a b', date: '2026-02-21' }, 'invalid tag "a b-20260221"'],
  ])('rejects %j', (opts, expected) => {
    expect(rule(() => formatTag(opts))).toContain(expected);
  });
  it('rejects an invalid Date', () => {
    expect(rule(() => toDateString(new Date('nope')))).toContain('INVALID_DATE: invalid date');
  });
});

describe('parseTag', () => {
  it('reads weekly and emergency tags', () => {
    expect(parseTag('21-24.04-20260221', '21-24.04')).toEqual({ date: '2026-02-21' });
    expect(parseTag('24.04-20260221-cve-2026-12345', '24.04')).toEqual({
      date: '2026-02-21',
      cve: 'CVE-2026-12345',
    });
  });
  it.each([
    ['24.04-20260230', '24.04', '20260230 is not a calendar date'],
    ['24.04-20261301', '24.04', '20261301 is not a calendar date'],
    ['21-24.04-20260221', '24.04', 'must start with "24.04-"'],
    ['24.04-20260221', '21-24.04', 'must start with "21-24.04-"'],
    ['24.04-2026022', '24.04', 'must be followed by a date YYYYMMDD'],
    ['24.04-202602211', '24.04', 'must be followed by a date YYYYMMDD'],
    ['24.04-20260221-cve-26-1', '24.04', 'emergency suffix'],
    ['24.04-20260221-CVE-2026-12345', '24.04', 'lower-case CVE id'],
    ['24.04-20260221-emergency', '24.04', 'emergency suffix'],
    ['latest', '24.04', 'must start with'],
  ])('rejects %s (prefix %s)', (tag, p, expected) => {
    expect(rule(() => parseTag(tag, p))).toContain(expected);
  });
  it('gives an example in the hint', () => {
    try {
      parseTag('24.04-x', '24.04');
      expect.unreachable();
    } catch (e: unknown) {
      expect(isAiboxError(e) && e.hint).toBe('Example: 24.04-20260221');
    }
  });
});

describe('tag properties', () => {
  it('parse(format(x)) = x', () => {
    fc.assert(
      fc.property(prefix, date, fc.option(cve, { nil: undefined }), (p, d, c) => {
        const parsed = parseTag(formatTag({ prefix: p, date: d, cve: c }), p);
        expect(parsed).toEqual(c === undefined ? { date: d } : { date: d, cve: c });
      }),
    );
  });
  it('format(parse(t)) = t for every well-formed tag', () => {
    const tag = fc
      .tuple(prefix, date, fc.option(cve, { nil: undefined }))
      .map(([p, d, c]) => ({ p, t: `${p}-${d.replaceAll('-', '')}${c ? `-${c.toLowerCase()}` : ''}` }));
    fc.assert(
      fc.property(tag, ({ p, t }) => {
        expect(formatTag({ prefix: p, ...parseTag(t, p) })).toBe(t);
      }),
    );
  });
  it('parseTag either returns or throws INVALID_TAG, for any input', () => {
    fc.assert(
      fc.property(fc.string(), fc.oneof(prefix, fc.string()), (t, p) => {
        try {
          const r = parseTag(t, p);
          expect(t.startsWith(`${p}-`)).toBe(true);
          expect(toDateString(r.date)).toBe(r.date);
        } catch (e: unknown) {
          expect(isAiboxError(e, 'INVALID_TAG')).toBe(true);
        }
      }),
    );
  });
  it('sorting by compareTags is sorting by (date, weekly before emergency)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(date, fc.option(cve, { nil: undefined })), { minLength: 1, maxLength: 8 }),
        (items) => {
          const tags = items.map(([d, c]) => formatTag({ prefix: '24.04', date: d, cve: c }));
          const sorted = [...tags].sort((a, b) => compareTags(a, b, '24.04'));
          for (let i = 1; i < sorted.length; i++) {
            const prev = parseTag(sorted[i - 1]!, '24.04');
            const cur = parseTag(sorted[i]!, '24.04');
            expect(prev.date <= cur.date).toBe(true);
            if (prev.date === cur.date) expect(!(prev.cve !== undefined && cur.cve === undefined)).toBe(true);
          }
          expect(newestTag(tags, '24.04')).toBe(sorted[sorted.length - 1]);
        },
      ),
    );
  });
});

describe('classifyTag', () => {
  const hex = 'a'.repeat(64);
  it.each([
    ['latest', 'latest'],
    ['24.04-20260221', 'weekly'],
    ['24.04-20260221-cve-2026-12345', 'emergency'],
    [`sha256-${hex}.sig`, 'signature'],
    [`sha256-${hex}.att`, 'signature'],
    [`sha256-${hex}.sbom`, 'signature'],
    [`sha256-${hex}`, 'referrers'],
    [`sha256-${hex.slice(1)}.sig`, 'other'],
    ['21-24.04-20260221', 'other'],
    ['24.04-20260230', 'other'],
    ['dev', 'other'],
  ])('%s is %s', (tag, kind) => {
    expect(classifyTag(tag, '24.04')).toBe(kind);
  });
});

describe('compareTags and newestTag', () => {
  it('puts emergency builds after the same-day weekly build', () => {
    const tags = [
      '24.04-20260221-cve-2026-9999',
      '24.04-20260221',
      '24.04-20260214',
      '24.04-20260221-cve-2026-10000',
    ];
    expect([...tags].sort((a, b) => compareTags(a, b, '24.04'))).toEqual([
      '24.04-20260214',
      '24.04-20260221',
      '24.04-20260221-cve-2026-9999',
      '24.04-20260221-cve-2026-10000',
    ]);
  });
  it('ignores latest, signatures and other variants', () => {
    expect(
      newestTag(['latest', '24.04-20260214', '21-24.04-20270101', `sha256-${'b'.repeat(64)}.sig`], '24.04'),
    ).toBe('24.04-20260214');
    expect(newestTag(['latest'], '24.04')).toBeUndefined();
  });
});

describe('names', () => {
  it('builds display names and repositories', () => {
    expect(displayName('base', '24.04-20260221')).toBe('aibox-base:24.04-20260221');
    expect(displayName({ displayName: 'sandbox-java' }, '21-24.04-20260221')).toBe(
      'sandbox-java:21-24.04-20260221',
    );
    expect(repositoryFor('aibox', 'base')).toBe('aibox/base');
  });
});
