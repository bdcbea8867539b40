/**
 * publishChannel / readChannel against a real CNCF distribution registry on loopback. The sign callback is a
 * recorder: signatures themselves are tested with the signing module.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildChannel, CHANNEL_ARTIFACT_TYPE, type ChannelEntry } from '../../src/channel/channel.js';
import {
  channelRepository,
  EMPTY_CONFIG_BYTES,
  EMPTY_CONFIG_DIGEST,
  historyTag,
  listHistory,
  publishChannel,
  readChannel,
  readChannelIfPresent,
} from '../../src/channel/store.js';
import { createRegistryClient, type RegistryClient } from '../../src/oci/client.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import type { Reference } from '../../src/oci/reference.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

let reg: TestRegistry;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  client = createRegistryClient({ env: {}, retries: 1 });
});
afterAll(async () => {
  await maybeUnset(client)?.close();
  await maybeUnset(reg)?.stop();
});

const NOW = Date.parse('2026-02-22T02:30:00Z');
const entries = (date: string, created: string): ChannelEntry[] =>
  ['base', 'java', 'node', 'dotnet', 'full'].map((variant, i) => ({
    variant,
    tag: `24.04-${date}`,
    digest: `sha256:${String(i).repeat(64)}`,
    created,
  }));

describe('channel store', () => {
  it('the empty config constant is sha256("{}")', () => {
    expect(sha256Digest(EMPTY_CONFIG_BYTES)).toBe(EMPTY_CONFIG_DIGEST);
  });

  it('publishes, signs before tagging, reads back digest-verified, and refuses a stale sequence', async () => {
    const repo = channelRepository(reg.host, 'aibox');
    expect(await readChannelIfPresent(client, repo)).toBeNull();
    await expect(readChannel(client, repo)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const signed: (Reference & { digest: string })[] = [];
    const tagAtSignTime: (string | null)[] = [];
    const sign = async (ref: Reference & { digest: string }) => {
      signed.push(ref);
      const current = await client.headManifest({ ...repo, tag: 'current' });
      tagAtSignTime.push(current?.digest ?? null);
    };

    const c1 = buildChannel(null, entries('20260222', '2026-02-22T02:10:00Z'), NOW);
    const p1 = await publishChannel(client, repo, c1, { sign, expectCurrent: null });
    expect(p1.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(signed).toEqual([{ registry: reg.host, repository: 'aibox/channel', digest: p1.digest }]);
    expect(tagAtSignTime).toEqual([null]); // `current` moved only after signing

    const r1 = await readChannel(client, repo);
    expect(r1.digest).toBe(p1.digest);
    expect(r1.channel).toEqual(c1);
    expect(r1.bytes).toEqual(p1.bytes);

    // artifact shape as other tools see it
    const { bytes: mbytes, descriptor } = await client.getManifest({ ...repo, tag: 'current' });
    const manifest = JSON.parse(new TextDecoder().decode(mbytes));
    expect(descriptor.mediaType).toBe(MediaTypes.OCI_MANIFEST);
    expect(manifest.artifactType).toBe(CHANNEL_ARTIFACT_TYPE);
    expect(manifest.config).toEqual({
      mediaType: MediaTypes.OCI_EMPTY,
      digest: EMPTY_CONFIG_DIGEST,
      size: 2,
    });
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0].mediaType).toBe(CHANNEL_ARTIFACT_TYPE);
    expect(manifest.annotations['dev.aibox.channel.sequence']).toBe('1');

    // next promotion builds on what is published
    const c2 = buildChannel(r1.channel, entries('20260301', '2026-03-01T02:10:00Z'), NOW + 7 * 86_400_000);
    const p2 = await publishChannel(client, repo, c2, { sign, expectCurrent: p1.digest });
    expect((await readChannel(client, repo)).channel.sequence).toBe(2);
    expect(tagAtSignTime[1]).toBe(p1.digest);

    // pinned read by digest (what a client does after verifying the signature on that digest)
    expect((await readChannel(client, repo, { digest: p1.digest })).channel.sequence).toBe(1);

    // every publication is also in the history: seq-<N> names the same manifest
    expect((await client.headManifest({ ...repo, tag: historyTag(1) }))?.digest).toBe(p1.digest);
    expect((await client.headManifest({ ...repo, tag: historyTag(2) }))?.digest).toBe(p2.digest);
    expect(await listHistory(client, repo)).toEqual([2, 1]);

    // a stale promoter (built from sequence 1) is refused before anything is pushed, signed or moved
    const stale = buildChannel(r1.channel, entries('20260301', '2026-03-01T02:10:00Z'), NOW + 8 * 86_400_000);
    await expect(
      publishChannel(client, repo, stale, { sign, expectCurrent: p1.digest }),
    ).rejects.toMatchObject({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(/sequence 2 was already published/),
    });
    expect(signed).toHaveLength(2);
    expect((await readChannel(client, repo)).digest).toBe(p2.digest);

    // a publisher whose base moved meanwhile does not move current
    const c3 = buildChannel(c2, entries('20260308', '2026-03-08T02:10:00Z'), NOW + 14 * 86_400_000);
    await expect(publishChannel(client, repo, c3, { sign, expectCurrent: p1.digest })).rejects.toMatchObject({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(/points at/),
    });
    expect((await readChannel(client, repo)).digest).toBe(p2.digest);
    expect(await client.headManifest({ ...repo, tag: historyTag(3) })).toBeNull();
  });

  it('refuses an artifact of another type at the channel tag', async () => {
    const repo = channelRepository(reg.host, 'other');
    await client.pushBlob(repo, EMPTY_CONFIG_BYTES, { mediaType: MediaTypes.OCI_EMPTY });
    const layer = await client.pushBlob(repo, new TextEncoder().encode('{}'), {
      mediaType: 'application/json',
    });
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OCI_MANIFEST,
        artifactType: 'application/vnd.example+json',
        config: { mediaType: MediaTypes.OCI_EMPTY, digest: EMPTY_CONFIG_DIGEST, size: 2 },
        layers: [{ ...layer, mediaType: 'application/json' }],
      }),
    );
    await client.putManifest({ ...repo, tag: 'current' }, manifest, MediaTypes.OCI_MANIFEST);
    await expect(readChannel(client, repo)).rejects.toMatchObject({
      code: 'CHANNEL_INVALID',
      message: expect.stringMatching(/artifactType/),
    });
  });
});
