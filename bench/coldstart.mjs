// Target: `aibox --version` cold start ≤ 1.5× `node -e 0` (issue 2). Run after `npm run build`.
import { compare, timeRun, writeResults } from './lib.mjs';

const node = process.execPath;
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const res = compare(
  {
    'node -e 0': () => timeRun(node, ['-e', '0']),
    'aibox --version': () => timeRun(node, ['dist/aibox.mjs', '--version']),
    'aiboxctl --version': () => timeRun(node, ['dist/aiboxctl.mjs', '--version']),
    'aiboxctl --help': () => timeRun(node, ['dist/aiboxctl.mjs', '--help']),
  },
  RUNS,
);
const ratio = res['aibox --version'].median / res['node -e 0'].median;
const out = {
  runs: RUNS,
  results: res,
  ratio_aibox_version_vs_node: Number(ratio.toFixed(3)),
  target: '≤ 1.5',
};
writeResults('coldstart', out);
console.log('cold start (median ms):');
for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(20)} ${v.median.toFixed(1)}`);
console.log(`  ratio aibox --version / node -e 0 = ${ratio.toFixed(2)} (target ≤ 1.5)`);
