// Regenerates the docs that come from the code (`npm run gen`): schema/*.json (config schemas),
// the exit-code table in docs/exit-codes.md and the command reference docs/cli.md.
// src/cli/__tests__/docs.test.ts and src/config/__tests__/json-schema.test.ts fail when they are stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderSchemas } = await import('../src/config/json-schema.ts');
const { renderDocs } = await import('../src/cli/docs.ts');
const { renderFleetSchema } = await import('../src/fleet/schema.ts');
const { ctlCommandsFor, devCommandsFor } = await import('../src/cli/main.ts');

const read = (rel) => readFileSync(join(root, rel), 'utf8');
const files = {
  ...renderSchemas(),
  ...renderFleetSchema(),
  ...(await renderDocs(read, await ctlCommandsFor(['--help']), await devCommandsFor(['--help']))),
};
for (const [rel, text] of Object.entries(files)) {
  const path = join(root, rel);
  let old;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    /* new file */
  }
  if (old === text) continue;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote ${rel}\n`);
}
