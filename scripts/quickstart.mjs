// npm run quickstart: the whole weekly loop of runbook §1 on this machine, on the embedded local
// registry: local base image, keys, five variants built, scanned (Trivy if installed, otherwise
// the demo scanner, said once), pushed, signed, verified, promoted, channel published; then the runbook's
// verification commands with their output; then the developer side (aibox setup/update/check/start) and an
// emergency fix for real (issue 10 §7, issue 9 §3): a demo advisory for the demo package aibox-canary, the fix
// published in a loopback apt repository, `aiboxctl cve triage`, `aiboxctl cve rebuild` raising the floor,
// `aibox check` refusing the old image (exit 3), `aibox update`, `aibox check` valid. Exits non-zero when any
// step does not do what it should. The demo parts live in scripts/quickstart/ (never in src/).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { createDemoRepo, PACKAGE } from './quickstart/demo-apt-repo.mjs';

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

// ------------------------------------------------------------------ the demo package and its archive
// The emergency fix needs a package that gets a fix while we watch: the demo package aibox-canary (1.0, then the
// fix 1.1), served from a loopback apt repository (this machine has no internet), installed in base. Each run is
// a new round: a new demo advisory id and a rebuilt base, so a re-run shows the whole story again.
const demoDir = join(work, 'demo');
mkdirSync(demoDir, { recursive: true });
const roundFile = join(demoDir, 'round');
const round = (existsSync(roundFile) ? Number(readFileSync(roundFile, 'utf8')) || 0 : 0) + 1;
writeFileSync(roundFile, `${round}\n`);
const CVE = `CVE-2026-${12344 + round}`;
const portFile = join(demoDir, 'apt-port');
const lastPort = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : 0;
// The same port as last time when it is free (the base's apt source line, so its inputs, stay the same).
const aptRepo = await createDemoRepo(join(demoDir, 'apt'), { port: lastPort }).catch(() =>
  createDemoRepo(join(demoDir, 'apt'), { port: 0 }),
);
writeFileSync(portFile, `${aptRepo.port}\n`);
process.on('exit', () => aptRepo.stop());
aptRepo.publish(['1.0']);

// base = the local profile's base Containerfile + the demo apt source and aibox-canary, before the user step.
const baseFile = join(root, 'profiles/local/images/base/Containerfile');
const baseText = readFileSync(baseFile, 'utf8');
const anchor = baseText.indexOf('RUN groupadd');
if (anchor < 0) throw new Error(`${baseFile}: no "RUN groupadd" step to add the demo package before`);
const demoBase = join(demoDir, 'base');
mkdirSync(demoBase, { recursive: true });
writeFileSync(
  join(demoBase, 'Containerfile'),
  baseText.slice(0, anchor) +
    [
      '# QUICKSTART DEMO ONLY (scripts/quickstart.mjs): the loopback demo apt repository and its demo package,',
      '# kept as an apt source so the emergency rebuild (apt-get install --only-upgrade) sees the fix.',
      `RUN printf '%s\\n' '${aptRepo.sourceLine}' > /etc/apt/sources.list.d/aibox-quickstart-demo.list \\`,
      ' && apt-get update \\',
      ` && apt-get install -y --no-install-recommends ${PACKAGE} \\`,
      ' && apt-get clean \\',
      ' && rm -rf /var/lib/apt/lists/*',
      '',
      '',
    ].join('\n') +
    baseText.slice(anchor),
);
writeFileSync(join(demoBase, 'round'), `${round}\n`); // in the build context: a new round rebuilds base

// The demo scanner (scripts/quickstart/demo-scanner.mjs) when Trivy is not installed: it reads the image's REAL
// installed packages (dpkg-query on its dpkg database) and knows only the demo advisories file below.
const demoScanner = join(root, 'scripts/quickstart/demo-scanner.mjs');
const advisories = join(demoDir, 'advisories.json');
writeFileSync(advisories, '[]\n'); // nothing disclosed yet

