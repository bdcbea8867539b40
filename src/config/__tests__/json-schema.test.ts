import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSchemas } from '../json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('committed JSON schemas', () => {
  it.each(Object.entries(renderSchemas()))(
    '%s is current (else run: npx tsx scripts/gen-schema.ts)',
    async (rel, text) => {
      expect(await readFile(join(root, rel), 'utf8')).toBe(text);
    },
  );

  it('describes strict objects with the documented defaults', () => {
    const schema = JSON.parse(renderSchemas()['schema/aibox.schema.json'] ?? '') as {
      additionalProperties: boolean;
      properties: { scan: { properties: { scanner: { enum: string[]; default: string } } } };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.scan.properties.scanner).toMatchObject({
      enum: ['trivy', 'harbor', 'none'],
      default: 'trivy',
    });
  });
});
