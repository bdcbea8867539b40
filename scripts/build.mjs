// Bundles the two CLIs with esbuild into dist/ (ESM, code-split so `--version` loads almost nothing).
import { build } from 'esbuild';
import { readFileSync, rmSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { aiboxctl: 'src/cli/aiboxctl.ts', aibox: 'src/cli/aibox.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __aiboxCreateRequire } from 'node:module';\nconst require = __aiboxCreateRequire(import.meta.url);",
  },
  define: { __AIBOX_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
for (const f of ['aiboxctl', 'aibox']) chmodSync(new URL(`../dist/${f}.mjs`, import.meta.url), 0o755);
