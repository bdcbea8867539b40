/**
 * What an entry file runs for anything but `--version`: load the CLI chunks (dist/chunks/*.cjs)
 * through the code-cached loader, run the program, then save cache entries for what was compiled.
 * Only ever runs from the bundle (dist/aiboxctl.cjs, dist/aibox.cjs), where `__dirname` is dist/.
 */
import { join } from 'node:path';
import { ChunkLoader } from './loader.js';

type Main = typeof import('./main.js');

export async function boot(program: 'mainCtl' | 'mainDev', args: readonly string[]): Promise<void> {
  const loader = new ChunkLoader(join(__dirname, 'chunks'), process.env);
  const main = loader.require('main.cjs') as Main;
  process.exitCode = await main[program](args);
  loader.save();
}