// Config: the local profile, with absolute Containerfile paths, the demo base, host networking for builds (the
// loopback apt repository), our key, and Trivy when present (else the demo scanner).
const profile = parse(readFileSync(join(root, 'profiles/local/aibox.yaml'), 'utf8'));
for (const v of Object.values(profile.variants))
  v.containerfile = join(root, 'profiles/local', v.containerfile);
profile.variants.base.containerfile = join(demoBase, 'Containerfile');
profile.engine = { ...profile.engine, buildNetwork: 'host' };
profile.signing = {
  key: join(work, 'cosign.key'),
  trustedKeys: [{ name: 'quickstart', path: join(work, 'cosign.pub') }],
};
const writeConfig = (path, scan) => {
  writeFileSync(
    path,
    `# written by npm run quickstart from profiles/local/aibox.yaml\n${stringify({ ...profile, scan })}`,
  );
  return path;
};
const demoScan = { scanner: 'trivy', trivyPath: demoScanner };
const configPath = writeConfig(
  join(work, 'aibox.yaml'),
  trivy ? { scanner: 'trivy', trivyPath: trivy } : demoScan,
);
// The demo advisory is in no real scanner's database: the emergency part always scans with the demo scanner.
const demoConfigPath = trivy ? writeConfig(join(work, 'aibox-demo-scanner.yaml'), demoScan) : configPath;

