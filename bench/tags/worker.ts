/**
 * Bench worker (bundled by bench/tags.mjs, run as its own process so peak RSS is ours alone):
 * list every tag of each repository, then HEAD every tag's manifest. Prints one JSON line.
 */
import { createRegistryClient } from '../../src/oci/client.js';
import { mapConcurrent } from '../../src/oci/pool.js';

const [host, ...repos] = process.argv.slice(2);
if (!host || repos.length === 0) throw new Error('usage: worker HOST REPO...');

const FANOUT = process.env.BENCH_FANOUT === '1';
const WIDTH = Number(process.env.BENCH_WIDTH ?? 32);
const started = performance.now();
const client = createRegistryClient({ env: {}, concurrency: WIDTH });
// List every repository at once, then HEAD every tag of every repository through one bounded pool.
const lists = await Promise.all(
  repos.map(async (repository) => ({
    ref: { registry: host, repository },
    tags: await client.listTags({ registry: host, repository }),
  })),
);
const all = lists.flatMap((l) => l.tags.map((tag) => ({ ...l.ref, tag })));
const tags = all.length;
// A bounded pool of callers (= client concurrency): the client bounds the network either way,
// but a 10,000-wide Promise.all keeps every pending operation alive (~40 MB more peak RSS).
const results = FANOUT
  ? await Promise.all(all.map((ref) => client.headManifest(ref)))
  : await mapConcurrent(all, WIDTH, (ref) => client.headManifest(ref));
for (const d of results) if (d === null) throw new Error('a tag vanished');
const heads = results.length;
await client.close();
const ms = performance.now() - started;
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ ms, tags, heads, maxRssMB: usage.maxRSS / 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 })}\n`,
);
