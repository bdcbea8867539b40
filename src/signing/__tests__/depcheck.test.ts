import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PURE = [
  'payload',
  'gojson',
  'encoding',
  'envelope',
  'keys',
  'sigmanifest',
  'bundle',
  'identity',
  'trust',
  'verify',
  'messages',
];
const ALLOWED =
  /^(?:\.\/(?:payload|gojson|encoding|envelope|keys|sigmanifest|bundle|identity|trust|verify|messages)\.js|\.\.\/core\/errors\.js|\.\.\/oci\/reference\.js|node:crypto|@noble\/ciphers\/salsa\.js)$/;

describe('pure signing modules', () => {
  it.each(PURE)('%s.ts imports no I/O module', (name) => {
    const src = readFileSync(new URL(`../${name}.ts`, import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    for (const i of imports) expect(i, `${name}.ts imports ${i}`).toMatch(ALLOWED);
    expect(src).not.toMatch(/process\.env|fetch\(|readFile|spawn/);
  });
});
