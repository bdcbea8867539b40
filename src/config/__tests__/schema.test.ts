import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import {
  defaultPlatformConfig,
  didYouMean,
  validateDeveloperConfig,
  validatePlatformConfig,
} from '../schema.js';

function problem(raw: unknown): string {
  try {
    validatePlatformConfig(raw);
  } catch (e: unknown) {
    if (isAiboxError(e, 'CONFIG_INVALID')) return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('defaultPlatformConfig', () => {
  it('has the runbook defaults: embedded registry, five variants in build order', () => {
    const c = defaultPlatformConfig();
    expect(c.registry).toEqual({ host: null, project: 'aibox', insecure: [], requestTimeoutSeconds: 60 });
    expect(c.embedded).toEqual({ port: 5000, dataDir: null });
    expect(c.baseImage).toBe('docker.io/library/ubuntu:24.04');
    expect(Object.keys(c.variants)).toEqual(['base', 'java', 'node', 'dotnet', 'full']);
    expect(c.variants.java).toEqual({
      tagPrefix: '21-24.04',
      from: 'base',
      containerfile: 'images/java/Containerfile',
      displayName: 'aibox-java',
    });
    expect(c.variants.base?.from).toBeNull();
    expect(c.variants.full?.tagPrefix).toBe('24.04');
    expect(c.signing).toEqual({
      key: null,
      identity: 'platform-ci@aibox.internal',
      trustedKeys: [],
      rotationDays: 365,
    });
    expect(c.scan).toEqual({
      scanner: 'trivy',
      trivyPath: 'trivy',
      failOn: ['CRITICAL'],
      ignore: [],
      concurrency: 2,
    });
    expect(c.engine.buildConcurrency).toBe(2);
    expect(c.engine.tlsVerify).toBeNull();
  });

  it('returns a fresh object each time (callers may not corrupt the defaults)', () => {
    const a = defaultPlatformConfig();
    a.scan.failOn.push('HIGH');
    Object.assign(a.variants.base ?? {}, { tagPrefix: 'x' });
    const b = defaultPlatformConfig();
    expect(b.scan.failOn).toEqual(['CRITICAL']);
    expect(b.variants.base?.tagPrefix).toBe('24.04');
  });
});

describe('validatePlatformConfig', () => {
  describe('when a file is partial', () => {
    it('keeps every default it does not mention', () => {
      const c = validatePlatformConfig({ registry: { host: 'harbor.internal' } });
      expect(c.registry).toEqual({
        host: 'harbor.internal',
        project: 'aibox',
        insecure: [],
        requestTimeoutSeconds: 60,
      });
      expect(Object.keys(c.variants)).toHaveLength(5);
      expect(c.scan.scanner).toBe('trivy');
    });

    it('replaces the whole variant map and fills per-variant defaults', () => {
      const c = validatePlatformConfig({ variants: { mini: { tagPrefix: '1.0' } } });
      expect(c.variants).toEqual({
        mini: {
          tagPrefix: '1.0',
          from: null,
          containerfile: 'images/mini/Containerfile',
          displayName: 'aibox-mini',
        },
      });
    });

    it('keeps the order of variants as written', () => {
      const c = validatePlatformConfig({
        variants: {
          zeta: { tagPrefix: 'z' },
          alpha: { tagPrefix: 'a', from: 'zeta' },
          mid: { tagPrefix: 'm' },
        },
      });
      expect(Object.keys(c.variants)).toEqual(['zeta', 'alpha', 'mid']);
    });
  });

  describe('when a key is unknown', () => {
    it('lists the allowed keys and suggests the closest', () => {
      expect(problem({ scan: { scaner: 'trivy' } })).toBe(
        'platform config: scan.scaner: unknown key (allowed: scanner, trivyPath, concurrency, failOn, ignore; did you mean "scanner"?)',
      );
    });
    it('does not guess when nothing is close', () => {
      expect(problem({ wibble: 1 })).toMatch(
        /^platform config: wibble: unknown key \(allowed: registry, embedded, engine, os, baseImage, variants, signing, scan, notify(?:, [A-Za-z]+)*\)$/,
      );
    });
    it('rejects unknown keys inside variants', () => {
      expect(problem({ variants: { base: { tagPrefix: 'x', form: 'base' } } })).toMatch(
        /variants\.base\.form: unknown key \(allowed: tagPrefix, from, containerfile, displayName; did you mean "from"\?\)/,
      );
    });
  });

  describe('when a value is invalid', () => {
    it.each([
      [
        { scan: { scanner: 'trivvy' } },
        'scan.scanner: invalid value "trivvy" (allowed: trivy, harbor, none)',
      ],
      [
        { scan: { failOn: ['SEVERE'] } },
        'scan.failOn[0]: invalid value "SEVERE" (allowed: CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)',
      ],
      [{ embedded: { port: 70000 } }, 'embedded.port: invalid value 70000: must be <= 65535'],
      [{ embedded: { port: '5000' } }, 'embedded.port: expected number, got string "5000"'],
      [
        { registry: { host: 'https://harbor' } },
        'registry.host: invalid value "https://harbor": must be host[:port]',
      ],
      [{ registry: { project: 'AiBox' } }, 'registry.project: invalid value "AiBox"'],
      [
        { engine: { ulimits: ['nofile 1024'] } },
        'engine.ulimits[0]: invalid value "nofile 1024": must be name=soft[:hard]',
      ],
      [{ engine: { buildConcurrency: 0 } }, 'engine.buildConcurrency: invalid value 0: must be >= 1'],
      [
        { scan: { ignore: [{ id: 'CVE-1', reason: 'r', expires: '2026-02-30' }] } },
        'scan.ignore[0].expires: invalid value "2026-02-30": must be a calendar date',
      ],
      [
        { scan: { ignore: [{ id: 'CVE-1', expires: '2026-02-28' }] } },
        'scan.ignore[0].reason: required key is missing',
      ],
      [
        { notify: { slackWebhook: 'not a url' } },
        'notify.slackWebhook: invalid value "not a url": must be an http(s) URL',
      ],
      [
        { signing: { trustedKeys: [{ name: 'k', path: 'k.pub', notAfter: '2026-13-01' }] } },
        'signing.trustedKeys[0].notAfter: invalid value "2026-13-01"',
      ],
      [{ variants: { base: { tagPrefix: '-bad' } } }, 'variants.base.tagPrefix: invalid value "-bad"'],
      [{ variants: {} }, 'variants: at least one variant is required'],
      [{ variants: { Base: { tagPrefix: 'x' } } }, 'variants.Base: invalid variant name "Base"'],
      [
        { variants: { base: { tagPrefix: 'x', from: 'nope' } } },
        'variants.base.from: unknown variant "nope" (allowed: null)',
      ],
      [
        { variants: { a: { tagPrefix: 'a', from: 'b' }, b: { tagPrefix: 'b', from: 'a' } } },
        'variants.a.from: variants form a cycle: a -> b -> a',
      ],
      [{ variants: { a: { tagPrefix: 'a', from: 'a' } } }, 'variants.a.from: variants form a cycle: a -> a'],
      [{ registry: null }, 'registry: expected mapping, got null'],
      ['text', '(top level): expected mapping, got string "text"'],
    ])('%j → %s', (raw, expected) => {
      expect(problem(raw)).toContain(expected);
    });

    it('reports every problem, one per line', () => {
      const msg = problem({ scan: { scanner: 'x' }, embedded: { port: -1 } });
      expect(msg).toMatch(/^platform config: 2 problems:\n {2}/);
      expect(msg).toContain('scan.scanner');
      expect(msg).toContain('embedded.port');
    });

    it('gives a hint pointing at the docs', () => {
      try {
        validatePlatformConfig({ x: 1 });
        expect.unreachable();
      } catch (e: unknown) {
        expect(isAiboxError(e) && e.hint).toMatch(/docs\/configuration\.md/);
      }
    });
  });

  it('accepts every documented form of the values it allows', () => {
    const c = validatePlatformConfig({
      registry: { host: '[::1]:5000', insecure: ['registry.lan:5000', '10.0.0.1'] },
      engine: { tlsVerify: false, ulimits: ['nofile=1024:1024', 'nproc=-1'] },
      signing: {
        key: 'vault://secret/aibox/cosign-key',
        trustedKeys: [
          { name: 'k', path: 'k.pub', notBefore: '2026-01-01', notAfter: '2027-01-01T00:00:00Z' },
        ],
      },
      scan: {
        scanner: 'none',
        ignore: [{ id: 'CVE-2026-1234', reason: 'not reachable', expires: '2026-12-31' }],
      },
      notify: { slackWebhook: 'https://hooks.slack.com/services/x' },
    });
    expect(c.registry.host).toBe('[::1]:5000');
    expect(c.signing.trustedKeys[0]?.notAfter).toBe('2027-01-01T00:00:00Z');
  });
});

describe('validateDeveloperConfig', () => {
  it('defaults to the embedded registry and the base variant', () => {
    const c = validateDeveloperConfig({});
    expect(c.registry.host).toBeNull();
    expect(c.variant).toBe('base');
    expect(c.engine.podman).toBe('podman');
  });
  it('rejects platform-only keys', () => {
    expect(() => validateDeveloperConfig({ variants: {} })).toThrow(
      'developer config: variants: unknown key (allowed: registry, variant, trustedKeys, engine, fleet; did you mean "variant"?)',
    );
  });
});

describe('didYouMean', () => {
  it('suggests close words only', () => {
    expect(didYouMean('trivypath', ['scanner', 'trivyPath'])).toBe('trivyPath');
    expect(didYouMean('zzzz', ['scanner', 'trivyPath'])).toBeUndefined();
  });
});
