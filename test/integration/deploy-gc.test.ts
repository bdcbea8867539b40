/**
 * The documented GC schedule of the embedded registry (deploy/gc): the systemd service + timer load
 * (`systemd-analyze verify` when available) and fire Monday 04:00 UTC; the cron line says the same and runs the
 * same command. Without systemd-analyze, the unit files are parsed and their fields checked.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHarborCron } from '../../src/retention/harbor-policy.js';
import { ROOT } from '../helpers/cli.js';

const DIR = join(ROOT, 'deploy', 'gc');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');

/** INI sections of a unit file: section → key → values (keys may repeat). */
function unit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `line "${line}"`).toBeGreaterThan(0);
    const k = line.slice(0, eq).trim();
    (out[section]![k] ??= []).push(line.slice(eq + 1).trim());
  }
  return out;
}

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = analyze.status === 0;

describe('deploy/gc', () => {
  const service = unit(read('aibox-gc.service'));
  const timer = unit(read('aibox-gc.timer'));

  it('the service runs `aiboxctl gc run` once; the timer fires it Monday 04:00 UTC, catching up missed runs', () => {
    expect(service['Service']?.['Type']).toEqual(['oneshot']);
    expect(service['Service']?.['ExecStart']?.[0]).toMatch(/\baiboxctl gc run\b/);
    expect(timer['Timer']?.['OnCalendar']).toEqual(['Mon *-*-* 04:00:00 UTC']);
    expect(timer['Timer']?.['Persistent']).toEqual(['true']);
    expect(timer['Install']?.['WantedBy']).toEqual(['timers.target']);
  });

  it.runIf(haveAnalyze)(
    'systemd-analyze verifies both units, and the calendar is next a Monday at 04:00 UTC',
    () => {
      const v = spawnSync(
        'systemd-analyze',
        ['verify', join(DIR, 'aibox-gc.service'), join(DIR, 'aibox-gc.timer')],
        {
          encoding: 'utf8',
        },
      );
      expect(v.stderr.trim()).toBe('');
      expect(v.status).toBe(0);
      const c = spawnSync('systemd-analyze', ['calendar', '--iterations=3', 'Mon *-*-* 04:00:00 UTC'], {
        encoding: 'utf8',
      });
      expect(c.status).toBe(0);
      const elapses = [...c.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): (.+ UTC)/g)].map((m) => m[1]!);
      expect(elapses.length).toBe(3);
      for (const e of elapses) expect(e).toMatch(/^Mon \d{4}-\d{2}-\d{2} 04:00:00 UTC$/);
    },
  );

  it('the cron line is "0 4 * * 1" in UTC with the same command, and is the runbook schedule Harbor is sent', () => {
    const lines = read('aibox-gc.cron')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    expect(lines[0]).toBe('CRON_TZ=UTC');
    const fields = lines[1]!.split(/\s+/);
    expect(fields.slice(0, 5).join(' ')).toBe('0 4 * * 1');
    expect(fields.slice(5, 8).join(' ')).toBe('aiboxctl gc run');
    expect(toHarborCron(fields.slice(0, 5).join(' '))).toBe('0 0 4 * * 1');
  });
});
