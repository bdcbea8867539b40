import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AiboxError } from '../../core/errors.js';
import { parseDeveloperConfigText, parsePlatformConfigText } from '../parse.js';
import { SCANNERS, SEVERITIES, validatePlatformConfig } from '../schema.js';

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const host = fc
  .tuple(
    fc.array(label, { minLength: 1, maxLength: 3 }),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([labels, port]) => `${labels.join('.')}${port === undefined ? '' : `:${port}`}`);
const variantName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const tagPrefix = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
const date = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const text = fc.string({ minLength: 1, maxLength: 30 });

// Variants whose `from` only points at earlier variants: valid by construction (no cycles).
const variants = fc.uniqueArray(variantName, { minLength: 1, maxLength: 6 }).chain((names) =>
  fc
    .tuple(
      ...names.map((_, i) =>
        fc.record(
          {
            tagPrefix,
            from:
              i === 0 ? fc.constant(null) : fc.option(fc.constantFrom(...names.slice(0, i)), { nil: null }),
            containerfile: text,
            displayName: text,
          },
          { requiredKeys: ['tagPrefix'] },
        ),
      ),
    )
    .map((vs) => Object.fromEntries(names.map((n, i) => [n, vs[i]]))),
);

const platformRaw = fc.record(
  {
    registry: fc.record(
      {
        host: fc.option(host, { nil: null }),
        project: fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/),
        insecure: fc.array(host, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    embedded: fc.record(
      { port: fc.integer({ min: 1, max: 65535 }), dataDir: fc.option(text, { nil: null }) },
      { requiredKeys: [] },
    ),
    engine: fc.record(
      {
        podman: text,
        runtime: fc.option(text, { nil: null }),
        ulimits: fc.array(
          fc
            .tuple(fc.constantFrom('nofile', 'nproc'), fc.nat(), fc.nat())
            .map(([n, a, b]) => `${n}=${a}:${b}`),
        ),
        buildConcurrency: fc.integer({ min: 1, max: 64 }),
        tlsVerify: fc.option(fc.boolean(), { nil: null }),
      },
      { requiredKeys: [] },
    ),
    baseImage: text,
    variants,
    signing: fc.record(
      {
        key: fc.option(text, { nil: null }),
        identity: text,
        trustedKeys: fc.array(
          fc.record({
            name: text,
            path: text,
            notBefore: fc.option(date, { nil: null }),
            notAfter: fc.option(date, { nil: null }),
          }),
          { maxLength: 2 },
        ),
        rotationDays: fc.integer({ min: 1, max: 3650 }),
      },
      { requiredKeys: [] },
    ),
    scan: fc.record(
      {
        scanner: fc.constantFrom(...SCANNERS),
        failOn: fc.uniqueArray(fc.constantFrom(...SEVERITIES)),
        ignore: fc.array(
          fc.record({ id: fc.stringMatching(/^CVE-\d{4}-\d{4,6}$/), reason: text, expires: date }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

function onlyAiboxErrors(f: () => unknown): void {
  try {
    f();
  } catch (e: unknown) {
    if (!(e instanceof AiboxError)) throw e;
    expect(['CONFIG_INVALID']).toContain(e.code);
  }
}

describe('config properties', () => {
  it('any config built from valid parts validates, and round-trips through YAML unchanged', () => {
    fc.assert(
      fc.property(platformRaw, (raw) => {
        const config = validatePlatformConfig(raw);
        expect(parsePlatformConfigText(stringify(raw), 'p.yaml')).toEqual(config);
        expect(parsePlatformConfigText(stringify(config), 'p.yaml')).toEqual(config);
        expect(Object.keys(config.variants)).toEqual(Object.keys(raw.variants ?? config.variants));
      }),
      { numRuns: 200 },
    );
  });

  it('random values never throw anything but CONFIG_INVALID', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 4 }), (raw) => {
        onlyAiboxErrors(() => validatePlatformConfig(raw));
        onlyAiboxErrors(() => validatePlatformConfig({ registry: raw, variants: { a: raw }, scan: raw }));
      }),
      { numRuns: 300 },
    );
  });

  it('random text never throws anything but CONFIG_INVALID', () => {
    const yamlish = fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom(
          '\n',
          ':',
          '- ',
          '  ',
          '[',
          ']',
          '{',
          '}',
          '&a ',
          '*a',
          '!!str ',
          '? ',
          '#',
          '"',
          "'",
          '---\n',
          '|\n',
        ),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          yamlish.map((a) => a.join('')),
        ),
        (text) => {
          onlyAiboxErrors(() => parsePlatformConfigText(text, 'g.yaml'));
          onlyAiboxErrors(() => parseDeveloperConfigText(text, 'g.yaml'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('garbage YAML mappings never throw anything but CONFIG_INVALID', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), (raw) => {
        onlyAiboxErrors(() => parsePlatformConfigText(stringify(raw), 'g.yaml'));
      }),
      { numRuns: 200 },
    );
  });
});
