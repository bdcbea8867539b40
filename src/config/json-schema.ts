/** JSON Schemas for editors (pure): generated from the zod schemas so they can never drift. */
import { toJSONSchema } from 'zod/mini';
import { developerSchema, platformSchema } from './schema.js';

/** Where each generated schema is committed, relative to the repo root. */
export const SCHEMA_FILES = {
  'schema/aibox.schema.json': { schema: platformSchema, title: 'aibox platform config (aibox.yaml)' },
  'schema/developer.schema.json': {
    schema: developerSchema,
    title: 'aibox developer config (~/.config/aibox/config.yaml)',
  },
} as const;

/** Render every schema file's exact committed text (scripts/gen-schema.ts writes it, a test compares it). */
export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, { schema, title }] of Object.entries(SCHEMA_FILES)) {
    const json = toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
    out[path] = `${JSON.stringify({ ...json, title }, null, 2)}\n`;
  }
  return out;
}
