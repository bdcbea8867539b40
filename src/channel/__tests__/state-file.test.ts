import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { channelStatePath, fileChannelState } from '../state-file.js';
import { markPublished } from '../state.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-chstate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mark = { sequence: 4, digest: `sha256:${'4'.repeat(64)}`, at: '2026-02-22T02:30:00Z' };

describe('fileChannelState', () => {
  it('keeps one entry per registry/project in channel-state.json (mode 0600)', async () => {
    const s = fileChannelState(dir);
    expect(await s.get('h:1/aibox')).toEqual({});
    await s.update('h:1/aibox', (x) => markPublished(x, mark));
    expect(await fileChannelState(dir).get('h:1/aibox')).toEqual({ published: mark, seen: mark });
    expect(await s.get('h:2/aibox')).toEqual({});
    expect((await stat(channelStatePath(dir))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(channelStatePath(dir), 'utf8')).version).toBe(1);
  });

  it('refuses a corrupt file instead of forgetting the last published sequence', async () => {
    await writeFile(channelStatePath(dir), '{"version":1,"channels":{"h/p":{"published":{"sequence":"x"}}}}');
    await expect(fileChannelState(dir).get('h/p')).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('channel-state.json'),
    });
  });
});
