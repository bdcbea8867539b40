/** The pure core of scan/ and notify/ must stay free of I/O: no node: imports, no adapters, no fetch/process. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PURE = [
  'scan/report.ts',
  'scan/policy.ts',
  'scan/cvss.ts',
  'scan/render.ts',
  'scan/scanner.ts',
  'scan/gate.ts',
  'notify/messages.ts',
  'notify/notifier.ts',
];
const SRC = fileURLToPath(new URL('../../', import.meta.url));

describe('pure modules', () => {
  it.each(PURE)('%s does no I/O', async (file) => {
    const text = await readFile(`${SRC}${file}`, 'utf8');
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    for (const i of imports) {
      expect(i, `${file} imports ${i}`).not.toMatch(/^node:|adapters\/|^undici$/);
    }
    expect(text).not.toMatch(/\b(fetch|process\.|spawn|readFile|writeFile)\s*[.(]/);
  });
});
