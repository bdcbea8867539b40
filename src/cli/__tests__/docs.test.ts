import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exitCodesHelp } from '../app.js';
import { errorCodesIn, exitCodeTable, renderDocs } from '../docs.js';
import { EXIT } from '../exit.js';
import { ctlCommandsFor, devCommandsFor } from '../main.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');

const generated = Object.entries(
  await renderDocs(read, await ctlCommandsFor(['--help']), await devCommandsFor(['--help'])),
);

describe('generated docs', () => {
  it.each(generated)(
    '%s is current (run `npm run gen` after changing commands or exit codes)',
    (path, text) => {
      expect(read(path)).toBe(text);
    },
  );

  it('the exit-code table lists every error code exactly once', () => {
    const codes = errorCodesIn(read('src/core/errors.ts'));
    expect(codes).toContain('USAGE');
    expect(codes).toContain('INTERNAL');
    const table = exitCodeTable(codes);
    for (const c of codes) expect(table.match(new RegExp(`\`${c}\``, 'g'))).toHaveLength(1);
  });

  it('--help prints every exit code from the same table', () => {
    const help = exitCodesHelp();
    for (const code of Object.values(EXIT)) expect(help).toMatch(new RegExp(`\\n  ${code} +\\S`));
  });
});

// Every relative link in every markdown file of the repository points at a file that exists.
function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    if (['node_modules', 'dist', '.git'].includes(n) || n.startsWith('dist.')) return [];
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return markdownFiles(p);
    return n.endsWith('.md') ? [p] : [];
  });
}

describe('markdown links', () => {
  const broken: string[] = [];
  for (const file of markdownFiles(root)) {
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1] ?? '';
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const path = decodeURI(target.split('#')[0] ?? '');
      if (!existsSync(join(dirname(file), path))) broken.push(`${relative(root, file)}: ${target}`);
    }
    // A file named in a code span (`docs/signing.md`, `/some/where/x.md`) must be in the repository
    // too: relative to the file or to the repository root, never outside it.
    for (const m of text.matchAll(/`([^`\s]+\.md)(?:#[^`]*)?`/g)) {
      const path = m[1] ?? '';
      const inRepo = !isAbsolute(path) && [dirname(file), root].some((d) => existsSync(join(d, path)));
      if (!inRepo) broken.push(`${relative(root, file)}: \`${path}\``);
    }
  }
  it('every relative link resolves to a file in the repository', () => {
    expect(broken).toEqual([]);
  });
});
