// `node --import ./test/helpers/load-trace.mjs …`: appends the URL of every module the process
// loads (one per line) to the file named by AIBOX_LOAD_TRACE. Used by test/integration/chunks.test.ts.
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
const out = ${JSON.stringify(process.env.AIBOX_LOAD_TRACE ?? '')};
export async function load(url, context, next) {
  if (out) appendFileSync(out, url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
