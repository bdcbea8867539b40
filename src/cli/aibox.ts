/**
 * `aibox` entry point (developers). `--version` answers before anything else is loaded.
 */
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const { mainDev } = await import('./main.js');
  process.exitCode = await mainDev(args);
}
