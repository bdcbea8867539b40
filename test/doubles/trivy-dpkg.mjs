#!/usr/bin/env node
// The dpkg-reading Trivy double of the CVE tests. One implementation, shared with `npm run quickstart`'s demo
// scanner (which needs it outside test/): scripts/quickstart/demo-scanner.mjs. Contract and environment: there.
import '../../scripts/quickstart/demo-scanner.mjs';
