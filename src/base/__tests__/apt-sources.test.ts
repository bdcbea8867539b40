import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import {
  archiveUris,
  parseAptSources,
  releaseSources,
  renderDeb822,
  type AptSource,
} from '../apt-sources.js';

const DEB822 = `Types: deb
# a comment line
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
 -----END PGP PUBLIC KEY BLOCK-----
`;

describe('parseAptSources', () => {
  describe('when the text is deb822', () => {
    it('reads every stanza, including multi-line fields', () => {
      const s = parseAptSources(DEB822, { format: 'deb822', source: 'debian.sources' });
      expect(s).toEqual([
        {
          types: ['deb'],
          uris: ['http://mirror.example/debian'],
          suites: ['bookworm', 'bookworm-updates'],
          components: ['main'],
          enabled: true,
        },
        {
          types: ['deb'],
          uris: ['http://mirror.example/debian-security'],
          suites: ['bookworm-security'],
          components: ['main'],
          enabled: true,
        },
      ]);
    });

    it('honours Enabled: no and case-insensitive field names', () => {
      const s = parseAptSources(
        'types: deb\nuris: http://a/\nsuites: bookworm\ncomponents: main\nEnabled: no\n',
        {
          format: 'deb822',
        },
      );
      expect(s[0]?.enabled).toBe(false);
    });

    it('rejects a stanza without URIs, naming file and line', () => {
      expect(() =>
        parseAptSources('\n\nTypes: deb\nSuites: x\n', { format: 'deb822', source: 'f.sources' }),
      ).toThrow(/f\.sources line 3: stanza has no "URIs"/);
    });

    it('rejects a line that is not a field', () => {
      expect(() => parseAptSources('Types deb\n', { format: 'deb822' })).toThrow(/expected "Field: value"/);
    });
  });

  describe('when the text is one-line format', () => {
    it('skips comments and options', () => {
      const s = parseAptSources(
        '# header\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib # tail\n\ndeb-src http://m.example/debian bookworm main\ndeb http://m.example/flat ./\n',
        { format: 'one-line' },
      );
      expect(s).toEqual([
        {
          types: ['deb'],
          uris: ['http://m.example/debian'],
          suites: ['bookworm'],
          components: ['main', 'contrib'],
          enabled: true,
        },
        {
          types: ['deb-src'],
          uris: ['http://m.example/debian'],
          suites: ['bookworm'],
          components: ['main'],
          enabled: true,
        },
        { types: ['deb'], uris: ['http://m.example/flat'], suites: ['./'], components: [], enabled: true },
      ]);
    });

    it.each([
      ['rpm http://x bookworm main', /type must be deb or deb-src/],
      ['deb [arch=amd64 http://x bookworm main', /without closing/],
      ['deb http://x', /missing suite/],
      ['deb http://x bookworm', /needs at least one component/],
    ])('rejects %j', (line, rule) => {
      expect(() => parseAptSources(line, { format: 'one-line', source: 'sources.list' })).toThrow(rule);
    });
  });

  describe('when given arbitrary text (untrusted input)', () => {
    it('returns sources or throws AiboxError, never anything else', () => {
      fc.assert(
        fc.property(
          fc.string({ maxLength: 300 }),
          fc.constantFrom('deb822' as const, 'one-line' as const),
          (t, format) => {
            try {
              const out = parseAptSources(t, { format });
              for (const s of out) expect(s.uris.length).toBeGreaterThan(0);
            } catch (e: unknown) {
              expect(e).toBeInstanceOf(AiboxError);
            }
          },
        ),
      );
    });

    it('round-trips generated sources through both formats', () => {
      const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
      const uri = word.map((w) => `http://${w}.example/debian`);
      fc.assert(
        fc.property(
          fc.array(
            fc.record({ uri, suite: word, components: fc.array(word, { minLength: 1, maxLength: 3 }) }),
            {
              maxLength: 5,
            },
          ),
          (entries) => {
            const oneLine = entries
              .map((e) => `deb ${e.uri} ${e.suite} ${e.components.join(' ')}`)
              .join('\n');
            const deb822 = entries
              .map(
                (e) =>
                  `Types: deb\nURIs: ${e.uri}\nSuites: ${e.suite}\nComponents: ${e.components.join(' ')}`,
              )
              .join('\n\n');
            const want: AptSource[] = entries.map((e) => ({
              types: ['deb'],
              uris: [e.uri],
              suites: [e.suite],
              components: e.components,
              enabled: true,
            }));
            expect(parseAptSources(oneLine, { format: 'one-line' })).toEqual(want);
            expect(parseAptSources(deb822, { format: 'deb822' })).toEqual(want);
          },
        ),
      );
    });
  });
});

describe('archiveUris', () => {
  it('keeps enabled deb sources for the exact suite, skipping -security and -updates, deduplicated', () => {
    const s = parseAptSources(DEB822, { format: 'deb822' });
    const extra = parseAptSources(
      'deb http://mirror.example/debian/ bookworm main\ndeb-src http://src.example/ bookworm main\ndeb http://n.example/node nodistro main\n',
      { format: 'one-line' },
    );
    expect(archiveUris([...s, ...extra], 'bookworm')).toEqual(['http://mirror.example/debian']);
    expect(archiveUris(s, 'trixie')).toEqual([]);
  });

  it('ignores disabled stanzas', () => {
    const s = parseAptSources(
      'Types: deb\nURIs: http://a/\nSuites: bookworm\nComponents: main\nEnabled: no\n',
      {
        format: 'deb822',
      },
    );
    expect(archiveUris(s, 'bookworm')).toEqual([]);
  });
});

describe('releaseSources', () => {
  it('keeps the release, -updates and -security suites and renders deb822 that parses back', () => {
    const host = [
      ...parseAptSources(DEB822, { format: 'deb822' }),
      ...parseAptSources(
        'deb http://n.example/node nodistro main\ndeb http://m.example/debian bookworm-backports main\n',
        {
          format: 'one-line',
        },
      ),
    ];
    const r = releaseSources(host, 'bookworm');
    expect(r.map((s) => s.suites)).toEqual([['bookworm', 'bookworm-updates'], ['bookworm-security']]);
    expect(parseAptSources(renderDeb822(r), { format: 'deb822' })).toEqual(r);
    expect(renderDeb822(r)).not.toMatch(/Signed-By/);
  });
});
