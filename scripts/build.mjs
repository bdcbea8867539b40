// Bundles the two CLIs with esbuild into dist/ (ESM, code-split so `--version` loads almost nothing).
import { build } from 'esbuild';
import { readFileSync, renameSync, rmSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Build beside dist/ and swap it in, so a concurrent reader never sees a half-written bundle.
const tmp = `dist.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints: { aiboxctl: 'src/cli/aiboxctl.ts', aibox: 'src/cli/aibox.ts' },
  outdir: tmp,
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
for (const f of ['aiboxctl', 'aibox']) chmodSync(`${tmp}/${f}.mjs`, 0o755);
const old = `dist.old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  /* no previous build */
}
renameSync(tmp, 'dist');
rmSync(old, { recursive: true, force: true });
