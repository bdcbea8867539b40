import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import type { Preflight } from '../../sandbox/preflight.js';
import {
  reportFromError,
  reportFromUpdate,
  fleetClientId,
  fleetSettings,
  reportFromPreflight,
  type FleetReport,
} from '../report.js';
import { fleetReportSchema, renderFleetSchema } from '../schema.js';

const image = {
  variant: 'base',
  displayName: 'aibox-base:24.04-20260221',
  tag: '24.04-20260221',
  digest: `sha256:${'b'.repeat(64)}`,
  created: '2026-02-21T02:00:00Z',
  ref: 'localhost/aibox/base:24.04-20260221',
};
const ctx = {
  clientId: fleetClientId('dev-laptop', 'alice'),
  aiboxVersion: '0.1.0',
  now: new Date('2026-02-22T09:00:00Z'),
};
const ok: Preflight = {
  ok: true,
  image,
  signer: 'platform-ci@aibox.internal',
  signedAt: '2026-02-21T02:30:00Z',
  floor: null,
  offline: true,
  warnings: [],
  channelSequence: 7,
};
const refused = (kind: 'signature' | 'floor' | 'no-image' | 'channel'): Preflight => ({
  ok: false,
  kind,
  image,
  error: new AiboxError({ code: 'POLICY_REFUSED', message: 'no' }),
});

describe('fleet report', () => {
  it('client id: a stable hash of host and user that names neither', () => {
    expect(ctx.clientId).toMatch(/^[0-9a-f]{64}$/);
    expect(fleetClientId('dev-laptop', 'alice')).toBe(ctx.clientId);
    expect(fleetClientId('dev-laptop', 'bob')).not.toBe(ctx.clientId);
    expect(fleetClientId('dev-laptopa', 'lice')).not.toBe(ctx.clientId);
  });

  it('carries the fields of issue 10 §6 for a passing start', () => {
    expect(reportFromPreflight('start', 'base', ok, ctx)).toEqual({
      schema: 'aibox.fleet-report/v1',
      clientId: ctx.clientId,
      event: 'start',
      at: '2026-02-22T09:00:00.000Z',
      aiboxVersion: '0.1.0',
      variant: 'base',
      image: { digest: image.digest, tag: image.tag, created: image.created },
      floorMet: true,
      outcome: 'ok',
      refusal: null,
      signatureFailures: 0,
      channelSequence: 7,
      offline: true,
    } satisfies FleetReport);
  });

  it('records refusals with their reason, and signature failures', () => {
    expect(reportFromPreflight('check', 'base', refused('signature'), ctx)).toMatchObject({
      outcome: 'refused',
      refusal: 'signature',
      signatureFailures: 1,
      floorMet: null,
    });
    expect(reportFromPreflight('check', 'base', refused('floor'), ctx)).toMatchObject({
      outcome: 'refused',
      refusal: 'floor',
      floorMet: false,
    });
    expect(reportFromPreflight('update', 'base', refused('channel'), ctx)).toMatchObject({
      outcome: 'failed',
    });
  });

  it('classifies a failed command by its error code: signature / floor refusals, channel, other failures', () => {
    expect(reportFromError('update', 'base', 'NO_MATCHING_SIGNATURE', ctx)).toMatchObject({
      outcome: 'refused',
      refusal: 'signature',
      signatureFailures: 1,
    });
    expect(reportFromError('start', 'base', 'POLICY_REFUSED', ctx)).toMatchObject({
      refusal: 'floor',
      floorMet: false,
    });
    expect(reportFromError('update', 'base', 'CHANNEL_REJECTED', ctx)).toMatchObject({
      outcome: 'failed',
      refusal: 'channel',
    });
    expect(reportFromError('check', 'base', 'TOOL_MISSING', ctx)).toMatchObject({
      outcome: 'failed',
      refusal: null,
      image: null,
    });
    expect(reportFromUpdate({ variant: 'base', image, channelSequence: 9 }, ctx)).toMatchObject({
      event: 'update',
      outcome: 'ok',
      floorMet: true,
      image: { digest: image.digest, tag: image.tag, created: image.created },
      channelSequence: 9,
    });
  });

  it('every report it builds is valid against the published schema', () => {
    const reports = [
      reportFromPreflight('start', 'base', ok, ctx),
      ...(['signature', 'floor', 'no-image', 'channel'] as const).map((k) =>
        reportFromPreflight('check', 'java', refused(k), ctx),
      ),
      reportFromPreflight(
        'update',
        'base',
        { ok: false, kind: 'no-image', error: new AiboxError({ code: 'NOT_FOUND', message: 'x' }) },
        ctx,
      ),
      reportFromError('update', 'node', 'REGISTRY_UNREACHABLE', ctx),
      reportFromError('update', 'node', 'NO_MATCHING_SIGNATURE', ctx),
      reportFromError('check', 'node', 'CHANNEL_REJECTED', ctx),
      reportFromUpdate({ variant: 'base', image, channelSequence: 9 }, ctx),
    ];
    for (const r of reports) expect(fleetReportSchema.safeParse(r).success).toBe(true);
    expect(fleetReportSchema.safeParse({ ...reports[0], extra: 1 }).success).toBe(false);
  });

  it('schema/fleet-report.schema.json is current (npm run gen)', () => {
    for (const [rel, text] of Object.entries(renderFleetSchema()))
      expect(readFileSync(new URL(`../../../${rel}`, import.meta.url), 'utf8')).toBe(text);
  });

  it('reads the fleet settings of the developer config; no URL = no reports', () => {
    expect(fleetSettings({ fleet: { url: 'https://fleet.example/r', tokenFile: '/t' } })).toEqual({
      url: 'https://fleet.example/r',
      tokenFile: '/t',
    });
    expect(fleetSettings({ fleet: { url: null, tokenFile: null } })).toBeNull();
    expect(fleetSettings({})).toBeNull();
  });
});
