// The quickstart's demo apt repository: the demo package `aibox-canary`, built with dpkg-deb in two versions
// (1.0, then the "fix" 1.1), in a flat repository (Packages + Release with SHA256 sums, no signature: images add
// it with `[trusted=yes]`) served from 127.0.0.1. It stands in for the distribution archive, where the fix for a
// CVE lands, since this machine has no internet. Same shape as the CVE tests' test/helpers/apt-repo.ts (which
// runs in the test process); here the server is a child process, because the quickstart runs its steps with
// spawnSync and an in-process server would not answer while a build waits on it.
//
//   import { createDemoRepo } from './quickstart/demo-apt-repo.mjs'
//   const repo = await createDemoRepo(dir, { port }); repo.publish(['1.0']); …; repo.publish(['1.0', '1.1']); repo.stop()
//   node scripts/quickstart/demo-apt-repo.mjs serve DIR PORT   (the child: serves DIR, prints its URL, exits
//                                                               when its stdin closes, i.e. with the quickstart)
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE = 'aibox-canary';
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const md5 = (b) => createHash('md5').update(b).digest('hex');

function buildDeb(dir, version) {
  const deb = join(dir, 'pool', `${PACKAGE}_${version}_all.deb`);
  try {
    statSync(deb);
    return deb;
  } catch {
    /* not built yet */
  }
  const root = join(dir, 'src', `${PACKAGE}_${version}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr', 'share', PACKAGE), { recursive: true });
  mkdirSync(join(dir, 'pool'), { recursive: true });
  writeFileSync(join(root, 'usr', 'share', PACKAGE, 'version'), `${version}\n`);
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${PACKAGE}`,
      `Version: ${version}`,
      'Architecture: all',
      'Maintainer: aibox quickstart <quickstart@aibox.invalid>',
      'Section: misc',
      'Priority: optional',
      `Description: aibox quickstart demo package ${version}`,
      ' A marker package for the quickstart emergency-fix demo (no real software).',
      '',
    ].join('\n'),
  );
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '1767225600' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return deb;
}

/** Rewrite the index so it lists exactly `versions` (apt sees them on its next `apt-get update`). */
function writeIndex(dir, versions) {
  const stanzas = versions.map((v) => {
    const deb = buildDeb(dir, v);
    const bytes = readFileSync(deb);
    const control = execFileSync('dpkg-deb', ['--field', deb], { encoding: 'utf8' }).trimEnd();
    return [
      control,
      `Filename: ./pool/${PACKAGE}_${v}_all.deb`,
      `Size: ${bytes.length}`,
      `MD5sum: ${md5(bytes)}`,
      `SHA256: ${sha256(bytes)}`,
    ].join('\n');
  });
  const packages = Buffer.from(`${stanzas.join('\n\n')}\n`);
  writeFileSync(join(dir, 'Packages'), packages);
  writeFileSync(
    join(dir, 'Release'),
    [
      'Origin: aibox-quickstart',
      'Label: aibox-quickstart',
      `Date: ${new Date().toUTCString()}`,
      'SHA256:',
      ` ${sha256(packages)} ${packages.length} Packages`,
      '',
    ].join('\n'),
  );
}

/**
 * Start serving `dir` on 127.0.0.1:`port` (0 = a free port) in a child process. `publish(versions)` sets what
 * the index lists; `stop()` ends the child (it also ends by itself when this process exits).
 */
export async function createDemoRepo(dir, { port = 0 } = {}) {
  mkdirSync(dir, { recursive: true });
  writeIndex(dir, []);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', dir, String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise((ok, fail) => {
    let out = '';
    child.once('exit', (code) => fail(new Error(`demo apt repository: the server exited (${code})`)));
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) ok(out.trim());
    });
  });
  child.removeAllListeners('exit');
  child.stdout.destroy();
  child.unref();
  return {
    url,
    port: Number(new URL(url).port),
    sourceLine: `deb [trusted=yes] ${url}/ ./`,
    publish: (versions) => writeIndex(dir, versions),
    stop: () => child.kill(),
  };
}

function serve(dir, port) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0])).replace(/^(\/\.)+/, '');
    const ok = /^\/(Packages|Release|pool\/[A-Za-z0-9._+-]+\.deb)$/.test(path);
    let body;
    try {
      if (ok && (req.method === 'GET' || req.method === 'HEAD')) body = readFileSync(join(dir, path));
    } catch {
      /* 404 below */
    }
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.on('error', (e) => {
    process.stderr.write(`demo apt repository: cannot listen on 127.0.0.1:${port}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
  });
  // The quickstart holds our stdin: when it exits (however it exits), stdin ends and so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'serve')
  serve(process.argv[3], Number(process.argv[4] ?? 0));
