/**
 * Bench worker (bundled by bench/retention.mjs, one process per run): `plan` gathers and plans
 * retention for the given project exactly as `aiboxctl retention plan` does; `apply` applies it (with a
 * file audit log and the pipeline lock in a temp dir). Prints one JSON line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { createRegistryClient } from '../../src/oci/client.js';
import { acquirePipelineLock } from '../../src/pipeline/lock.js';
import { applyRetention, buildRetentionPlan } from '../../src/retention/apply.js';
import { fileRetentionAudit } from '../../src/retention/audit-file.js';
import { defaultRetentionConfig } from '../../src/retention/rules.js';

const [mode, host, project, ...variantArgs] = process.argv.slice(2);
if (!mode || !host || !project || variantArgs.length === 0)
  throw new Error('usage: worker plan|apply HOST PROJECT VARIANT=PREFIX...');
const variants = Object.fromEntries(
  variantArgs.map((a) => {
    const [name, tagPrefix] = a.split('=');
    return [name ?? '', { tagPrefix: tagPrefix ?? '' }];
  }),
);
const started = performance.now();
const client = createRegistryClient({ env: {}, concurrency: 32 });
const deps = {
  store: client,
  host,
  project,
  config: defaultRetentionConfig(),
  variants,
  now: () => new Date(),
  logger: silentLogger,
};
let out: Record<string, unknown>;
if (mode === 'plan') {
  const { plan } = await buildRetentionPlan(deps);
  out = { tags: plan.tags.length, deletions: plan.deletions.length };
} else {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-retention-'));
  try {
    const r = await applyRetention(
      {
        ...deps,
        runId: 'bench',
        audit: fileRetentionAudit(dir),
        lock: () => acquirePipelineLock(join(dir, 'locks'), `${host}/${project}`, 'bench', new Date()),
      },
      { yes: true, maxDelete: 1_000_000 },
    );
    out = { deleted: r.reports.filter((x) => x.status === 'deleted').length, errors: r.errors.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
await client.close();
const ms = performance.now() - started;
const usage = process.resourceUsage();
process.stdout.write(`${JSON.stringify({ ms, ...out, maxRssMB: usage.maxRSS / 1024 })}\n`);
