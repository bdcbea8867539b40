// npm run quickstart: the whole weekly loop of runbook §1 on this machine, on the embedded local
// registry: local base image, keys, five variants built, scanned (Trivy if installed, otherwise
// loudly unscanned), pushed, signed, verified, promoted, channel published; then the runbook's
// verification commands with their output. Re-running is cheap: the run resumes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const root = resolve(new URL('..', import.meta.url).pathname);
const dataHome = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
const work = join(dataHome, 'aibox', 'quickstart');
mkdirSync(work, { recursive: true });

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const trivy = onPath('trivy');
const cosign =
  onPath('cosign') ||
  (existsSync('/var/tmp/aibox-test-tools/cosign/root/usr/bin/cosign')
    ? '/var/tmp/aibox-test-tools/cosign/root/usr/bin/cosign'
    : '');

// Config: the local profile, with absolute Containerfile paths, our key, and Trivy when present.
const profile = parse(readFileSync(join(root, 'profiles/local/aibox.yaml'), 'utf8'));
for (const v of Object.values(profile.variants))
  v.containerfile = join(root, 'profiles/local', v.containerfile);
profile.signing = {
  key: join(work, 'cosign.key'),
  trustedKeys: [{ name: 'quickstart', path: join(work, 'cosign.pub') }],
};
if (trivy) profile.scan = { scanner: 'trivy', trivyPath: trivy };
const configPath = join(work, 'aibox.yaml');
writeFileSync(
  configPath,
  `# written by npm run quickstart from profiles/local/aibox.yaml\n${stringify(profile)}`,
);

