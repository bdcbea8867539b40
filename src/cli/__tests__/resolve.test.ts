import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AiboxError } from '../../core/errors.js';
import { parseRegistryOption, resolveImage } from '../resolve.js';

const target = { host: '127.0.0.1:5000', project: 'aibox' };

describe('resolveImage', () => {
  it.each([
    ['base', { registry: '127.0.0.1:5000', repository: 'aibox/base' }],
    ['base:latest', { registry: '127.0.0.1:5000', repository: 'aibox/base', tag: 'latest' }],
    ['team/app:1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1' }],
    [
      'harbor.internal/aibox/java:21-24.04-20260221',
      { registry: 'harbor.internal', repository: 'aibox/java', tag: '21-24.04-20260221' },
    ],
    ['localhost/x/y', { registry: 'localhost', repository: 'x/y' }],
  ])('resolves %s', (input, expected) => {
    expect(resolveImage(input, target)).toMatchObject(expected);
  });

  it('adds the default tag only when neither tag nor digest is given', () => {
    expect(resolveImage('base', target, { defaultTag: 'latest' }).tag).toBe('latest');
    const d = `sha256:${'a'.repeat(64)}`;
    const r = resolveImage(`base@${d}`, target, { defaultTag: 'latest' });
    expect(r.digest).toBe(d);
    expect(r.tag).toBeUndefined();
  });

  it.each(['', ' base', 'Base', 'base:', 'base:-x', 'base@sha256:short'])(
    'rejects %j with INVALID_REFERENCE',
    (input) => {
      expect(() => resolveImage(input, target)).toThrow(AiboxError);
      try {
        resolveImage(input, target);
      } catch (e: unknown) {
        expect((e as AiboxError).code).toBe('INVALID_REFERENCE');
        expect((e as AiboxError).message).toContain('invalid reference');
      }
    },
  );

  it('never throws anything but AiboxError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          expect(resolveImage(s, target)).toBeDefined();
        } catch (e: unknown) {
          expect(e).toBeInstanceOf(AiboxError);
        }
      }),
    );
  });
});

describe('parseRegistryOption', () => {
  it('splits host and project', () => {
    expect(parseRegistryOption('127.0.0.1:5000/aibox')).toEqual({ host: '127.0.0.1:5000', project: 'aibox' });
    expect(parseRegistryOption('harbor.internal/platform/aibox/')).toEqual({
      host: 'harbor.internal',
      project: 'platform/aibox',
    });
  });
  it.each(['127.0.0.1:5000', 'harbor.internal/', '/aibox', 'h/AIBOX'])(
    'rejects %j with a usage error naming the format',
    (v) => {
      try {
        parseRegistryOption(v);
        expect.unreachable();
      } catch (e: unknown) {
        expect(e).toBeInstanceOf(AiboxError);
        expect((e as AiboxError).code).toBe('USAGE');
        expect((e as AiboxError).message).toContain('HOST[:PORT]/PROJECT');
      }
    },
  );
});
