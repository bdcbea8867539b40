/**
 * Lint for images/<variant>/Containerfile (production, cannot be built here) and
 * profiles/local/images/<variant>/Containerfile (local profile): the rules the pipeline relies on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const VARIANTS = ['base', 'java', 'node', 'dotnet', 'full'] as const;
const ROOT = join(import.meta.dirname, '../../..');

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Join continuation lines, drop comments, split into instructions (enough for linting, not a full parser). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && cur === '') continue;
    if (/^\s*#/.test(raw)) continue; // comment inside a continued instruction
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    if (cur.trim() !== '') {
      const m = /^\s*(\S+)\s*(.*)$/.exec(cur) as RegExpExecArray;
      out.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() });
    }
    cur = '';
  }
  return out;
}

const LABELS = [
  'org.opencontainers.image.created',
  'org.opencontainers.image.version',
  'org.opencontainers.image.revision',
  'org.opencontainers.image.base.name',
  'org.opencontainers.image.base.digest',
  'dev.aibox.variant',
  'dev.aibox.mandatory-update',
  'dev.aibox.min-image-date',
];
const BUILD_ARGS = [
  'CREATED',
  'VERSION',
  'REVISION',
  'BASE_NAME',
  'BASE_DIGEST',
  'VARIANT',
  'MANDATORY_UPDATE',
  'MIN_IMAGE_DATE',
];

function commonRules(file: string, variant: string, usesApt: boolean) {
  const ins = instructions(readFileSync(join(ROOT, file), 'utf8'));
  const fromIdx = ins.findIndex((i) => i.op === 'FROM');
  const froms = ins.filter((i) => i.op === 'FROM');

  it('declares ARG BASE_IMAGE (no default) before a single FROM ${BASE_IMAGE}', () => {
    expect(froms).toHaveLength(1);
    expect(froms[0]?.args).toBe('${BASE_IMAGE}');
    expect(ins.slice(0, fromIdx)).toEqual([{ op: 'ARG', args: 'BASE_IMAGE' }]);
  });

  it('declares every pipeline build arg after FROM and sets every label from it', () => {
    const args = ins
      .slice(fromIdx)
      .filter((i) => i.op === 'ARG')
      .map((i) => i.args.split('=')[0]);
    for (const a of BUILD_ARGS) expect(args).toContain(a);
    const labels = ins
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const l of LABELS)
      expect(labels).toMatch(new RegExp(`${l.replace(/\./g, '\\.')}="\\$\\{[A-Z_]+\\}"`));
    expect(ins.find((i) => i.op === 'ARG' && i.args.startsWith('VARIANT='))?.args).toBe(
      `VARIANT="${variant}"`,
    );
  });

  it('ends as a non-root user', () => {
    const users = ins.filter((i) => i.op === 'USER');
    const last = users[users.length - 1];
    expect(last?.args).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(last?.args);
  });

  it(usesApt ? 'cleans apt lists in every RUN that uses apt-get' : 'runs no apt-get at all', () => {
    const aptRuns = ins.filter((i) => i.op === 'RUN' && i.args.includes('apt-get'));
    // Never vacuous: a file expected to use apt must have apt RUNs; one that must not, has none.
    if (usesApt) expect(aptRuns.length).toBeGreaterThan(0);
    else expect(aptRuns).toEqual([]);
    for (const r of aptRuns) {
      expect(r.args).toMatch(/apt-get update/);
      expect(r.args).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
  });

  it('uses no shell pipes into an interpreter (curl | sh)', () => {
    const runs = ins.filter((i) => i.op === 'RUN');
    expect(runs.length).toBeGreaterThan(0);
    for (const r of runs) expect(r.args).not.toMatch(/\|\s*(ba)?sh\b/);
  });

  return ins;
}

const upgrade = /apt-get update\s+&&\s+apt-get -y upgrade/;

describe.each(VARIANTS)('images/%s/Containerfile', (variant) => {
  const ins = commonRules(`images/${variant}/Containerfile`, variant, true);

  it('applies pending OS patches (apt-get update && apt-get -y upgrade) and removes apt lists', () => {
    const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => upgrade.test(r) && r.includes('rm -rf /var/lib/apt/lists/*'))).toBe(true);
  });

  if (variant === 'base') {
    it('creates the aibox user with uid 1000', () => {
      const runs = ins
        .filter((i) => i.op === 'RUN')
        .map((i) => i.args)
        .join('\n');
      expect(runs).toMatch(/useradd --uid 1000 --gid 1000 .*aibox/);
      expect(ins.filter((i) => i.op === 'USER').pop()?.args).toBe('aibox');
    });
  }

  it(
    variant === 'base' ? 'installs no toolchain' : 'installs its toolchain from a pinned, verified source',
    () => {
      const runs = ins
        .filter((i) => i.op === 'RUN')
        .map((i) => i.args)
        .join('\n');
      if (variant === 'java' || variant === 'full')
        expect(runs).toMatch(/openjdk-\$\{JAVA_MAJOR\}-jdk-headless/);
      if (variant === 'node' || variant === 'full') {
        expect(runs).toMatch(/NODESOURCE_KEY_FPR/);
        expect(runs).toMatch(/Signed-By: \/usr\/share\/keyrings\/nodesource\.gpg/);
        expect(runs).toMatch(/curl -fsSL --proto '=https'/);
      }
      if (variant === 'dotnet' || variant === 'full')
        expect(runs).toMatch(/dotnet-sdk-\$\{DOTNET_MAJOR\}\.0/);
      // base carries no toolchain: the children add theirs on top of it.
      if (variant === 'base') expect(runs).not.toMatch(/openjdk|nodesource|dotnet-sdk/);
    },
  );
});

describe.each(VARIANTS)('profiles/local/images/%s/Containerfile', (variant) => {
  const ins = commonRules(`profiles/local/images/${variant}/Containerfile`, variant, variant === 'base');
  const runs = ins
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');

  if (variant === 'base') {
    it('really upgrades against the host archive and creates the aibox user', () => {
      expect(runs).toMatch(upgrade);
      expect(runs).toMatch(/useradd --uid 1000 --gid 1000 .*aibox/);
    });
  } else {
    it('is a tiny stand-in: a marker file and no downloads', () => {
      expect(runs).toMatch(/\/opt\/aibox\/\$\{VARIANT\}/);
      expect(runs).not.toMatch(/apt-get|curl|wget/);
    });
  }
});
