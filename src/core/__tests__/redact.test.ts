import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  clearSecrets,
  registerUrlCredentials,
  redact,
  registerSecret,
  sanitize,
  sanitizeDeep,
  sanitizedJson,
  jsonTextMaySanitize,
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

/** The copying walk sanitizeDeep had before copy-on-write (a cycle is "[circular]"): its output is the contract. */
function copyingSanitizeDeep(value: unknown): unknown {
  const path = new Set<object>();
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return sanitize(v);
    if (v === null || typeof v !== 'object') return v;
    if (path.has(v)) return '[circular]';
    path.add(v);
    let out: unknown;
    if (Array.isArray(v)) out = v.map(deep);
    else if (v instanceof Date) out = v;
    else {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[sanitize(k)] = deep(x);
      out = o;
    }
    path.delete(v);
    return out;
  };
  return deep(value);
}

describe('sanitizeDeep: copy on write', () => {
  const dirty = fc.constantFrom(
    'hunter22',
    'http://u:p@h',
    '\u001b[31mred',
    'token=abc123',
    'Bearer abcdefghij',
  );
  const str = fc.oneof(fc.string(), dirty);
  const json = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      str,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('v')),
      fc.dictionary(str, tie('v')),
    ),
  })).v;
  it('prints the same JSON as the copying walk, for any JSON value with or without secrets', () => {
    registerSecret('hunter22');
    fc.assert(
      fc.property(json, (v) => {
        expect(JSON.stringify(sanitizeDeep(v))).toBe(JSON.stringify(copyingSanitizeDeep(v)));
      }),
      { numRuns: 300 },
    );
  });
  it('returns a clean plain value as it is, and copies only the path to a changed string', () => {
    registerSecret('hunter22');
    const clean = { a: [1, 'x', { b: 'y' }], c: { d: 'z' } };
    expect(sanitizeDeep(clean)).toBe(clean);
    const mixed = { keep: { b: 'y' }, change: ['ok', 'hunter22'] };
    const out = sanitizeDeep(mixed);
    expect(out).not.toBe(mixed);
    expect(out.keep).toBe(mixed.keep);
    expect(out.change).toEqual(['ok', '***']);
    expect(mixed.change[1]).toBe('hunter22');
  });
  it('still copies a class instance into its own properties (its toJSON is not trusted)', () => {
    const url = new URL('http://u:p@h/');
    expect(sanitizeDeep({ url })).toEqual({ url: {} });
  });
  it('writes an object reached twice twice (as JSON.stringify does); only a cycle is "[circular]"', () => {
    const shared = { s: 'x' };
    expect(sanitizeDeep([shared, shared])).toEqual([{ s: 'x' }, { s: 'x' }]);
    const loop: Record<string, unknown> = { name: 'a' };
    loop['self'] = loop;
    expect(sanitizeDeep({ loop })).toEqual({ loop: { name: 'a', self: '[circular]' } });
    expect(sanitizedJson({ loop })).toBe(JSON.stringify({ loop: { name: 'a', self: '[circular]' } }));
  });
});

describe('sanitizedJson: the JSON text of sanitizeDeep, without the walk when the text is clean', () => {
  const tricky = fc.constantFrom(
    'plain',
    'hunter22',
    'pa"ss\\word-9',
    'x=1',
    'http://u:p@h/',
    'https://hooks.slack.com/services/T0/B0/abc',
    'Bearer abcdefghijk',
    'hvs.abcdefghijklmnopqrstuv',
    '\u001b[31mred',
    'a\u0007b',
    'tab\tand\nnewline',
    'cr\r',
    'del\u007f',
    'c1\u0085',
    'bidi\u202e',
    'lone\ud800',
    'emoji \u{1f600}',
    'back\\slash u0001',
  );
  const str = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), tricky);
  const leaf = fc.oneof(
    str,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  );
  const tree = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('v')),
      fc.dictionary(str, tie('v')),
      fc.date({ noInvalidDate: true }),
    ),
  })).v;
  it('equals JSON.stringify(sanitizeDeep(v), null, 2) for any value, secrets registered or not', () => {
    registerSecret('hunter22');
    registerSecret('pa"ss\\word-9');
    fc.assert(
      fc.property(tree, fc.boolean(), (v, share) => {
        // Shared objects are written twice on both paths; class instances and URLs (toJSON) take the walk.
        const value =
          share && v !== null && typeof v === 'object'
            ? { a: v, b: [v], c: { u: new URL('http://h/') }, d: { a: v } }
            : { v, w: [v, v] };
        expect(sanitizedJson(value, 2)).toBe(JSON.stringify(sanitizeDeep(value), null, 2));
      }),
      { numRuns: 1000 },
    );
  });
  it('clears a clean text and flags every kind of change', () => {
    registerSecret('hunter22');
    expect(
      jsonTextMaySanitize(JSON.stringify({ id: 'CVE-2026-1', cmd: 'aiboxctl cve rebuild --cve x' })),
    ).toBe(false);
    for (const s of ['hunter22', 'a=b', 'http://x', '\u001b[2J', 'x\u202ey', 'Basic abc']) {
      expect(jsonTextMaySanitize(JSON.stringify({ s }))).toBe(true);
      expect(jsonTextMaySanitize(JSON.stringify({ [s]: 1 }))).toBe(true);
    }
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
