/**
 * The dependency rules of docs/architecture.md, checked on the import graph of src/:
 * one spawner, one HTTP transport per remote, a pure core without I/O, and a CLI nobody imports.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === '__tests__' ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const sources = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));
const imports = (text: string) => [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
// Comments mention fetch() and process.env in prose; strip them before looking for calls.
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

/** Modules that must stay pure: no filesystem, network, process or environment access. */
const PURE = [
  'core/errors.ts',
  'core/table.ts',
  'core/dates.ts',
  'registry/config.ts',
  'oci/reference.ts',
  'oci/digest.ts',
  'oci/manifest.ts',
  'oci/auth.ts',
  'oci/link.ts',
  'tags/tags.ts',
  'config/schema.ts',
  'config/model.ts',
  'signing/payload.ts',
  'signing/verify.ts',
  'signing/envelope.ts',
  'signing/trust.ts',
  'signing/messages.ts',
  'scan/report.ts',
  'scan/policy.ts',
  'channel/channel.ts',
  'pipeline/plan.ts',
  'pipeline/record.ts',
  'pipeline/inputs.ts',
  'cli/resolve.ts',
];
const IO_MODULES = /^(node:)?(fs|fs\/promises|child_process|net|http|https|dgram|tls|os)$/;

describe('architecture rules', () => {
  it('lists only modules that exist', () => {
    const known = new Set(sources.map((s) => s.path));
    expect(PURE.filter((p) => !known.has(p))).toEqual([]);
  });

  it.each(PURE)('%s does no I/O', (path) => {
    const s = sources.find((x) => x.path === path)!;
    expect(imports(s.text).filter((i) => IO_MODULES.test(i))).toEqual([]);
    expect(code(s.text)).not.toMatch(/\bprocess\.(env|argv|cwd|stdout|stderr|exit)\b|\bfetch\(/);
  });

  it('spawns processes only in src/adapters/exec.ts', () => {
    const spawners = sources.filter((s) => imports(s.text).some((i) => /^(node:)?child_process$/.test(i)));
    expect(spawners.map((s) => s.path)).toEqual(['adapters/exec.ts']);
  });

  it('talks HTTP through one transport module per remote', () => {
    // undici cost 60-90 ms of CLI start-up; the registry transport is on node:http/https.
    expect(sources.filter((s) => imports(s.text).includes('undici')).map((s) => s.path)).toEqual([]);
    expect(
      sources.filter((s) => imports(s.text).some((i) => /^(node:)?https?$/.test(i))).map((s) => s.path),
    ).toEqual(['oci/transport.ts']);
    const fetchers = sources
      .filter((s) => /\bfetch\(/.test(code(s.text)))
      .map((s) => s.path)
      .sort();
    expect(fetchers).toEqual([
      'notify/slack.ts',
      'registry/probe.ts',
      'scan/harbor-transport.ts',
      'signing/vault.ts',
    ]);
  });

  it('keeps the CLI at the top: nothing outside src/cli imports it', () => {
    const offenders = sources.filter(
      (s) => !s.path.startsWith('cli/') && imports(s.text).some((i) => /\/cli\//.test(i)),
    );
    expect(offenders.map((s) => s.path)).toEqual([]);
  });

  it('keeps src/core free of project imports', () => {
    const core = sources.filter((s) => s.path.startsWith('core/'));
    for (const s of core)
      expect(imports(s.text).filter((i) => i.startsWith('.') && !i.startsWith('./'))).toEqual([]);
  });
});
