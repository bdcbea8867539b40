// Runs every benchmark in one go (npm run bench) and prints where the results are.
import { spawnSync } from 'node:child_process';

const benches = [
  ['coldstart', ['bench/coldstart.mjs']],
  ['startup', ['--import', 'tsx', 'bench/startup.mjs']],
  ['tags', ['bench/tags.mjs']],
  ['retention', ['bench/retention.mjs']],
  ['signing', ['--import', 'tsx', 'bench/signing.mjs']],
  ['pipeline', ['--import', 'tsx', 'bench/pipeline.mjs']],
  ['keys', ['--import', 'tsx', 'bench/keys.mjs']],
  ['triage', ['--import', 'tsx', 'bench/triage.mjs']],
  ['dev-cli', ['--import', 'tsx', 'bench/dev-cli.mjs']],
  ['dev-start', ['--import', 'tsx', 'bench/dev-start.mjs']],
  ['emergency', ['--import', 'tsx', 'bench/emergency.mjs']],
];
let failed = 0;
for (const [name, args] of benches) {
  if (process.argv.length > 2 && !process.argv.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench ${name} failed with exit ${r.status}`);
  }
}
console.log('\nresults: bench/results/*.json');
process.exitCode = failed ? 1 : 0;
