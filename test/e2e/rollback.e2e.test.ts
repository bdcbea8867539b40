/**
 * Runbook §6 end to end on the bundled CLIs, real podman + docker-registry: the weekly promotion of a bad build,
 * a developer updates to it, `aiboxctl rollback --to <known good> --yes` moves `latest` back, publishes a new
 * channel sequence and posts the runbook's announcement (Slack double), then `aibox update` on the developer's
 * machine switches to the known-good image. `rollback --list` and a refused target (missing) on the way.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, loadPrivateKey, type SigningKey } from '../../src/signing/keys.js';
import { startSlackDouble, type SlackDouble } from '../doubles/slack.js';
import { envelopeOf, runBin } from '../helpers/cli.js';
import { startDevWorld, type Developer, type DevWorld, type PublishedImage } from '../helpers/dev.js';
import { maybeUnset } from '../helpers/unset.js';

let w: DevWorld;
let slack: SlackDouble;
let dev: Developer;
let key: SigningKey;
let good: PublishedImage;
let bad: PublishedImage;
let ctlEnv: Record<string, string>;
const REASON = 'a broken apt mirror in the 20260221 build';

const ctl = (args: string[]) =>
  runBin('aiboxctl', ['--config', join(w.dir, 'aibox.yaml'), '--registry', `${w.host}/aibox`, ...args], {
    env: ctlEnv,
  });

beforeAll(async () => {
  w = await startDevWorld('rollbk');
  slack = await startSlackDouble();
  const pair = await generateKeyPair('pw-rollback');
  key = await loadPrivateKey(pair.privateKeyPem, 'pw-rollback', 'platform key');
  await writeFile(join(w.dir, 'platform.key'), pair.privateKeyPem);
  await writeFile(join(w.dir, 'platform.pub'), pair.publicKeyPem);
  await writeFile(
    join(w.dir, 'aibox.yaml'),
    stringify({
      registry: { project: 'aibox' },
      signing: { key: join(w.dir, 'platform.key') },
      notify: { slackWebhook: slack.webhookUrl },
    }),
  );
  ctlEnv = {
    HOME: join(w.dir, 'ctl'),
    XDG_DATA_HOME: join(w.dir, 'ctl', 'data'),
    COSIGN_PASSWORD: 'pw-rollback',
  };
  good = await w.publishImage('base', '24.04-20260214', { content: 'good', sign: key });
  bad = await w.publishImage('base', '24.04-20260221', { content: 'bad', sign: key });
  // The two weekly promotions (no scanner on this machine: promoted as unscanned, recorded in the channel).
  for (const date of ['2026-02-14', '2026-02-21']) {
    const p = await ctl(['promote', '--date', date, '--variant', 'base', '--allow-unscanned']);
    expect(p.code, p.stderr).toBe(0);
  }
  dev = await w.developer('bob');
  const s = await dev.aibox(['setup', '--registry', `${w.host}/aibox`, '--key', join(w.dir, 'platform.pub')]);
  expect(s.code, s.stderr).toBe(0);
  const u = await dev.aibox(['update']);
  expect(u.stdout).toContain('Latest image:  aibox-base:24.04-20260221\n');
}, 240_000);
afterAll(async () => {
  await slack.stop();
  await maybeUnset(w)?.dispose();
});

describe('aiboxctl rollback (runbook §6) → aibox update', () => {
  it('--list shows both dates, the current one marked', async () => {
    const r = await ctl(['rollback', '--list', '--variant', 'base', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(envelopeOf<{ candidates: { date: string; current: boolean }[] }>(r).data?.candidates).toEqual([
      { date: '2026-02-21', tags: { base: '24.04-20260221' }, current: true },
      { date: '2026-02-14', tags: { base: '24.04-20260214' }, current: false },
    ]);
  });

  it('a target missing for the variant is refused (exit 3) and nothing moves', async () => {
    const r = await ctl([
      'rollback',
      '--to',
      '24.04-20260207',
      '--variant',
      'base',
      '--reason',
      REASON,
      '--yes',
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not rolling back to 24\.04-20260207/);
    expect(slack.posts).toHaveLength(0);
  });

  it('without --yes: the plan and the announcement, exit 0, nothing moves and nothing is posted', async () => {
    const r = await ctl([
      'rollback',
      '--to',
      '2026-02-14',
      '--variant',
      'base',
      '--reason',
      REASON,
      '--allow-unscanned',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^VARIANT +FROM +TO +DIGEST +FLOOR\nbase +24\.04-20260221 +24\.04-20260214 +sha256:/,
    );
    expect(r.stdout).toContain('(dry run: nothing moved; add --yes to roll back)');
    expect(r.stdout).toContain("Run 'aibox update' to get the stable image.");
    const latest = await w.client.headManifest({ registry: w.host, repository: 'aibox/base', tag: 'latest' });
    expect(latest?.digest).toBe(bad.digest);
    expect(slack.posts).toHaveLength(0);
  });

  it('rolls back, announces the runbook text, and the developer update gets the known-good image', async () => {
    const r = await ctl([
      'rollback',
      '--to',
      '24.04-20260214',
      '--variant',
      'base',
      '--reason',
      REASON,
      '--allow-unscanned',
      '--yes',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const data = envelopeOf<{ status: string; channel: { sequence: number }; notified: boolean }>(r).data;
    expect(data).toMatchObject({ status: 'published', channel: { sequence: 3 }, notified: true });
    const latest = await w.client.headManifest({ registry: w.host, repository: 'aibox/base', tag: 'latest' });
    expect(latest?.digest).toBe(good.digest);
    expect(JSON.stringify(slack.posts.map((p) => p.body))).toContain(
      JSON.stringify(
        "Image rollback: aibox images have been rolled back to 24.04-20260214 due to\na broken apt mirror in the 20260221 build. Run 'aibox update' to get the stable image.",
      ).slice(1, -1),
    );

    const u = await dev.aibox(['update']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toContain('Current image: aibox-base:24.04-20260221\n');
    expect(u.stdout).toContain('Latest image:  aibox-base:24.04-20260214\n');
    expect(u.stdout).toContain('Update complete.');
    const c = await dev.aibox(['check', '--json']);
    expect(envelopeOf(c).data).toMatchObject({ image: { digest: good.digest, tag: '24.04-20260214' } });
    expect(bad.digest).not.toBe(good.digest);
  });
});
