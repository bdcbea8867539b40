/**
 * `aibox` entry point (developers; bundled to dist/aibox.cjs). `--version` answers before anything
 * else is loaded; everything else loads the chunks through ./boot.ts.
 */
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  void import('./boot.js').then((b) => b.boot('mainDev', args));
}
