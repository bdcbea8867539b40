#!/usr/bin/env node
// Test double for the trivy CLI (selected through scan.trivyPath / --trivy-path). It speaks just
// enough of `trivy image --format json` for aibox's adapter: it records its argv, then acts as
// TRIVY_STUB_MODE says:
//   report  (default) print the JSON file named by TRIVY_STUB_REPORT on stdout, exit 0
//   fail    print a fatal error on stderr like trivy does, exit 1 (trivy's exit code for fatal errors)
//   garbage print something that is not JSON, exit 0
//   empty   print nothing, exit 0
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (process.env.TRIVY_STUB_ARGS_FILE) writeFileSync(process.env.TRIVY_STUB_ARGS_FILE, JSON.stringify(args));

if (args[0] !== 'image') {
  process.stderr.write(`Error: unknown command "${args[0] ?? ''}" for "trivy"\n`);
  process.exit(1);
}
const mode = process.env.TRIVY_STUB_MODE ?? 'report';
switch (mode) {
  case 'report':
    process.stdout.write(readFileSync(process.env.TRIVY_STUB_REPORT ?? '/nonexistent/report.json'));
    process.exit(0);
    break;
  case 'fail':
    process.stderr.write('2026-02-22T02:00:01Z\tINFO\tNeed to update DB\n');
    process.stderr.write(
      `2026-02-22T02:00:03Z\tFATAL\tFatal error\trun error: image scan error: scan error: unable to initialize a scan service: ` +
        `unable to initialize an image scan service: unable to find the specified image "${args[args.length - 1]}" ` +
        `in ["remote"]: remote error: GET https://registry/v2/: UNAUTHORIZED: authentication required (password ${process.env.TRIVY_PASSWORD ?? ''})\n`,
    );
    process.exit(1);
    break;
  case 'garbage':
    process.stdout.write(
      '2026-02-22T02:00:01Z\tINFO\tVulnerability scanning is enabled\n{"SchemaVersion": 2, "Results": [\n',
    );
    process.exit(0);
    break;
  case 'empty':
    process.exit(0);
    break;
  default:
    process.stderr.write(`trivy-stub: unknown TRIVY_STUB_MODE ${mode}\n`);
    process.exit(2);
}
