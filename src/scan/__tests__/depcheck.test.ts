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

describe('the I/O patterns', () => {
  it('match what they are meant to catch', () => {
    const probe = (line: string) => /(?<![.\w])process\s*(\.|\[)/.test(line);
    expect(probe('const t = process.env.SLACK_WEBHOOK_URL;')).toBe(true);
    expect(probe("const t = process['env'];")).toBe(true);
    expect(probe('const processed = 1;')).toBe(false);
  });
});

describe('pure modules', () => {
  it.each(PURE)('%s does no I/O', async (file) => {
    const text = await readFile(`${SRC}${file}`, 'utf8');
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    for (const i of imports) {
      expect(i, `${file} imports ${i}`).not.toMatch(/^node:|adapters\/|^undici$/);
    }
    // Code only (comments may name these words); each pattern on its own so each can match.
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    for (const banned of [
      /(?<![.\w])process\s*(\.|\[)/, // process.env, process.exit, process['env']
      /(?<![.\w])(fetch|spawn|spawnSync|exec|execSync|readFile|readFileSync|writeFile|writeFileSync)\s*\(/, // not re.exec(
      /\bimport\s*\(/, // a dynamic import of an adapter
    ])
      expect(code, `${file} matches ${banned}`).not.toMatch(banned);
  });
});
