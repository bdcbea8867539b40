/**
 * Live progress for the pipeline: a per-variant step table redrawn in place on a terminal, plain
 * lines in CI logs. Both write to stderr; results go to stdout.
 */
import type { RunRecord, StepName, StepStatus } from './record.js';
import { STEPS, seconds } from './record.js';

export interface Progress {
  step(variant: string, step: StepName, status: StepStatus, detail?: string): void;
  note(line: string): void;
  done(): void;
}

const mark: Record<StepStatus, string> = { pending: '·', running: '…', ok: '✓', failed: '✗', skipped: '–' };

/** One line per step transition: `[java] build ok (12.3s)`; good for CI logs. */
export function lineProgress(write: (s: string) => void, record: () => RunRecord): Progress {
  return {
    step(variant, step, status, detail) {
      if (status === 'pending') return;
      const s = record().variants[variant]?.steps.find((x) => x.name === step);
      const t = status === 'running' ? '' : ` (${seconds(s?.durationMs)})`;
      write(
        `[${variant}] ${step} ${status === 'running' ? 'started' : status}${status === 'running' ? '' : t}${detail ? `: ${detail}` : ''}\n`,
      );
    },
    note(line) {
      write(`${line}\n`);
    },
    done() {},
  };
}

/** Render the step table (pure). */
export function renderTable(r: RunRecord): string {
  const names = Object.keys(r.variants);
  const w = Math.max(7, ...names.map((n) => n.length));
  const head = `${'VARIANT'.padEnd(w)}  ${STEPS.map((s) => s.padEnd(13)).join('')}STATUS`;
  const rows = Object.entries(r.variants).map(([n, v]) => {
    const cells = STEPS.map((s) => {
      const st = v.steps.find((x) => x.name === s);
      const cell = st
        ? `${mark[st.status]} ${st.status === 'ok' || st.status === 'failed' ? seconds(st.durationMs) : ''}`
        : '';
      return cell.padEnd(13);
    });
    return `${n.padEnd(w)}  ${cells.join('')}${v.status}`;
  });
  return [head, ...rows].join('\n');
}

/** Redraws the table in place (ANSI cursor movement) on every change. */
export function ttyProgress(write: (s: string) => void, record: () => RunRecord): Progress {
  let lines = 0;
  const notes: string[] = [];
  const draw = () => {
    const text = [...notes.splice(0), renderTable(record())].join('\n');
    if (lines > 0) write(`\x1b[${lines}A\x1b[0J`);
    write(`${text}\n`);
    lines = renderTable(record()).split('\n').length;
  };
  return {
    step: () => draw(),
    note(line) {
      notes.push(line);
      draw();
    },
    done() {},
  };
}
