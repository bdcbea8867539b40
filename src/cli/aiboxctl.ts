/**
 * `aiboxctl` entry point (bundled to dist/aiboxctl.cjs). `--version` answers before anything else
 * is loaded, so the common "is it installed?" check costs no more than starting Node; a CommonJS
 * entry also spares Node's ESM loader. Everything else loads the chunks through ./boot.ts.
 */
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  void import('./boot.js').then((b) => b.boot('mainCtl', args));
}
