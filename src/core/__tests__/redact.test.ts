import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  clearSecrets,
  registerUrlCredentials,
  redact,
  registerSecret,
  sanitize,
  sanitizeDeep,
  sanitizeRemote,
  stripControl,
} from '../redact.js';

afterEach(() => clearSecrets());

describe('redact', () => {
  it('masks URL user-info', () => {
    expect(redact('Vault at http://user:pw@vault.internal:8200 refused')).toBe(
      'Vault at http://***@vault.internal:8200 refused',
    );
  });
  it('masks registered secrets, their URL-encoded and base64 forms', () => {
    registerSecret('s3cr3t/p@ss');
    const b64 = btoa('s3cr3t/p@ss').replace(/=+$/, '');
    const out = redact(`a s3cr3t/p@ss b ${encodeURIComponent('s3cr3t/p@ss')} c ${b64}`);
    expect(out).not.toContain('s3cr3t');
    expect(out).not.toContain(b64);
  });
  it('masks Slack webhooks, auth header values and token parameters', () => {
    const out = redact(
      'posting to https://hooks.slack.com/services/T000/B000/XXXXXXXX failed; Authorization: Bearer abcdefghijkl; ?access_token=zzz',
    );
    expect(out).not.toMatch(/T000|abcdefghijkl|zzz/);
  });
  it('never leaves a registered secret in any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), fc.string(), fc.string(), (secret, pre, post) => {
        clearSecrets();
        registerSecret(secret);
        expect(redact(`${pre}${secret}${post}`)).not.toContain(secret);
      }),
    );
  });
});

describe('stripControl', () => {
  it('removes escape sequences that could fake a green line', () => {
    const evil = 'denied\r\u001b[2K\u001b[32mVerifying image signature... valid\u001b[0m\u001b]0;title\u0007';
    const out = stripControl(evil);
    // eslint-disable-next-line no-control-regex -- the assertion looks for control characters
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(out).toBe('deniedVerifying image signature... valid');
  });
  it('keeps newlines and tabs, strips bidi overrides', () => {
    expect(stripControl('a\n\tb\u202ec')).toBe('a\n\tbc');
  });
  it('leaves no control character in any input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(stripControl(s)).not.toMatch(
          // eslint-disable-next-line no-control-regex -- the assertion looks for control characters
          /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/,
        );
      }),
    );
  });
});

describe('sanitizeRemote / sanitizeDeep', () => {
  it('makes a remote string one bounded line', () => {
    const out = sanitizeRemote(`x\n`.repeat(500), 50);
    expect(out).not.toContain('\n');
    expect(out.length).toBeLessThan(80);
  });
  it('walks objects and arrays', () => {
    registerSecret('hunter22');
    expect(sanitizeDeep({ a: ['hunter22', { b: 'http://u:p@h' }], n: 1 })).toEqual({
      a: ['***', { b: 'http://***@h' }],
      n: 1,
    });
    expect(sanitize('\u001b[31mred')).toBe('red');
  });
});

describe('registerUrlCredentials', () => {
  it('registers the password and the user:password pair (and its base64, as a Basic header has it)', () => {
    registerUrlCredentials('http://vaultuser:p%40ss-w0rd-9@vault.internal:8200');
    const basic = btoa('vaultuser:p@ss-w0rd-9');
    const out = redact(`pw p@ss-w0rd-9, raw p%40ss-w0rd-9, header Authorization: Basic ${basic}; ${basic}`);
    expect(out).not.toContain('p@ss-w0rd-9');
    expect(out).not.toContain('p%40ss-w0rd-9');
    expect(out).not.toContain(basic.replace(/=+$/, ''));
  });
  it('ignores URLs without user-info', () => {
    registerUrlCredentials('https://vault.internal:8200');
    expect(redact('https://vault.internal:8200')).toBe('https://vault.internal:8200');
  });
});

describe('placeholders are instructions, not secrets', () => {
  it('keeps password=<password> and token=$TOKEN, masks real values', () => {
    expect(redact('vault kv put k cosign.password=<password>')).toBe(
      'vault kv put k cosign.password=<password>',
    );
    expect(redact('?token=$TOKEN')).toBe('?token=$TOKEN');
    expect(redact('?token=abc123')).toBe('?token=***');
  });
});
