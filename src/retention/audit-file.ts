/**
 * The retention audit log adapter: one JSON line per deletion event in
 * `<dataDir>/retention/audit.jsonl` (0600, appended, never rewritten), every entry passed through
 * `core/redact` first. A line that cannot be written fails the apply (IO_FAILED): no deletion
 * happens without its record.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AiboxError, describeError } from '../core/errors.js';
import { sanitizeDeep } from '../core/redact.js';
import type { AuditEntry, RetentionAudit } from './apply.js';

/** Where the audit log of a data dir lives. */
export function retentionAuditPath(dataDir: string): string {
  return join(dataDir, 'retention', 'audit.jsonl');
}

/** The audit log as a file (JSONL, redacted). */
export function fileRetentionAudit(dataDir: string): RetentionAudit {
  const path = retentionAuditPath(dataDir);
  let ready: Promise<unknown> | undefined;
  return {
    async append(entry: AuditEntry): Promise<void> {
      try {
        ready ??= mkdir(join(dataDir, 'retention'), { recursive: true, mode: 0o700 });
        await ready;
        await appendFile(path, `${JSON.stringify(sanitizeDeep(entry))}\n`, { mode: 0o600 });
      } catch (e: unknown) {
        throw new AiboxError({
          code: 'IO_FAILED',
          message: `cannot write the retention audit log ${path}: ${describeError(e)}`,
          hint: 'nothing more is deleted without its record; fix the data dir (permissions, disk space) and re-run',
          cause: e,
        });
      }
    },
  };
}

/** An in-memory audit log (tests, and `plan`, which deletes nothing). */
export function memoryRetentionAudit(): RetentionAudit & { readonly entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return {
    entries,
    append: (e) => {
      entries.push(sanitizeDeep(e));
      return Promise.resolve();
    },
  };
}
