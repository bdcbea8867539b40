import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import { parseDeveloperConfigText, parsePlatformConfigText } from '../parse.js';

function message(text: string): string {
  try {
    parsePlatformConfigText(text, 'aibox.yaml');
  } catch (e: unknown) {
    if (isAiboxError(e, 'CONFIG_INVALID')) return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('parsePlatformConfigText', () => {
  describe('when the file is valid', () => {
    it('merges a partial file over the defaults', () => {
      const c = parsePlatformConfigText('registry:\n  host: harbor.internal\n', 'aibox.yaml');
      expect(c.registry.host).toBe('harbor.internal');
      expect(Object.keys(c.variants)).toEqual(['base', 'java', 'node', 'dotnet', 'full']);
    });
    it('treats an empty or comment-only file as all defaults', () => {
      expect(parsePlatformConfigText('', 'a.yaml').registry.host).toBeNull();
      expect(parsePlatformConfigText('# nothing here\n', 'a.yaml').scan.scanner).toBe('trivy');
    });
  });

  describe('when a key or value is wrong', () => {
    it('names file:line:column of an unknown key, the allowed keys and a suggestion', () => {
      const text = [
        '# header',
        'registry:',
        '  host: null',
        '',
        'scan:',
        '  failOn: [CRITICAL]',
        '  scaner: trivy',
        '',
      ].join('\n');
      expect(message(text)).toBe(
        'aibox.yaml:7:3: scan.scaner: unknown key (allowed: scanner, trivyPath, concurrency, failOn, ignore; did you mean "scanner"?)',
      );
    });

    it('names file:line:column of an invalid value and the allowed values', () => {
      const text = 'registry:\n  host: harbor.internal\nscan:\n  scanner: trivvy\n';
      expect(message(text)).toBe(
        'aibox.yaml:4:12: scan.scanner: invalid value "trivvy" (allowed: trivy, harbor, none)',
      );
    });

    it('locates items inside lists', () => {
      const text = 'scan:\n  ignore:\n    - id: CVE-2026-1\n      reason: ok\n      expires: 2026-02-30\n';
      expect(message(text)).toBe(
        'aibox.yaml:5:16: scan.ignore[0].expires: invalid value "2026-02-30": must be a calendar date written YYYY-MM-DD',
      );
    });

    it('points a missing key at its parent mapping', () => {
      expect(message('variants:\n  base:\n    from: null\n')).toBe(
        'aibox.yaml:3:5: variants.base.tagPrefix: required key is missing (expected string)',
      );
    });

    it('points an empty section at its key', () => {
      expect(message('x: 1\nembedded:\n')).toContain('aibox.yaml:2:1: embedded: expected mapping, got null');
    });

    it('reports semantic problems at the offending value', () => {
      const text =
        'variants:\n  base:\n    tagPrefix: "24.04"\n  java:\n    tagPrefix: "21-24.04"\n    from: bsae\n';
      expect(message(text)).toBe(
        'aibox.yaml:6:11: variants.java.from: unknown variant "bsae" (allowed: base, null)',
      );
    });

    it('lists several problems with their positions', () => {
      const msg = message('scan:\n  scanner: x\nembedded:\n  port: nope\n');
      expect(msg).toBe(
        [
          'aibox.yaml: 2 problems:',
          '  aibox.yaml:2:12: scan.scanner: invalid value "x" (allowed: trivy, harbor, none)',
          '  aibox.yaml:4:9: embedded.port: expected number, got string "nope"',
        ].join('\n'),
      );
    });
  });

  describe('when the YAML itself is broken', () => {
    it.each([
      ['registry:\n  host: [a, b\n', /^aibox\.yaml:\d+:\d+: YAML syntax: Flow sequence/],
      ['a: 1\na: 2\n', /^aibox\.yaml:2:1: YAML syntax: Map keys must be unique/],
      ['registry:\n\thost: x\n', /^aibox\.yaml:2:1: YAML syntax: /],
      ['a: 1\n---\nb: 2\n', /^aibox\.yaml:\d+:\d+: YAML syntax: /],
    ])('%j gives file:line', (text, pattern) => {
      expect(message(text)).toMatch(pattern);
    });
    it('says what to do', () => {
      try {
        parsePlatformConfigText('a: [', 'x.yaml');
        expect.unreachable();
      } catch (e: unknown) {
        expect(isAiboxError(e) && e.hint).toMatch(/YAML syntax/);
      }
    });
  });
});

describe('parseDeveloperConfigText', () => {
  it('parses the developer keys and locates problems', () => {
    expect(parseDeveloperConfigText('variant: java\n', 'config.yaml').variant).toBe('java');
    expect(() => parseDeveloperConfigText('variant: Java\n', 'config.yaml')).toThrow(
      /^config\.yaml:1:10: variant: invalid value "Java"/,
    );
  });
});
