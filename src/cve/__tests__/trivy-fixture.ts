/** Small Trivy-format reports (SchemaVersion 2) built for the triage tests: only the fields aibox reads. */
export interface Vuln {
  id: string;
  pkg?: string;
  installed?: string;
  fixed?: string;
  severity?: string;
  nvd?: number;
  vendor?: Record<string, number>;
  title?: string;
}

/** A Trivy JSON report for one image with the given vulnerabilities (one OS result). */
export function trivyReport(image: string, vulns: readonly Vuln[]): string {
  return JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: image,
    ArtifactType: 'container_image',
    Results: [
      {
        Target: `${image} (ubuntu 24.04)`,
        Class: 'os-pkgs',
        Type: 'ubuntu',
        Vulnerabilities: vulns.map((v) => ({
          VulnerabilityID: v.id,
          PkgName: v.pkg ?? 'openssl',
          InstalledVersion: v.installed ?? '3.0.13-0ubuntu3.1',
          ...(v.fixed !== undefined ? { FixedVersion: v.fixed } : {}),
          Status: v.fixed !== undefined ? 'fixed' : 'affected',
          Severity: v.severity ?? 'UNKNOWN',
          ...(v.title ? { Title: v.title } : {}),
          CVSS: {
            ...(v.nvd !== undefined ? { nvd: { V3Score: v.nvd } } : {}),
            ...Object.fromEntries(Object.entries(v.vendor ?? {}).map(([k, s]) => [k, { V3Score: s }])),
          },
        })),
      },
    ],
  });
}
