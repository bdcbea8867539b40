/**
 * Garbage collection of the embedded registry (issue 11 item 4): distribution's `registry garbage-collect`, run
 * safely. Distribution's own rule is that GC must not run while anything writes ("uploads may be deleted"), so:
 *  1. the pipeline lock of the registry's project is taken (a rebuild, promote, rollback or retention apply on
 *     this host holds it for its whole run, so GC never runs while a pipeline stages — and waits for nothing);
 *  2. the registry is stopped, holding its start lock, so nothing can start it again on demand meanwhile;
 *  3. `garbage-collect` runs on the registry's own config, by default WITHOUT `--delete-untagged`: only blobs no
 *     manifest references go. Untagged manifests stay (a staged manifest pushed by digest, OCI referrers such as
 *     cosign v3 bundles attached by `subject`, which distribution 2.8 keeps untagged); retention deletes
 *     manifests by digest, after which their blobs are unreferenced and this GC reclaims them.
 *     `--delete-untagged` is available and removes untagged manifests too — including referrers (docs/retention.md);
 *  4. the registry is started again on the same port, whether the GC succeeded or not;
 *  5. bytes reclaimed = the storage directory's size before minus after.
 */
import { existsSync } from 'node:fs';
import { lstat, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from '../adapters/exec.js';
import { AiboxError, describeError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { DEFAULT_REGISTRY_BINARY, registryFiles, registryStatus, withRegistryStopped } from './embedded.js';
import { registryConfigYaml } from './config.js';

export interface EmbeddedGcOptions {
  readonly dataDir: string;
  /** The configured port (embedded.port): names the lock scope when the registry is not running. */
  readonly port: number;
  /** The registry project the pipelines lock (config registry.project). */
  readonly project: string;
  readonly exec: Exec;
  /** Take the pipeline lock for a scope (`host/project`); throws when another run holds it. */
  readonly lock: (scope: string) => Promise<{ release(): Promise<void> }>;
  readonly deleteUntagged?: boolean;
  readonly dryRun?: boolean;
  readonly binary?: string;
  readonly logger?: Logger;
  /** GC limit; default 30 minutes. */
  readonly timeoutMs?: number;
}

export interface EmbeddedGcResult {
  readonly dataDir: string;
  readonly host: string;
  readonly deleteUntagged: boolean;
  readonly dryRun: boolean;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly bytesReclaimed: number;
  /** From garbage-collect's summary line, when it printed one. */
  readonly blobsMarked: number | null;
  readonly blobsEligible: number | null;
  readonly manifestsEligible: number | null;
  /** The registry was running before and was started again. */
  readonly restarted: boolean;
}

/** Apparent size of every file under `dir` (du -sb), 0 when it does not exist. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e: unknown) {
    if ((e as { code?: string }).code === 'ENOENT') return 0;
    throw e;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(p);
    else if (e.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/** The counts of distribution's last line: "N blobs marked, M blobs and K manifests eligible for deletion". */
export function parseGcSummary(output: string): {
  blobsMarked: number | null;
  blobsEligible: number | null;
  manifestsEligible: number | null;
} {
  const m = /(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion/.exec(output);
  return m
    ? { blobsMarked: Number(m[1]), blobsEligible: Number(m[2]), manifestsEligible: Number(m[3]) }
    : { blobsMarked: null, blobsEligible: null, manifestsEligible: null };
}

/** `aiboxctl gc run`: see the module comment. */
export async function runEmbeddedGc(o: EmbeddedGcOptions): Promise<EmbeddedGcResult> {
  const logger = o.logger ?? silentLogger;
  const binary = o.binary ?? DEFAULT_REGISTRY_BINARY;
  const files = registryFiles(o.dataDir);
  const status = await registryStatus({ dataDir: o.dataDir });
  const host = status.host ?? `127.0.0.1:${o.port}`;
  const lock = await o.lock(`${host}/${o.project}`);
  try {
    const bytesBefore = await directoryBytes(files.storage);
    const deleteUntagged = o.deleteUntagged ?? false;
    const dryRun = o.dryRun ?? false;
    // Nothing was ever pushed: distribution's garbage-collect fails on a storage without repositories
    // ("Path not found: /docker/registry/v2/repositories"), and there is nothing to collect anyway.
    if (!existsSync(join(files.storage, 'docker', 'registry', 'v2', 'repositories'))) {
      logger.info(`the embedded registry (${o.dataDir}) holds no repositories: nothing to collect`);
      return {
        dataDir: o.dataDir,
        host,
        deleteUntagged,
        dryRun,
        bytesBefore,
        bytesAfter: bytesBefore,
        bytesReclaimed: 0,
        blobsMarked: 0,
        blobsEligible: 0,
        manifestsEligible: 0,
        restarted: false,
      };
    }
    const run = await withRegistryStopped({ dataDir: o.dataDir, logger, binary, exec: o.exec }, async () => {
      if (!existsSync(files.config)) {
        // Never started: a config for the storage is all garbage-collect needs.
        await writeFile(files.config, registryConfigYaml({ host, storage: files.storage }));
      }
      const args = [
        'garbage-collect',
        ...(deleteUntagged ? ['--delete-untagged'] : []),
        ...(dryRun ? ['--dry-run'] : []),
        files.config,
      ];
      logger.info(`Run: ${binary} ${args.join(' ')} (registry stopped)`);
      return o
        .exec(binary, args, { timeoutMs: o.timeoutMs ?? 30 * 60_000, cwd: o.dataDir })
        .catch((e: unknown) => {
          throw new AiboxError({
            code: 'REGISTRY_ERROR',
            message: `garbage collection of the embedded registry (${o.dataDir}) failed: ${describeError(e)}`,
            hint: `The registry was started again and nothing was half-deleted by aibox; see ${files.log} and re-run 'aiboxctl gc run'`,
            cause: e,
          });
        });
    });
    const bytesAfter = await directoryBytes(files.storage);
    return {
      dataDir: o.dataDir,
      host: run.restarted?.host ?? host,
      deleteUntagged,
      dryRun,
      bytesBefore,
      bytesAfter,
      bytesReclaimed: Math.max(0, bytesBefore - bytesAfter),
      ...parseGcSummary(`${run.result.stdout}\n${run.result.stderr}`),
      restarted: run.restarted !== undefined,
    };
  } finally {
    await lock.release();
  }
}
