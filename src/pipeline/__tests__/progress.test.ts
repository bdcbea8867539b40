import { describe, expect, it } from 'vitest';
import { lineProgress, renderTable } from '../progress.js';
import { failureLine, newRunRecord } from '../record.js';

function sample() {
  const r = newRunRecord({
    runId: '20260221T020000-abc123',
    date: '2026-02-21',
    now: new Date('2026-02-21T02:00:00Z'),
    registry: 'harbor.internal',
    project: 'aibox',
    variants: [
      { name: 'base', tag: '24.04-20260221', repository: 'aibox/base' },
      { name: 'java', tag: '21-24.04-20260221', repository: 'aibox/java' },
    ],
  });
  const base = r.variants.base!;
  base.status = 'passed';
  base.steps.forEach((s, i) => Object.assign(s, { status: 'ok', durationMs: 1000 * (i + 1) }));
  const java = r.variants.java!;
  java.status = 'failed';
  Object.assign(java.steps[0]!, { status: 'ok', durationMs: 120 });
  Object.assign(java.steps[1]!, { status: 'failed', durationMs: 4321 });
  java.steps.slice(2).forEach((s) => (s.status = 'skipped'));
  r.failure = {
    variant: 'java',
    step: 'build',
    reason: 'podman build exited with code 1: E: Unable to locate package',
  };
  return r;
}

describe('pipeline progress output', () => {
  it('renders the step table', async () => {
    await expect(`${renderTable(sample())}\n`).toMatchFileSnapshot('__snapshots__/table.txt');
  });

  it('prints one plain line per step transition for CI logs', () => {
    const r = sample();
    const lines: string[] = [];
    const p = lineProgress(
      (s) => lines.push(s),
      () => r,
    );
    p.step('java', 'build', 'running');
    p.step('java', 'build', 'failed', 'podman build exited with code 1');
    p.step('base', 'build', 'pending'); // pending transitions are not printed
    expect(lines).toEqual([
      '[java] build started\n',
      '[java] build failed (4.3s): podman build exited with code 1\n',
    ]);
  });

  it('ends a failed run with one line naming variant, step and reason', () => {
    expect(failureLine(sample())).toBe(
      'FAILED: java: step build: podman build exited with code 1: E: Unable to locate package',
    );
  });
});
