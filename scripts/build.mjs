// Bundles the two CLIs with esbuild into dist/ (ESM). Two passes, so `--version` loads nothing but
// the entry file:
//   1. src/cli/main.ts -> dist/chunks/main.mjs, code-split: every command file and heavy module
//      (config parser, HTTP client, pipeline) is its own chunk, loaded only when a command needs it;
//   2. the entries src/cli/aiboxctl.ts and src/cli/aibox.ts -> dist/*.mjs, each one self-contained
//      file that answers `--version` itself and otherwise imports ./chunks/main.mjs at run time.
// dist/meta.json maps every output file to the sources in it (test/integration/chunks.test.ts).
import { build } from 'esbuild';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Build beside dist/ and swap it in, so a concurrent reader never sees a half-written bundle.
const tmp = `dist.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
const common = {
  outdir: tmp,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  define: { __AIBOX_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};
const chunks = await build({
  ...common,
  entryPoints: { 'chunks/main': 'src/cli/main.ts' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (commander, yaml) call require() for node builtins.
  banner: {
    js: "import { createRequire as __aiboxCreateRequire } from 'node:module';\nconst require = __aiboxCreateRequire(import.meta.url);",
  },
});
// The entries' only import of the rest: `import('./main.js')`, kept as a run-time import.
const mainExternal = {
  name: 'main-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: './chunks/main.mjs', external: true }));
  },
};
const entries = await build({
  ...common,
  entryPoints: { aiboxctl: 'src/cli/aiboxctl.ts', aibox: 'src/cli/aibox.ts' },
  banner: { js: '#!/usr/bin/env node' },
  plugins: [mainExternal],
});
for (const f of ['aiboxctl', 'aibox']) chmodSync(`${tmp}/${f}.mjs`, 0o755);

const outputs = {};
for (const r of [chunks, entries])
  for (const [file, out] of Object.entries(r.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    outputs[file.slice(tmp.length + 1)] = {
      bytes: out.bytes,
      inputs: Object.keys(out.inputs).sort(),
      imports: out.imports.map((i) => ({ path: i.path.replace(`${tmp}/`, ''), kind: i.kind })),
    };
  }
writeFileSync(`${tmp}/meta.json`, `${JSON.stringify({ outputs }, null, 1)}\n`);

const old = `dist.old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  /* no previous build */
}
renameSync(tmp, 'dist');
rmSync(old, { recursive: true, force: true });
