/**
 * Bench worker (bundled by bench/tags.mjs, run as its own process so peak RSS is ours alone):
 * list every tag of each repository, then HEAD every tag's manifest. Prints one JSON line.
 */
import { createRegistryClient } from '../../src/oci/client.js';
import { mapConcurrent } from '../../src/oci/pool.js';

const [host, ...repos] = process.argv.slice(2);
if (!host || repos.length === 0) throw new Error('usage: worker HOST REPO...');

const FANOUT = process.env.BENCH_FANOUT === '1';
const started = performance.now();
const client = createRegistryClient({ env: {} });
let tags = 0;
let heads = 0;
for (const repository of repos) {
  const ref = { registry: host, repository };
  const list = await client.listTags(ref);
  tags += list.length;
  // A bounded pool of callers (= client concurrency): the client bounds the network either way,
  // but a 2,000-wide Promise.all keeps every pending operation alive (~40 MB more peak RSS).
  const results = FANOUT
    ? await Promise.all(list.map((tag) => client.headManifest({ ...ref, tag })))
    : await mapConcurrent(list, 16, (tag) => client.headManifest({ ...ref, tag }));
  for (const d of results) if (d === null) throw new Error(`tag vanished in ${repository}`);
  heads += results.length;
}
await client.close();
const ms = performance.now() - started;
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ ms, tags, heads, maxRssMB: usage.maxRSS / 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 })}\n`,
);
