/** Regenerate schema/*.json from the zod config schemas: `npx tsx scripts/gen-schema.ts`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchemas } from '../src/config/json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [rel, text] of Object.entries(renderSchemas())) {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  process.stdout.write(`wrote ${rel}\n`);
}
