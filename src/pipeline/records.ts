/**
 * Run records on disk: one JSON file per run under `$XDG_DATA_HOME/aibox/runs`, written atomically
 * (temp file + rename) and redacted on the way out (src/core/redact.ts), so no secret that ended up
 * in an error message is ever stored.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sanitizeDeep } from '../core/redact.js';
import type { RunRecord } from './record.js';

/** A sortable, unique run id: `20260222T020000-a1b2c3`. */
export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** Where a run's record lives. */
export function recordPath(runsDir: string, runId: string): string {
  return join(runsDir, `${runId}.json`);
}

/** Write (or overwrite) a run record atomically, redacted. */
export async function saveRecord(runsDir: string, r: RunRecord): Promise<void> {
  await mkdir(runsDir, { recursive: true });
  const path = recordPath(runsDir, r.runId);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(sanitizeDeep(r), null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Where the local copy of the registry's CVE records lives (beside the run records). */
export function cveRecordsCopyPath(runsDir: string): string {
  return join(runsDir, 'cve-records.json');
}

/**
 * Keep a local copy of the CVE records (issue 9 §2: "in the local run records"), written atomically and redacted.
 * The registry's signed artifact stays the source of truth; this copy is for the person reading the run records.
 */
export async function saveCveRecordsCopy(runsDir: string, records: unknown): Promise<string> {
  await mkdir(runsDir, { recursive: true });
  const path = cveRecordsCopyPath(runsDir);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(sanitizeDeep(records), null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}
