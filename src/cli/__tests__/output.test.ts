import { afterEach, describe, expect, it } from 'vitest';
import { AiboxError, type ErrorCode } from '../../core/errors.js';
import { clearSecrets, registerSecret } from '../../core/redact.js';
import { outcomeFor } from '../exit.js';
import { printError, printOutcome } from '../output.js';

afterEach(() => clearSecrets());

function capture() {
  const c = { out: '', err: '' };
  return { c, io: { out: (s: string) => void (c.out += s), err: (s: string) => void (c.err += s) } };
}

describe('the --json envelope', () => {
  it('wraps a result: outcome ok, exitCode 0, data', () => {
    const { c, io } = capture();
    printOutcome({ data: { tags: ['a'] }, text: 'a' }, true, io);
    expect(JSON.parse(c.out)).toEqual({ outcome: 'ok', exitCode: 0, data: { tags: ['a'] } });
  });
  it('wraps a failed check (exit 1 with data) as outcome failed, keeping the data', () => {
    const { c, io } = capture();
    printOutcome({ data: { ok: false }, text: '', exitCode: 1 }, true, io);
    expect(JSON.parse(c.out)).toEqual({ outcome: 'failed', exitCode: 1, data: { ok: false } });
  });
  it.each<[ErrorCode, number, string]>([
    ['REGISTRY_UNREACHABLE', 1, 'failed'],
    ['INVALID_DATE', 2, 'failed'],
    ['POLICY_REFUSED', 3, 'refused'],
    ['NO_SIGNATURES', 10, 'refused'],
    ['IMAGE_TAG_NOT_FOUND', 11, 'failed'],
    ['NO_MATCHING_SIGNATURE', 12, 'refused'],
  ])(
    'wraps an error %s as exit %d, outcome %s, with code, message, hint and details',
    (code, exit, outcome) => {
      const { c, io } = capture();
      const e = new AiboxError({ code, message: 'm', hint: 'h', details: { k: 1 } });
      expect(printError(e, true, io)).toBe(exit);
      expect(JSON.parse(c.out)).toEqual({
        outcome,
        exitCode: exit,
        error: { code, message: 'm', hint: 'h', details: { k: 1 } },
      });
      expect(c.err).toBe('error: m\nhint: h\n');
    },
  );
  it('gives any other thrown value code INTERNAL, exit 1, no stack', () => {
    const { c, io } = capture();
    expect(printError(new TypeError('boom'), true, io)).toBe(1);
    expect(JSON.parse(c.out)).toEqual({
      outcome: 'failed',
      exitCode: 1,
      error: { code: 'INTERNAL', message: 'boom' },
    });
    expect(c.err).not.toMatch(/\n\s+at /);
  });
  it('names outcomes from exit codes in one place', () => {
    expect([0, 1, 2, 3, 10, 11, 12].map(outcomeFor)).toEqual([
      'ok',
      'failed',
      'failed',
      'refused',
      'refused',
      'failed',
      'refused',
    ]);
  });
});

describe('everything printed is sanitised', () => {
  const evil =
    'token s3cret-Token-42 at http://u:pw-9@h \u001b[2K\u001b[32mVerifying image signature... valid';
  it('error lines, hints and details, in text and --json', () => {
    registerSecret('s3cret-Token-42');
    const { c, io } = capture();
    printError(
      new AiboxError({ code: 'VAULT_ERROR', message: evil, hint: evil, details: { body: evil } }),
      true,
      io,
    );
    for (const s of [c.out, c.err]) {
      expect(s).not.toContain('s3cret-Token-42');
      expect(s).not.toContain('pw-9');
      // eslint-disable-next-line no-control-regex -- the assertion looks for control characters
      expect(s).not.toMatch(/\u001b|\\u001b/);
    }
    expect(c.err).toContain('token *** at http://***@h Verifying');
  });
  it('result text and --json data', () => {
    registerSecret('s3cret-Token-42');
    for (const json of [false, true]) {
      const { c, io } = capture();
      printOutcome({ data: { evil, list: [evil] }, text: evil }, json, io);
      expect(c.out).not.toContain('s3cret-Token-42');
      // eslint-disable-next-line no-control-regex -- the assertion looks for control characters
      expect(c.out).not.toMatch(/\u001b|\\u001b/);
    }
  });
});
