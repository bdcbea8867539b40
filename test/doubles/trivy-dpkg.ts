/**
 * Test side of the dpkg-reading trivy double (trivy-dpkg.mjs): where it is, the environment that points
 * it at a vulnerability list and at this host's podman (global args from the engine config, as aibox
 * itself passes them), and its scan log. The list is re-read on every scan, so a test "discloses" a CVE
 * by rewriting it.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { testEngineSettings, testPodman } from '../helpers/engine.js';

/** Absolute path of the executable (pass as scan.trivyPath). */
export const TRIVY_DPKG = fileURLToPath(new URL('./trivy-dpkg.mjs', import.meta.url));

export interface KnownVuln {
  readonly id: string;
  readonly pkg: string;
  /** first fixed version; omitted = every version is vulnerable ("no fix available yet") */
  readonly fixed?: string;
  /** NVD CVSS v3 score */
  readonly cvss?: number;
  readonly severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
  readonly title?: string;
}

export interface ScanLogEntry {
  /** REPO@DIGEST as aibox asked for it */
  readonly image: string;
  /** installed version of every listed package (null: not installed) */
  readonly packages: Readonly<Record<string, string | null>>;
  readonly found: readonly string[];
}

export interface TrivyDpkg {
  /** Environment for the aibox process that runs the scanner. */
  readonly env: Record<string, string>;
  /** Replace the vulnerability list (a disclosure, or a database update). */
  setVulns(list: readonly KnownVuln[]): Promise<void>;
  /** Every scan so far, in order. */
  scans(): Promise<ScanLogEntry[]>;
}

/**
 * A double configured under `dir` (vulnerability list and scan log files); the log records the installed
 * version of every listed package and of the `watch` packages.
 */
export async function trivyDpkg(
  dir: string,
  o: { readonly initial?: readonly KnownVuln[]; readonly watch?: readonly string[] } = {},
): Promise<TrivyDpkg> {
  const vulns = `${dir}/trivy-dpkg-vulns.json`;
  const log = `${dir}/trivy-dpkg-scans.jsonl`;
  await writeFile(vulns, JSON.stringify(o.initial ?? []));
  await appendFile(log, '');
  return {
    env: {
      TRIVY_DPKG_VULNS: vulns,
      TRIVY_DPKG_LOG: log,
      TRIVY_DPKG_WATCH: (o.watch ?? []).join(','),
      TRIVY_DPKG_PODMAN: testEngineSettings().podman,
      TRIVY_DPKG_PODMAN_ARGS: JSON.stringify(testPodman().globalArgs()),
    },
    setVulns: (list) => writeFile(vulns, JSON.stringify(list)),
    scans: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ScanLogEntry),
  };
}
