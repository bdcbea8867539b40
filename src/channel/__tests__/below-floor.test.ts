/**
 * The signed `belowFloor` marker (aiboxctl rollback --force-below-floor): only with it may an entry be older than
 * its floor; the floor stays; documents without it are unchanged byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { isAiboxError } from '../../core/errors.js';
import {
  buildChannel,
  parseChannel,
  serializeChannel,
  validateChannel,
  type ChannelEntry,
} from '../channel.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const NOW = Date.parse('2026-02-22T03:00:00Z');
const floored = buildChannel(
  null,
  [
    {
      variant: 'base',
      tag: '24.04-20260222',
      digest: D('b'),
      created: '2026-02-22T02:10:00Z',
      mandatoryUpdate: true,
      minImageDate: '2026-02-20',
    },
  ],
  NOW,
);
const old: ChannelEntry = {
  variant: 'base',
  tag: '24.04-20260214',
  digest: D('a'),
  created: '2026-02-14T02:10:00Z',
};

describe('belowFloor marker', () => {
  it('without it, an entry older than the floor is refused', () => {
    let err: unknown;
    try {
      buildChannel(floored, [old], NOW + 1000);
    } catch (e: unknown) {
      err = e;
    }
    expect(isAiboxError(err, 'POLICY_REFUSED')).toBe(true);
  });

  it('with it, the entry is published with the reason, and the floor stays', () => {
    const c = buildChannel(floored, [old], NOW + 1000, { belowFloor: { base: ' bad\nbuild ' } });
    expect(c.variants['base']).toMatchObject({
      digest: D('a'),
      mandatoryUpdate: true,
      minImageCreated: '2026-02-20T00:00:00Z',
      belowFloor: { reason: 'bad build', at: '2026-02-22T03:00:01Z' },
    });
    // Round trip through bytes: the marker is part of the signed document.
    expect(parseChannel(serializeChannel(c))).toEqual(c);
  });

  it('a document older than its floor without the marker is malformed', () => {
    const c = buildChannel(floored, [old], NOW + 1000, { belowFloor: { base: 'x' } });
    const { belowFloor: _drop, ...rest } = c.variants['base']!;
    let err: unknown;
    try {
      validateChannel({ ...c, variants: { base: rest } });
    } catch (e: unknown) {
      err = e;
    }
    expect(isAiboxError(err, 'CHANNEL_INVALID')).toBe(true);
  });

  it('is not added for an entry at or above the floor, so ordinary documents are unchanged', () => {
    const c = buildChannel(floored, [{ ...old, created: '2026-02-21T00:00:00Z' }], NOW + 1000, {
      belowFloor: { base: 'x' },
    });
    expect(c.variants['base']!.belowFloor).toBeUndefined();
    expect(new TextDecoder().decode(serializeChannel(c))).not.toContain('belowFloor');
  });
});
