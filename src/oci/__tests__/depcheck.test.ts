/** Import rules for src/oci (see src/oci/README.md): pure modules do no I/O; only transport.ts talks HTTP. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(__dirname, '..');
const imports = (file: string) =>
  [...readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
const PURE = ['reference.ts', 'digest.ts', 'manifest.ts', 'auth.ts', 'link.ts', 'errors.ts', 'pool.ts'];
const IO = /^(node:)?(fs|fs\/promises|net|http|https|child_process|dgram|tls)$/;

describe('src/oci import rules', () => {
  it('keeps the pure modules free of I/O imports', () => {
    for (const f of PURE)
      expect(
        imports(f).filter((i) => i !== undefined && IO.test(i)),
        f,
      ).toEqual([]);
  });
  it('lets only transport.ts import node:http/https, and nothing import undici', () => {
    const users = readdirSync(dir).filter(
      (f) => f.endsWith('.ts') && imports(f).some((i) => /^(node:)?https?$|^undici$/.test(i ?? '')),
    );
    expect(users).toEqual(['transport.ts']);
    expect(imports('transport.ts')).not.toContain('undici');
  });
  it('imports nothing from other aibox areas except core', () => {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const outside = imports(f).filter((i) => i?.startsWith('../') && !i.startsWith('../core/'));
      expect(outside, f).toEqual([]);
    }
  });
});
