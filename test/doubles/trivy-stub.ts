/**
 * Test side of the trivy double: where the stub executable is, and a builder for Trivy
 * `image --format json` reports (SchemaVersion 2) with the fields and optionality documented in
 * reference/trivy.md §2-§4 (tests build their own reports; the real fixtures are only read by hand).
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** Absolute path of the stub executable (pass as trivyPath). */
export const TRIVY_STUB = fileURLToPath(new URL('./trivy-stub.mjs', import.meta.url));

export interface VulnSpec {
  readonly id: string;
  readonly pkg: string;
  readonly installed: string;
  readonly fixed?: string;
  readonly severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN' | '';
  readonly status?: string;
  readonly title?: string;
  readonly pkgPath?: string;
  /** source → V3Score */
  readonly v3?: Readonly<Record<string, number>>;
}

export interface ResultSpec {
  readonly target: string;
  readonly class?: 'os-pkgs' | 'lang-pkgs';
  readonly type?: string;
  /** undefined = a clean target: no Vulnerabilities key at all (Trivy omits it). */
  readonly vulns?: readonly VulnSpec[];
}

export interface ReportSpec {
  readonly artifactName: string;
  /** Manifest digest, written into Metadata.RepoDigests as a registry scan does. */
  readonly repoDigest?: string;
  /** undefined = no Results key at all (nothing found anywhere). */
  readonly results?: readonly ResultSpec[];
}

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function vulnerability(v: VulnSpec, result: ResultSpec, artifact: string): Record<string, unknown> {
  const cvss: Record<string, unknown> = {};
  for (const [source, score] of Object.entries(v.v3 ?? {})) {
    cvss[source] = { V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', V3Score: score };
  }
  return {
    VulnerabilityID: v.id,
    PkgID: `${v.pkg}@${v.installed}`,
    PkgName: v.pkg,
    ...(v.pkgPath ? { PkgPath: v.pkgPath } : {}),
    PkgIdentifier: {
      PURL: `pkg:deb/ubuntu/${v.pkg}@${v.installed}?arch=amd64&distro=ubuntu-24.04`,
      UID: '72115b0ee60dbb71',
    },
    InstalledVersion: v.installed,
    ...(v.fixed ? { FixedVersion: v.fixed } : {}),
    Status: v.status ?? (v.fixed ? 'fixed' : 'affected'),
    Layer: { Digest: sha(`layer-${v.pkg}`), DiffID: sha(`diff-${v.pkg}`) },
    SeveritySource: 'ubuntu',
    PrimaryURL: `https://avd.aquasec.com/nvd/${v.id.toLowerCase()}`,
    DataSource: {
      ID: 'ubuntu',
      Name: 'Ubuntu CVE Tracker',
      URL: 'https://git.launchpad.net/ubuntu-cve-tracker',
    },
    Fingerprint: sha(`${artifact}${result.target}${v.pkg}${v.id}`),
    ...(v.title ? { Title: v.title } : {}),
    Description: `Description of ${v.id}.`,
    Severity: v.severity,
    CweIDs: ['CWE-787'],
    VendorSeverity: { nvd: 3, ubuntu: 2 },
    ...(Object.keys(cvss).length > 0 ? { CVSS: cvss } : {}),
    References: [`https://ubuntu.com/security/${v.id}`],
    PublishedDate: '2026-01-10T15:15:00Z',
    LastModifiedDate: '2026-02-01T12:00:00Z',
  };
}

/** A Trivy JSON report object. */
export function trivyReport(spec: ReportSpec): Record<string, unknown> {
  const repo = spec.artifactName.replace(/[@:][^/]*$/, '');
  return {
    SchemaVersion: 2,
    Trivy: { Version: '0.74.0' },
    ReportID: '017b7d41-e09f-7000-80ea-000000000001',
    CreatedAt: '2026-02-22T02:00:30.000000005Z',
    ArtifactID: sha(`config-${spec.artifactName}`),
    ArtifactName: spec.artifactName,
    ArtifactType: 'container_image',
    Metadata: {
      Size: 66571264,
      OS: { Family: 'ubuntu', Name: '24.04' },
      ImageID: sha(`config-${spec.artifactName}`),
      DiffIDs: [sha('diff-0')],
      ...(spec.repoDigest ? { RepoDigests: [`${repo}@${spec.repoDigest}`] } : {}),
      ImageConfig: {
        architecture: 'amd64',
        os: 'linux',
        created: '2026-02-22T01:50:00Z',
        rootfs: { type: 'layers', diff_ids: [sha('diff-0')] },
      },
      Layers: [{ Size: 65561088, Digest: sha('layer-0'), DiffID: sha('diff-0') }],
    },
    ...(spec.results
      ? {
          Results: spec.results.map((r) => ({
            Target: r.target,
            Class: r.class ?? 'os-pkgs',
            Type: r.type ?? 'ubuntu',
            ...(r.vulns
              ? { Vulnerabilities: r.vulns.map((v) => vulnerability(v, r, spec.artifactName)) }
              : {}),
          })),
        }
      : {}),
  };
}

/** Pretty-printed as trivy writes it (one object, then a newline). */
export function trivyReportText(spec: ReportSpec): string {
  return `${JSON.stringify(trivyReport(spec), null, 2)}\n`;
}
