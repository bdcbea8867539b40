/**
 * File adapter of the local channel state: `<dataDir>/channel-state.json` (`$XDG_DATA_HOME/aibox`), one entry per
 * `<registry>/<project>`, written atomically (temp file + rename, mode 0600). A file that cannot be parsed is an
 * error, never silently reset: forgetting the last published sequence would reopen the rollback it guards against.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { AiboxError } from '../core/errors.js';
import { safeParseEn } from '../core/zod-en.js';
import { MAX_CHANNEL_SEQUENCE } from './channel.js';
import type { ChannelStateStore } from './state.js';

const mark = z.object({
  sequence: z.int().check(z.minimum(1), z.maximum(MAX_CHANNEL_SEQUENCE)),
  digest: z.string().check(z.regex(/^sha256:[0-9a-f]{64}$/)),
  at: z.string(),
});
const fileSchema = z.object({
  version: z.literal(1),
  channels: z.record(z.string(), z.object({ published: z.optional(mark), seen: z.optional(mark) })),
});
type StateFile = z.infer<typeof fileSchema>;

/** The path of the state file under a data dir. */
export function channelStatePath(dataDir: string): string {
  return join(dataDir, 'channel-state.json');
}

async function load(path: string): Promise<StateFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, channels: {} };
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `cannot read the local channel state ${path}: ${(e as Error).message}`,
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const r = safeParseEn(fileSchema, doc);
  if (!r.success) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `the local channel state ${path} is not valid (${r.error.issues[0]?.message ?? 'not JSON'})`,
      hint: 'it records the last channel sequence this machine published and saw; restore it from a backup, or move it away deliberately (the registry history `channel:seq-<N>` still guards publishing)',
    });
  }
  return r.data;
}

/** The channel state store under `dataDir`. */
export function fileChannelState(dataDir: string): ChannelStateStore {
  const path = channelStatePath(dataDir);
  return {
    get: async (key) => (await load(path)).channels[key] ?? {},
    update: async (key, f) => {
      const doc = await load(path);
      const next = f(doc.channels[key] ?? {});
      doc.channels[key] = {
        ...(next.published ? { published: next.published } : {}),
        ...(next.seen ? { seen: next.seen } : {}),
      };
      await mkdir(dataDir, { recursive: true });
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}
