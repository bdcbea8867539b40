#!/usr/bin/env node
// The quickstart's demo scanner, and the CVE tests' Trivy double (test/doubles/trivy-dpkg.mjs runs this file).
// NOT a vulnerability scanner: it knows only the advisories in its list (the quickstart's one demo advisory for
// the demo package aibox-canary), because no real CVE can be patched offline. Product code never uses it; the
// quickstart points scan.trivyPath at it only when Trivy is not installed, and says so.
//
// A stand-in for the trivy CLI whose findings come from the REAL image: it speaks the contract aibox uses
// (src/scan/trivy.ts `trivyArgs`: `image --format json --quiet --scanners vuln [--insecure] REPO@DIGEST`),
// pulls REPO@DIGEST with podman, mounts it read-only and lists its installed packages with
// `dpkg-query -W --admindir=<image>/var/lib/dpkg` (the image's own dpkg database), then reports every entry of
// a small vulnerability list whose package is installed in a vulnerable version (`dpkg --compare-versions
// installed lt fixed`; no `fixed` = every version). Output: Trivy JSON, SchemaVersion 2
// (/work/shared/reference/trivy.md §2-§4), with Metadata.RepoDigests naming the digest scanned.
//
// Environment:
//   TRIVY_DPKG_VULNS      JSON file: [{ "id", "pkg", "fixed"?, "cvss"?, "severity", "title"? }] (read on every scan)
//   TRIVY_DPKG_PODMAN     podman binary (default: podman)
//   TRIVY_DPKG_PODMAN_ARGS JSON array of podman global args (the engine config's --runtime, --root, …)
//   TRIVY_DPKG_LOG        optional file: one JSON line per scan { image, packages: {name: version}, found: [ids] }
//                         (packages: every package the list names, plus TRIVY_DPKG_WATCH, comma-separated)
//   TRIVY_DPKG_FAIL       optional: "1" = fail like trivy does on a fatal error (exit 1)
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const args = process.argv.slice(2);
const fatal = (msg) => {
  process.stderr.write(`${new Date().toISOString()}\tFATAL\tFatal error\trun error: ${msg}\n`);
  process.exit(1);
};
if (args[0] !== 'image') {
  process.stderr.write(`Error: unknown command "${args[0] ?? ''}" for "trivy"\n`);
  process.exit(1);
}
// The exact flags aibox passes; anything else means the product's contract changed: say so.
const ref = args[args.length - 1] ?? '';
const flags = args.slice(1, -1);
const expected = ['--format', 'json', '--quiet', '--scanners', 'vuln'];
const insecure = flags.includes('--insecure');
if (JSON.stringify(flags.filter((f) => f !== '--insecure')) !== JSON.stringify(expected))
  fatal(
    `trivy-dpkg double: unexpected flags ${JSON.stringify(flags)} (expected ${expected.join(' ')} [--insecure])`,
  );
const at = ref.indexOf('@');
if (at < 0 || !/^sha256:[0-9a-f]{64}$/.test(ref.slice(at + 1)))
  fatal(`trivy-dpkg double: expected REPO@sha256:…, got ${ref}`);
if (process.env.TRIVY_DPKG_FAIL === '1')
  fatal(`image scan error: scan error: unable to initialize a scan service for ${ref}`);
const repo = ref.slice(0, at);
const digest = ref.slice(at + 1);

const podman = process.env.TRIVY_DPKG_PODMAN ?? 'podman';
const globals = JSON.parse(process.env.TRIVY_DPKG_PODMAN_ARGS ?? '[]');
const pm = (a) =>
  execFileSync(podman, [...globals, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let installed;
try {
  pm(['pull', '--quiet', ...(insecure ? ['--tls-verify=false'] : []), ref]);
  const mnt = pm(['image', 'mount', ref]).trim();
  try {
    installed = execFileSync(
      'dpkg-query',
      [`--admindir=${mnt}/var/lib/dpkg`, '-W', '-f', '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'],
      { encoding: 'utf8' },
    );
  } finally {
    pm(['image', 'unmount', ref]);
  }
} catch (e) {
  fatal(`unable to inspect ${ref}: ${e.stderr?.toString().trim() || e.message}`);
}
const packages = new Map();
for (const line of installed.split('\n')) {
  const [name, version, status] = line.split('\t');
  if (name && version && status?.startsWith('ii')) packages.set(name, version);
}

const lt = (a, b) => {
  try {
    execFileSync('dpkg', ['--compare-versions', a, 'lt', b]);
    return true;
  } catch {
    return false;
  }
};
const vulns = JSON.parse(readFileSync(process.env.TRIVY_DPKG_VULNS ?? '/nonexistent', 'utf8'));
const sha = (s) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const found = [];
for (const v of vulns) {
  const have = packages.get(v.pkg);
  if (have === undefined || (v.fixed !== undefined && !lt(have, v.fixed))) continue;
  found.push({
    VulnerabilityID: v.id,
    PkgID: `${v.pkg}@${have}`,
    PkgName: v.pkg,
    PkgIdentifier: { PURL: `pkg:deb/debian/${v.pkg}@${have}?arch=all&distro=debian-12` },
    InstalledVersion: have,
    ...(v.fixed !== undefined ? { FixedVersion: v.fixed } : {}),
    Status: v.fixed !== undefined ? 'fixed' : 'affected',
    SeveritySource: 'nvd',
    PrimaryURL: `https://avd.aquasec.com/nvd/${v.id.toLowerCase()}`,
    Title: v.title ?? `${v.pkg}: test vulnerability ${v.id}`,
    Description: `Test vulnerability ${v.id} in ${v.pkg}.`,
    Severity: v.severity,
    ...(v.cvss !== undefined
      ? { CVSS: { nvd: { V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', V3Score: v.cvss } } }
      : {}),
  });
}
if (process.env.TRIVY_DPKG_LOG)
  appendFileSync(
    process.env.TRIVY_DPKG_LOG,
    `${JSON.stringify({
      image: ref,
      packages: Object.fromEntries(
        [
          ...new Set([
            ...vulns.map((v) => v.pkg),
            ...(process.env.TRIVY_DPKG_WATCH ?? '').split(',').filter(Boolean),
          ]),
        ]
          .sort()
          .map((name) => [name, packages.get(name) ?? null]),
      ),
      found: found.map((f) => f.VulnerabilityID),
    })}\n`,
  );
const report = {
  SchemaVersion: 2,
  Trivy: { Version: '0.74.0' },
  CreatedAt: new Date().toISOString(),
  ArtifactName: ref,
  ArtifactType: 'container_image',
  Metadata: {
    OS: { Family: 'debian', Name: '12' },
    ImageID: sha(`config-${ref}`),
    RepoDigests: [`${repo}@${digest}`],
  },
  Results: [
    {
      Target: `${ref} (debian 12)`,
      Class: 'os-pkgs',
      Type: 'debian',
      ...(found.length > 0 ? { Vulnerabilities: found } : {}),
    },
  ],
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
