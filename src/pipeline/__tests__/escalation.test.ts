/**
 * Issue 9 §6: when the weekly gate fails on a Critical in `base`, `rebuild` triages that report and names the exact
 * `aiboxctl cve rebuild …` command, in the hint, the run record and the on-call notice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Notice } from '../../notify/notifier.js';
import { newWorld, NEW, type World } from './world.js';
import { runRebuild } from '../run.js';

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose();
});

const COMMAND = 'aiboxctl cve rebuild --cve CVE-2026-31337 --cvss 9.0 --package openssl --variant base';

describe('escalation from the weekly gate', () => {
  it('a Critical in base: the hint, the record and the on-call notice carry the exact cve rebuild command', async () => {
    const w = await newWorld();
    worlds.push(w);
    w.scanner.critical.add('/base');
    const notices: Notice[] = [];
    const deps = { ...w.deps, notifier: { notify: async (n: Notice) => void notices.push(n) } };
    const run = await runRebuild(deps, {
      date: NEW,
      variants: [],
      promote: true,
      replace: false,
      allowUnscanned: false,
      revision: 'test',
    });
    expect(run.record.result).toBe('failed');
    const hint = run.hints.find((h) => h.variant === 'base')?.hint ?? '';
    expect(hint).toContain(`Emergency rebuild (runbook §2): ${COMMAND}`);
    expect(hint).toMatch(/full triage: aiboxctl cve triage aibox\/base@sha256:[0-9a-f]{64}$/);
    expect(run.record.failure).toMatchObject({ variant: 'base', step: 'scan', hint });
    expect(notices).toHaveLength(1);
    expect(notices[0]!.text).toContain(`Next: Emergency rebuild (runbook §2): ${COMMAND}`);
  });

  it('a Critical in a child variant is not escalated (the base is clean): no cve rebuild command', async () => {
    const w = await newWorld();
    worlds.push(w);
    w.scanner.critical.add('/app');
    const run = await runRebuild(w.deps, {
      date: NEW,
      variants: [],
      promote: true,
      replace: false,
      allowUnscanned: false,
      revision: 'test',
    });
    expect(run.record.failure?.variant).toBe('app');
    expect(run.hints.map((h) => h.hint).join('\n')).not.toContain('aiboxctl cve rebuild');
  });
});