// A local signing password, kept beside the key (0600): this is a demo key, not a platform key.
const pwFile = join(work, 'cosign.password');
if (!existsSync(pwFile)) {
  writeFileSync(pwFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  chmodSync(pwFile, 0o600);
}
const env = {
  ...process.env,
  COSIGN_PASSWORD: readFileSync(pwFile, 'utf8').trim(),
  TRIVY_DPKG_VULNS: advisories,
  TRIVY_DPKG_PODMAN: profile.engine.podman ?? 'podman',
  TRIVY_DPKG_PODMAN_ARGS: JSON.stringify([
    ...(profile.engine.runtime ? ['--runtime', profile.engine.runtime] : []),
    ...(profile.engine.cgroupManager ? ['--cgroup-manager', profile.engine.cgroupManager] : []),
  ]),
};

const ctl = (...args) => [process.execPath, join(root, 'dist/aiboxctl.cjs'), '--config', configPath, ...args];
const demoCtl = (...args) => [
  process.execPath,
  join(root, 'dist/aiboxctl.cjs'),
  '--config',
  demoConfigPath,
  ...args,
];
function fail(why, code = 1) {
  process.stderr.write(
    `\nquickstart: FAILED: ${why}. Fix the error above and run npm run quickstart again.\n`,
  );
  process.exit(code);
}
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
process.stdout.write(
  trivy
    ? `\nScanner: Trivy (${trivy}). The emergency-fix demo at the end uses the demo scanner (scripts/quickstart/demo-scanner.mjs): its demo advisory for ${PACKAGE} is in no real database.\n`
    : `\n\x1b[33mScanner: Trivy is not installed, so this quickstart uses the DEMO SCANNER (scripts/quickstart/demo-scanner.mjs), not a vulnerability scanner: it reads each image's real installed packages (dpkg-query) and knows only one demo advisory, for the demo package ${PACKAGE}, since no real CVE can be patched offline. Install Trivy for real scans.\x1b[0m\n`,
);
step(
  'Weekly rebuild of all five variants: build, stage, scan, tag, sign, verify, promote, channel',
  // --replace: on this local demo registry a changed input (e.g. a rebuilt local base) may overwrite
  // today's date tags; unchanged variants still resume. Production runs never pass it.
  ctl('rebuild', '--replace'),
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
step('Check scan results', ctl('scan', 'base:latest'), { allowFail: Boolean(trivy) });
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
// opts.expect: the exit codes that count as success (default [0]); opts.capture: also check the output (stdout and
// stderr, shown as they are) with opts.want (a string it must contain).
function devStep(title, argv, opts = {}) {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n$ ${argv.slice(2).join(' ').replace(/^/, 'aibox ')}\n`);
  const expect = opts.expect ?? [0];
  const r = spawnSync(argv[0], argv.slice(1), {
    env: devEnv,
    stdio: opts.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
  });
  if (opts.capture) {
    process.stdout.write(r.stderr); // in order, also when the output goes to a file (CI logs)
    process.stdout.write(r.stdout);
    r.stdout = `${r.stderr}${r.stdout}`;
  }
  if (!expect.includes(r.status))
    fail(`"${title}" exited ${r.status} (expected ${expect.join(' or ')})`, r.status || 1);
  if (opts.want !== undefined && !r.stdout.includes(opts.want))
    fail(`"${title}" did not print "${opts.want}"`);
  if (expect[0] !== 0) process.stdout.write(`(exit ${r.status}, as expected)\n`);
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

// ---------------------------------------------------------------- the emergency fix (issue 9 §2-§4, runbook §2)
process.stdout.write('\n\x1b[1m== An emergency fix: a Critical CVE, the floor raised (runbook §2)\x1b[0m\n');
writeFileSync(
  advisories,
  `${JSON.stringify([{ id: CVE, pkg: PACKAGE, fixed: '1.1', cvss: 9.8, severity: 'CRITICAL', title: `${PACKAGE}: demo advisory (quickstart round ${round})` }], null, 2)}\n`,
);
process.stdout.write(
  `\nDemo advisory disclosed: ${CVE}, CVSS 9.8, ${PACKAGE} < 1.1 (base has 1.0; ${advisories}).\n`,
);
aptRepo.publish(['1.0', '1.1']);
process.stdout.write(`The fix lands in the archive: ${PACKAGE} 1.1 published in ${aptRepo.url}.\n`);
const triage = step(
  'Triage: scan latest, classify by CVSS, deadline and the exact command (runbook §2)',
  demoCtl('cve', 'triage', 'base:latest'),
  { capture: true },
);
const command = `aiboxctl cve rebuild --cve ${CVE}`;
if (!triage.stdout.includes(CVE) || !triage.stdout.includes('Critical') || !triage.stdout.includes(command))
  fail(`the triage does not show ${CVE} as Critical with "${command}"`);
step(
  'Emergency rebuild: patch, re-scan (the CVE must be gone), sign, push -cve- tags, promote, raise the floor',
  demoCtl('cve', 'rebuild', '--cve', CVE, '--cvss', '9.8'),
);
step('The channel now carries the floor (mandatory update, min-image-created)', ctl('channel', 'show'));
// The runbook §2 text, exactly, filled with the demo advisory.
const required = `SECURITY UPDATE REQUIRED: A critical vulnerability (${CVE}, CVSS 9.8) has been\npatched. Run 'aibox update' to pull the latest image before starting your sandbox.`;
devStep('aibox check: the old image is below the new floor', dev('check'), {
  expect: [3],
  capture: true,
  want: required,
});
devStep('aibox start: refuses the old image too (nothing is started)', dev('start', '--', 'true'), {
  expect: [3],
  capture: true,
  want: required,
});
devStep('aibox update: pull the fixed image (signature verified first)', dev('update'));
devStep('aibox check: the floor is met again', dev('check'));
devStep(
  `aibox start: the fixed image, ${PACKAGE} 1.1 inside`,
  dev('start', '--', 'cat', `/usr/share/${PACKAGE}/version`),
  { capture: true, want: '\n1.1\n' }, // the version file, on a line of its own
);

process.stdout.write(
  `\nDone. Config: ${configPath}\nTry: node dist/aiboxctl.cjs --config ${configPath} inspect java:latest\nStop the registry: node dist/aiboxctl.cjs --config ${configPath} registry down\n`,
);
