import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import {
  TokenCache,
  formatScopes,
  parseChallenges,
  parseScopes,
  parseTokenResponse,
  scopesCover,
  tokenCacheKey,
  unionScopes,
} from '../auth.js';
import { parseLinkNext } from '../link.js';

describe('parseChallenges', () => {
  it('reads distribution token challenges, including two scopes and errors', () => {
    const [c] = parseChallenges(
      'Bearer realm="http://127.0.0.1:5080/token",service="registry.example.test",scope="repository:demo/app:pull,push repository:other/repo:pull",error="insufficient_scope"',
    );
    expect(c?.scheme).toBe('bearer');
    expect(c?.params).toMatchObject({
      realm: 'http://127.0.0.1:5080/token',
      service: 'registry.example.test',
      error: 'insufficient_scope',
    });
    expect(formatScopes(parseScopes(c?.params.scope))).toEqual([
      'repository:demo/app:pull,push',
      'repository:other/repo:pull',
    ]);
  });

  it('splits several challenges in one header and unescapes quoted strings', () => {
    const cs = parseChallenges(
      'Basic realm="a \\"quoted\\" realm", Bearer realm="https://auth/t",service=svc',
    );
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(cs[0]?.params.realm).toBe('a "quoted" realm');
    expect(cs[1]?.params.service).toBe('svc');
  });

  it('round-trips generated challenges and never throws on junk', () => {
    const value = fc.string({ maxLength: 40 }).filter((s) => !/[\\"]/.test(s));
    const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
    fc.assert(
      fc.property(
        fc.constantFrom('Bearer', 'Basic'),
        fc.dictionary(name, value, { maxKeys: 5 }),
        (scheme, params) => {
          const header = `${scheme} ${Object.entries(params)
            .map(([k, v]) => `${k}="${v}"`)
            .join(',')}`;
          const [c] = parseChallenges(header);
          expect(c?.scheme).toBe(scheme.toLowerCase());
          expect({ ...c?.params }).toEqual(params);
        },
      ),
    );
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseChallenges(s)));
  });
});

describe('scopes and tokens', () => {
  it('unions actions per resource, order-independently', () => {
    const a = parseScopes('repository:x:pull');
    const b = parseScopes('repository:x:push repository:y:pull');
    const u = unionScopes(a, b);
    expect(formatScopes(u)).toEqual(['repository:x:pull,push', 'repository:y:pull']);
    expect(scopesCover(u, a) && scopesCover(u, b)).toBe(true);
    expect(scopesCover(a, b)).toBe(false);
    expect(tokenCacheKey('r', 's', unionScopes(b, a))).toBe(tokenCacheKey('r', 's', u));
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^repository:[a-z]{1,3}:(pull|push|delete)$/), { maxLength: 6 }),
        (xs) => {
          const fwd = unionScopes(...xs.map((x) => parseScopes(x)));
          const rev = unionScopes(...[...xs].reverse().map((x) => parseScopes(x)));
          expect(formatScopes(fwd)).toEqual(formatScopes(rev));
          for (const x of xs) expect(scopesCover(fwd, parseScopes(x))).toBe(true);
        },
      ),
    );
  });

  it('reads token or access_token and defaults expires_in to 60 s', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const t = parseTokenResponse({ access_token: 'abc' }, now, 'realm');
    expect(t.token).toBe('abc');
    expect(t.expiresAt).toBeGreaterThan(now + 40_000);
    expect(t.expiresAt).toBeLessThanOrEqual(now + 60_000);
    expect(parseTokenResponse({ token: 'x', access_token: 'y', expires_in: 300 }, now, 'r').token).toBe('x');
    expect(() => parseTokenResponse({ expires_in: 5 }, now, 'https://auth/token')).toThrow(AiboxError);
  });

  it('expires cached tokens', () => {
    const cache = new TokenCache();
    cache.set('k', { token: 't', expiresAt: 1000 });
    expect(cache.get('k', 999)?.token).toBe('t');
    expect(cache.get('k', 1000)).toBeUndefined();
  });
});

describe('parseLinkNext', () => {
  it('finds rel="next" among several links', () => {
    expect(parseLinkNext('</v2/_catalog?last=demo%2Fapp&n=1>; rel="next"')).toBe(
      '/v2/_catalog?last=demo%2Fapp&n=1',
    );
    expect(parseLinkNext('<https://a/prev>; rel="prev", <https://a/next?x=1,2>; rel=next')).toBe(
      'https://a/next?x=1,2',
    );
    expect(parseLinkNext('<a>; rel="prev"')).toBeUndefined();
    expect(parseLinkNext(undefined)).toBeUndefined();
  });

  it('round-trips generated targets and never throws', () => {
    const target = fc.stringMatching(/^\/v2\/[a-z0-9/_?=&%.-]{0,60}$/);
    fc.assert(
      fc.property(target, fc.option(target, { nil: undefined }), (next, prev) => {
        const header = [prev !== undefined ? `<${prev}>; rel="prev"` : '', `<${next}>; rel="next"`]
          .filter(Boolean)
          .join(', ');
        expect(parseLinkNext(header)).toBe(next);
      }),
    );
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parseLinkNext(s)));
  });
});
