import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  TAG_PATTERN,
  formatReference,
  hasRegistryHost,
  parseReference,
  repositoryName,
  tagPattern,
} from '../reference.js';

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...Array.from('0123456789abcdef')), minLength: n, maxLength: n });
const component = fc.stringMatching(/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/).filter((c) => c.length <= 30);
const host = fc.oneof(
  fc.constantFrom('registry.example.com', 'ghcr.io', 'localhost', '127.0.0.1', 'my-reg.local'),
  fc
    .tuple(fc.constantFrom('localhost', '127.0.0.1', 'reg.example'), fc.integer({ min: 1, max: 65535 }))
    .map(([h, p]) => `${h}:${p}`),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/);
const digest = hex(64).map((h) => `sha256:${h}`);
const reference = fc.record(
  {
    host,
    path: fc.array(component, { minLength: 1, maxLength: 4 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  },
  { requiredKeys: ['host', 'path'] },
);

function expectInvalid(input: string, rule: RegExp) {
  let err: unknown;
  try {
    parseReference(input);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(AiboxError);
  expect((err as AiboxError).code).toBe('INVALID_REFERENCE');
  expect((err as AiboxError).message).toMatch(rule);
  expect((err as AiboxError).hint).toBeTruthy();
}

describe('parseReference', () => {
  it('normalises Docker Hub short names', () => {
    expect(parseReference('alpine')).toEqual({ registry: 'docker.io', repository: 'library/alpine' });
    expect(parseReference('alpine:3.20')).toEqual({
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: '3.20',
    });
    expect(parseReference('org/app')).toEqual({ registry: 'docker.io', repository: 'org/app' });
    expect(parseReference('index.docker.io/alpine')).toEqual({
      registry: 'docker.io',
      repository: 'library/alpine',
    });
    expect(repositoryName(parseReference('alpine'))).toBe('index.docker.io/library/alpine');
  });

  it('recognises hosts by dot, port or localhost and lowercases them', () => {
    expect(parseReference('localhost:5000/demo/app:v1')).toEqual({
      registry: 'localhost:5000',
      repository: 'demo/app',
      tag: 'v1',
    });
    expect(parseReference('localhost/app')).toEqual({ registry: 'localhost', repository: 'app' });
    expect(parseReference('Registry.Example.COM/app')).toMatchObject({ registry: 'registry.example.com' });
    expect(parseReference('[::1]:5000/app')).toMatchObject({ registry: '[::1]:5000', repository: 'app' });
    expect(parseReference('app', { defaultRegistry: '127.0.0.1:5000' })).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'app',
    });
  });

  it('keeps tag and digest together', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`ghcr.io/o/app:1.0@${d}`)).toEqual({
      registry: 'ghcr.io',
      repository: 'o/app',
      tag: '1.0',
      digest: d,
    });
  });

  it('names the rule that was broken', () => {
    expectInvalid('Foo/bar', /^invalid reference "Foo\/bar": repository must be lowercase$/);
    expectInvalid('reg.io/app:-bad', /tag "-bad" must match/);
    expectInvalid(`reg.io/app:${'a'.repeat(129)}`, /must match \[A-Za-z0-9_\]/);
    expectInvalid('reg.io/app@sha256:abc', /digest .* sha256 needs 64 hex characters/);
    expectInvalid(`reg.io/app@md5:${'a'.repeat(32)}`, /unsupported algorithm "md5"/);
    expectInvalid(`reg.io/app@sha256:${'A'.repeat(64)}`, /lowercase hex/);
    expectInvalid('reg.io//app', /must not be empty/);
    expectInvalid('reg.io:99999/app', /port "99999"/);
    expectInvalid('reg.io/a..b', /repository component "a..b"/);
    expectInvalid('', /reference is empty/);
    expectInvalid('reg.io/app:', /tag is empty/);
  });

  it('round-trips: parse(format(r)) == r for generated references', () => {
    fc.assert(
      fc.property(reference, (r) => {
        const text = `${r.host}/${r.path.join('/')}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
        const parsed = parseReference(text);
        expect(parsed.repository).toBe(r.path.join('/'));
        expect(parsed.tag).toBe(r.tag);
        expect(parsed.digest).toBe(r.digest);
        expect(parseReference(formatReference(parsed))).toEqual(parsed);
      }),
    );
  });

  it('rejects uppercase repositories, bad tags and bad digests', () => {
    fc.assert(
      fc.property(reference, fc.nat(), (r, i) => {
        const path = [...r.path];
        const k = i % path.length;
        path[k] = `${path[k]}X`;
        expect(() => parseReference(`${r.host}/${path.join('/')}`)).toThrow(
          /must be lowercase|must be lowercase letters/,
        );
      }),
    );
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1, maxLength: 140 })
          .filter((t) => !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(t) && !/[:/@\s]/.test(t)),
        (t) => {
          expect(() => parseReference(`reg.io/app:${t}`)).toThrow(AiboxError);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc
          .string({ maxLength: 80 })
          .filter(
            (d) => !/^sha256:[0-9a-f]{64}$/.test(d) && !/^sha512:[0-9a-f]{128}$/.test(d) && !d.includes('@'),
          ),
        (d) => {
          expect(() => parseReference(`reg.io/app@${d}`)).toThrow(AiboxError);
        },
      ),
    );
  });

  it('never throws anything but AiboxError INVALID_REFERENCE, and its output is always re-parseable', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.stringMatching(/^[A-Za-z0-9.:/@_-]{0,80}$/)),
        (s) => {
          try {
            const r = parseReference(s);
            expect(parseReference(formatReference(r))).toEqual(r);
          } catch (e) {
            expect(e).toBeInstanceOf(AiboxError);
            expect((e as AiboxError).code).toBe('INVALID_REFERENCE');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('one tag rule and one host rule', () => {
  it('recognises registry hosts, IPv6 literals included', () => {
    for (const yes of [
      '[::1]:5000/aibox/base',
      '[::1]/aibox/base',
      'localhost/x',
      'localhost:5000/x',
      'a.b/x',
    ])
      expect(hasRegistryHost(yes), yes).toBe(true);
    for (const no of ['aibox/base', 'base', '/x', 'Team/app']) expect(hasRegistryHost(no), no).toBe(false);
    expect(parseReference('[::1]:5000/aibox/base:v1').registry).toBe('[::1]:5000');
  });

  it('builds the tag grammar for whole tags and for prefixes', () => {
    expect(TAG_PATTERN.test('a'.repeat(128))).toBe(true);
    expect(TAG_PATTERN.test('a'.repeat(129))).toBe(false);
    expect(TAG_PATTERN.test('.x')).toBe(false);
    expect(tagPattern(80).test('a'.repeat(80))).toBe(true);
    expect(tagPattern(80).test('a'.repeat(81))).toBe(false);
  });

  it('is written once in src/ (no copies of the tag regex or the host test elsewhere)', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory()
          ? d.name === '__tests__'
            ? []
            : walk(join(dir, d.name))
          : d.name.endsWith('.ts')
            ? [join(dir, d.name)]
            : [],
      );
    const copies = walk(root)
      .filter((f) => !f.endsWith(join('oci', 'reference.ts')))
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        return (
          text.includes('[A-Za-z0-9_][A-Za-z0-9._-]') || /includes\(':'\) \|\| \w+ === 'localhost'/.test(text)
        );
      })
      .map((f) => f.slice(root.length));
    expect(copies).toEqual([]);
  });
});
