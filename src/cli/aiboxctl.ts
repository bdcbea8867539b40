/**
 * `aiboxctl` entry point. `--version` answers before anything else is loaded, so the common
 * "is it installed?" check costs no more than starting Node.
 */
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const { mainCtl } = await import('./main.js');
  process.exitCode = await mainCtl(args);
}