// A local signing password, kept beside the key (0600): this is a demo key, not a platform key.
const pwFile = join(work, 'cosign.password');
if (!existsSync(pwFile)) {
  writeFileSync(pwFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  chmodSync(pwFile, 0o600);
}
const env = { ...process.env, COSIGN_PASSWORD: readFileSync(pwFile, 'utf8').trim() };

const ctl = (...args) => [process.execPath, join(root, 'dist/aiboxctl.cjs'), '--config', configPath, ...args];
function step(title, argv, { allowFail = false, capture = false } = {}) {
  process.stdout.write(
    `\n\x1b[1m== ${title}\x1b[0m\n$ ${argv
      .map((a) => (a.includes(' ') ? `'${a}'` : a))
      .join(' ')
      .replace(`${process.execPath} ${join(root, 'dist/aiboxctl.cjs')}`, 'aiboxctl')}\n`,
  );
  const r = spawnSync(argv[0], argv.slice(1), {
    env,
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  if (capture) process.stdout.write(r.stdout);
  if (r.status !== 0 && !allowFail) {
    process.stderr.write(
      `\nquickstart: "${title}" failed (exit ${r.status}). Fix the error above and run npm run quickstart again (it resumes).\n`,
    );
    process.exit(r.status ?? 1);
  }
  return r;
}

const up = step('Start the embedded registry (CNCF distribution on 127.0.0.1)', ctl('registry', 'up'), {
  capture: true,
});
const host = up.stdout.trim().split('\n').pop();
step(
  "Local base image (Debian 12 via debootstrap from this host's apt archive; Ubuntu cannot be pulled here)",
  ctl('local-base'),
);
if (!existsSync(join(work, 'cosign.key')))
  step('Generate a local cosign-compatible key pair', ctl('keys', 'generate', '--output-dir', work));
if (!trivy)
  process.stdout.write(
    '\n\x1b[33mWARNING: Trivy is not installed: images are NOT SCANNED (--allow-unscanned, labelled dev.aibox.scan=skipped).\x1b[0m\n',
  );
step(
  'Weekly rebuild of all five variants: build, stage, scan, tag, sign, verify, promote, channel',
  // --replace: on this local demo registry a changed input (e.g. a rebuilt local base) may overwrite
  // today's date tags; unchanged variants still resume. Production runs never pass it.
  ctl('rebuild', '--replace', ...(trivy ? [] : ['--allow-unscanned'])),
);

process.stdout.write('\n\x1b[1m== Runbook §1 "Verification"\x1b[0m\n');
step('Confirm new images in the registry (registry API; Harbor: /api/v2.0/projects/aibox/repositories)', [
  'curl',
  '-s',
  `http://${host}/v2/_catalog`,
]);
step(
  'Verify signatures (aiboxctl)',
  ctl('verify', '--key', join(work, 'cosign.pub'), `${host}/aibox/base:latest`),
);
if (cosign) {
  step(
    'Verify signatures (real cosign, offline)',
    [
      cosign,
      'verify',
      '--key',
      join(work, 'cosign.pub'),
      '--insecure-ignore-tlog=true',
      '--allow-http-registry',
      `${host}/aibox/base:latest`,
    ],
    { allowFail: true },
  );
} else {
  process.stdout.write(
    `\n(cosign not found; with cosign: cosign verify --key ${join(work, 'cosign.pub')} --insecure-ignore-tlog=true --allow-http-registry ${host}/aibox/base:latest)\n`,
  );
}
if (trivy) step('Check scan results', ctl('scan', 'base:latest'), { allowFail: true });
step('Status of every variant: latest, digest, age, signature, scan, security floor', ctl('status'));
step('The signed release channel developers trust', ctl('channel', 'show'));
// ---------------------------------------------------------------- the developer side (issue 10 §7)
// A developer on this machine, with its own config and data dirs: setup against the embedded registry with the
// quickstart key, update, check, start; then an emergency fix raises the floor, check refuses the old image,
// update fixes it. The engine quirks of this host (profiles/local/aibox.yaml) go into the developer config first;
// setup keeps them.
const devHome = join(work, 'developer');
const devEnv = {
  ...process.env,
  XDG_CONFIG_HOME: join(devHome, 'config'),
  XDG_DATA_HOME: join(devHome, 'data'),
  XDG_CACHE_HOME: join(devHome, 'cache'),
};
const devConfig = join(devHome, 'config', 'aibox', 'config.yaml');
mkdirSync(join(devHome, 'config', 'aibox'), { recursive: true });
if (!existsSync(devConfig))
  writeFileSync(devConfig, `# written by npm run quickstart\n${stringify({ engine: profile.engine })}`);
const dev = (...args) => [process.execPath, join(root, 'dist/aibox.cjs'), ...args];
function devStep(title, argv, opts = {}) {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n$ ${argv.slice(2).join(' ').replace(/^/, 'aibox ')}\n`);
  const r = spawnSync(argv[0], argv.slice(1), { env: devEnv, stdio: 'inherit' });
  if (r.status !== 0 && !(opts.expect ?? [0]).includes(r.status)) {
    process.stderr.write(`\nquickstart: "${title}" failed (exit ${r.status}).\n`);
    process.exit(r.status ?? 1);
  }
  if (opts.expect && opts.expect[0] !== 0) process.stdout.write(`(exit ${r.status}, as expected)\n`);
  return r;
}
process.stdout.write('\n\x1b[1m== The developer side: aibox (runbook §2, §3, §5)\x1b[0m\n');
devStep(
  'aibox setup: the developer config, the trusted key, the channel verified',
  dev('setup', '--registry', `${host}/aibox`, '--key', join(work, 'cosign.pub')),
);
devStep("aibox update: the channel's image, its signature verified before the pull", dev('update'));
devStep('aibox check: the preflight of aibox start', dev('check'));
devStep(
  'aibox start: verified, then the command in the sandbox',
  dev('start', '--', 'cat', '/etc/os-release'),
);

// The emergency fix (issue 9, `aiboxctl cve rebuild`): only when this build has the command.
// (commander prints the main help for an unknown command, exit 0: look for the command's own option)
const hasCve = spawnSync(process.execPath, [join(root, 'dist/aiboxctl.cjs'), 'cve', 'rebuild', '--help'], {
  encoding: 'utf8',
}).stdout.includes('--cve <id>');
const cveCommand = [
  'cve',
  'rebuild',
  '--cve',
  'CVE-2026-12345',
  '--cvss',
  '9.8',
  '--variant',
  'base',
  '--package',
  'libc6',
];
if (hasCve && !trivy) {
  // cve rebuild re-scans to confirm the fix, so it needs a scanner; with scan.scanner none it refuses.
  process.stdout.write(
    `\n(Trivy is not installed: the emergency fix needs a scanner to confirm the CVE is gone, so it is skipped here.\n With Trivy: aiboxctl --config ${configPath} ${cveCommand.join(' ')}, then aibox check (exit 3) and aibox update.)\n`,
  );
} else if (hasCve) {
  const fixed = step(
    'Emergency fix: rebuild base for a critical CVE, raise the floor (runbook §2)',
    ctl(...cveCommand),
    { allowFail: true },
  );
  if (fixed.status === 0) {
    devStep('aibox check: the old image is below the new floor', dev('check'), { expect: [3] });
    devStep('aibox update: pull the fixed image', dev('update'));
    devStep('aibox check: the floor is met again', dev('check'));
  }
} else {
  process.stdout.write('\n(aiboxctl cve rebuild is not in this build: the emergency-fix part is skipped)\n');
}

process.stdout.write(
  `\nDone. Config: ${configPath}\nTry: node dist/aiboxctl.cjs --config ${configPath} inspect java:latest\nStop the registry: node dist/aiboxctl.cjs --config ${configPath} registry down\n`,
);
