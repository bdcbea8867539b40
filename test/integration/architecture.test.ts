/**
 * The dependency rules of docs/architecture.md, checked on the import graph of src/:
 * one spawner, one HTTP transport per remote, a pure core without I/O, a CLI nobody imports,
 * command files that only map flags, and workflows typed against ports (never concrete adapters),
 * including the folders reserved for the features to come (cve, sandbox, retention, fleet, service).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
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
  'oci/memory-store.ts',
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
    // The registry side (client and the embedded registry's probe) is on node:http, no fetch().
    expect(fetchers).toEqual(['notify/slack.ts', 'scan/harbor-transport.ts', 'signing/vault.ts']);
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

// ---------------------------------------------------------------- issue 8: the shape for growth

/** A command file is flag mapping + one workflow call + rendering (crane's delete.go). */
const COMMAND_MAX_LINES = 150;
/**
 * ALLOWLIST of today's offenders, each with what it still holds. The lead empties it when the
 * branches that move these workflows out have landed; the test fails when an entry is no longer
 * needed, so the list only shrinks.
 */
const COMMAND_ALLOWLIST: Readonly<Record<string, readonly ('lines' | 'fs' | 'child_process')[]>> = {
  // empty: every command file is flag mapping now (keep it that way)
};

/** Folders that hold workflows: they receive ports and never construct or import concrete adapters. */
const WORKFLOW_DIRS = ['pipeline/', 'cve/', 'sandbox/', 'retention/', 'fleet/'];
const WORKFLOW_FILES = [
  'signing/workflows.ts',
  'signing/store.ts',
  'channel/store.ts',
  'channel/trusted.ts',
  'base/local-base.ts',
  'inspect/describe.ts',
];
/** Today's workflow offenders (none); same rule as COMMAND_ALLOWLIST. */
const WORKFLOW_ALLOWLIST: readonly string[] = [];

/** Pure cores of the future folders: checked as soon as they exist. */
const PURE_WHEN_PRESENT = ['cve/triage.ts', 'retention/plan.ts', 'cve/floor.ts', 'cve/request.ts'];

/** The composition roots: the only places that construct adapters. */
const COMPOSITION_ROOTS = ['cli/', 'service/'];

const isWorkflow = (path: string) =>
  WORKFLOW_DIRS.some((d) => path.startsWith(d)) || WORKFLOW_FILES.includes(path);

/** Value imports (not `import type`, not `type X` members) of the concrete adapters and their factories. */
function concreteAdapterImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
    if (
      m[1] ||
      !/(oci\/client|engine\/podman|adapters\/exec|scan\/factory|notify\/factory)(\.js)?$/.test(m[3]!)
    )
      continue;
    for (const raw of m[2]!.split(',')) {
      const name = raw.trim();
      if (!name || name.startsWith('type ')) continue;
      if (
        /^(RegistryClient|createRegistryClient|Podman|createExec|spawnDaemon|scannerFromConfig|notifierFromConfig)\b/.test(
          name,
        )
      )
        found.push(`${name} from ${m[3]}`);
    }
  }
  for (const m of code(text).matchAll(/\bnew\s+(RegistryClient|Podman)\s*\(/g)) found.push(`new ${m[1]}(`);
  return found;
}

describe('shape for growth (issue 8)', () => {
  const commandFiles = sources.filter((s) => /^cli\/commands\/[^/]+\.ts$/.test(s.path));

  it('lists only command files that exist and still offend', () => {
    const known = new Set(commandFiles.map((s) => s.path));
    expect(Object.keys(COMMAND_ALLOWLIST).filter((p) => !known.has(p))).toEqual([]);
  });

  it.each(commandFiles.map((s) => [s.path, s] as const))(
    '%s is flag mapping: at most 150 lines, no node:fs or node:child_process',
    (path, s) => {
      const problems: ('lines' | 'fs' | 'child_process')[] = [];
      if (s.text.split('\n').length > COMMAND_MAX_LINES) problems.push('lines');
      if (imports(s.text).some((i) => /^(node:)?fs(\/promises)?$/.test(i))) problems.push('fs');
      if (imports(s.text).some((i) => /^(node:)?child_process$/.test(i))) problems.push('child_process');
      // An allowlisted file must still have exactly the listed problems (so the list only shrinks).
      expect(problems).toEqual(COMMAND_ALLOWLIST[path] ?? []);
    },
  );

  it('keeps workflows on ports: no concrete adapter is imported or constructed outside the composition roots', () => {
    const offenders = sources
      .filter((s) => isWorkflow(s.path))
      .map((s) => ({ path: s.path, found: concreteAdapterImports(s.text) }))
      .filter((o) => o.found.length > 0);
    expect(offenders.map((o) => o.path).sort()).toEqual([...WORKFLOW_ALLOWLIST].sort());
    expect(WORKFLOW_FILES.filter((p) => !sources.some((s) => s.path === p))).toEqual([]);
  });

  it('constructs the registry client and Podman only in a composition root (or the adapter itself)', () => {
    const constructing = sources
      .filter((s) => !COMPOSITION_ROOTS.some((r) => s.path.startsWith(r)))
      .filter((s) => /\bnew\s+(RegistryClient|Podman)\s*\(|\bcreateRegistryClient\s*\(/.test(code(s.text)))
      .map((s) => s.path);
    expect(constructing).toEqual(['oci/client.ts']);
  });

  it.each(PURE_WHEN_PRESENT)('%s (when present) does no I/O', (path) => {
    const s = sources.find((x) => x.path === path);
    if (s === undefined) {
      expect(sources.some((x) => x.path === path)).toBe(false);
      return;
    }
    expect(imports(s.text).filter((i) => IO_MODULES.test(i))).toEqual([]);
    expect(code(s.text)).not.toMatch(/\bprocess\.(env|argv|cwd|stdout|stderr|exit)\b|\bfetch\(/);
  });

  it('keeps the service a second composition root: nothing outside it imports src/service, and it does not import src/cli', () => {
    const intoService = sources.filter(
      (s) => !s.path.startsWith('service/') && imports(s.text).some((i) => /(^|\/)service\//.test(i)),
    );
    expect(intoService.map((s) => s.path)).toEqual([]);
    const serviceIntoCli = sources.filter(
      (s) => s.path.startsWith('service/') && imports(s.text).some((i) => /\/cli\//.test(i)),
    );
    expect(serviceIntoCli.map((s) => s.path)).toEqual([]);
  });

  it('gives each future folder its README, so a newcomer finds where a feature goes', () => {
    for (const dir of ['cve', 'sandbox', 'retention', 'fleet', 'service'])
      expect(existsSync(join(SRC, dir, 'README.md')), `src/${dir}/README.md`).toBe(true);
  });
});
