// Bundles the two CLIs with esbuild into dist/. Two passes, so `--version` loads nothing but the
// entry file and every other command compiles only the chunks it uses, once (V8 code cache):
//   1. src/cli/main.ts -> dist/chunks/main.cjs, code-split: every command file and heavy module
//      (config parser, HTTP client, pipeline) is its own chunk, loaded only when a command needs it.
//      esbuild splits ESM only, so each chunk is then rewritten to CommonJS (imports between chunks
//      become `require('./chunk-….cjs')`, dynamic ones `Promise.resolve().then(() => require(…))`):
//      CommonJS source can be compiled by `vm.Script` with cached data, which ESM cannot in Node 20
//      (src/cli/loader.ts loads the chunks and keeps the cache);
//   2. the entries src/cli/aiboxctl.ts and src/cli/aibox.ts -> dist/*.cjs, each one self-contained
//      CommonJS file (no ESM loader start-up) that answers `--version` itself and otherwise loads
//      ./chunks/main.cjs through the loader, which is bundled into it.
// dist/meta.json maps every output file to the sources in it (test/integration/chunks.test.ts).
import { build, transform } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// The build id: a hash of every source file and the locked dependencies. It keys the parsed-config
// cache (src/config/load.ts), so a changed schema or parser never reads what an older build stored.
const buildId = (() => {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) h.update(path).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk('src');
  for (const f of ['package.json', 'package-lock.json']) h.update(f).update('\0').update(readFileSync(f));
  return h.digest('hex').slice(0, 32);
})();
// Build beside dist/ and swap it in, so a concurrent reader never sees a half-written bundle.
const tmp = `dist.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
const common = {
  outdir: tmp,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  metafile: true,
  define: { __AIBOX_VERSION__: JSON.stringify(pkg.version), __AIBOX_BUILD_ID__: JSON.stringify(buildId) },
  logLevel: 'warning',
};
const chunks = await build({
  ...common,
  entryPoints: { 'chunks/main': 'src/cli/main.ts' },
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Inline, so the CommonJS rewrite below reads it and maps back to src/ in one step.
  sourcemap: 'inline',
});
for (const name of readdirSync(`${tmp}/chunks`)) {
  const file = `${tmp}/chunks/${name}`;
  const out = await transform(readFileSync(file, 'utf8'), {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    sourcemap: 'external',
    sourcefile: name,
    // `import()` becomes `Promise.resolve().then(() => require(…))`: still lazy, through the loader.
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  writeFileSync(file, `${out.code}//# sourceMappingURL=${name}.map\n`);
  writeFileSync(`${file}.map`, out.map);
}
const entries = await build({
  ...common,
  entryPoints: { aiboxctl: 'src/cli/aiboxctl.ts', aibox: 'src/cli/aibox.ts' },
  format: 'cjs',
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
});
for (const f of ['aiboxctl', 'aibox']) chmodSync(`${tmp}/${f}.cjs`, 0o755);

const outputs = {};
for (const r of [chunks, entries])
  for (const [file, out] of Object.entries(r.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    const name = file.slice(tmp.length + 1);
    outputs[name] = {
      // the size on disk, after the CommonJS rewrite
      bytes: readFileSync(`${tmp}/${name}`).length,
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
