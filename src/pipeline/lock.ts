/**
 * One pipeline per registry project at a time, on this host: an exclusive lock file created with
 * O_EXCL under the data dir. A lock whose process is gone (same host) is stale and taken over.
 * Across CI runners, the CI's own concurrency control serialises jobs (deploy/ci files).
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../adapters/exec.js';
import { AiboxError } from '../core/errors.js';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly scope: string;
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

/** File name for a scope such as "127.0.0.1:5000/aibox". */
export function lockFileName(scope: string): string {
  return `${scope.replace(/[^A-Za-z0-9._-]+/g, '_')}.lock`;
}

/** Take the pipeline lock for `scope`, or fail naming who holds it. */
export async function acquirePipelineLock(
  dir: string,
  scope: string,
  runId: string,
  now: Date,
): Promise<HeldLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, lockFileName(scope));
  const info: LockInfo = { pid: process.pid, host: hostname(), runId, startedAt: now.toISOString(), scope };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${JSON.stringify(info)}\n`);
      await fh.close();
      return {
        path,
        release: async () => {
          // Only remove our own lock.
          try {
            const cur = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
            if (cur.runId === runId) await rm(path, { force: true });
          } catch {
            /* already gone */
          }
        },
      };
    } catch (e: unknown) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    let holder: LockInfo | undefined;
    try {
      holder = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    } catch {
      holder = undefined; // unreadable: being written right now, or corrupt
    }
    if (holder && holder.host === info.host && !(await processAlive(holder.pid))) {
      await rm(path, { force: true }); // stale: its process is gone
      continue;
    }
    throw new AiboxError({
      code: 'LOCKED',
      message: holder
        ? `another pipeline is running for ${scope}: run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`
        : `another pipeline holds the lock for ${scope} (${path})`,
      hint: `Wait for it to finish. If it crashed on another host, remove ${path}`,
      details: { lock: path, ...(holder ? { holder } : {}) },
    });
  }
  throw new AiboxError({ code: 'LOCKED', message: `could not take the pipeline lock ${path}` });
}
