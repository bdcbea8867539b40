// Builds the CLI bundles once per test run, so end-to-end tests exercise exactly what ships.
// A failed build is reported here and makes the e2e tests fail (dist/ is removed first), while
// unit and integration tests still run.
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' });
  if (r.status !== 0)
    process.stderr.write(`\n*** CLI bundle build failed; e2e tests will fail ***\n${r.stderr}\n`);
}
