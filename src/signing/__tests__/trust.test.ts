import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyMaterial } from '../keys.js';
import { keyStatus, rotationSteps, type TrustedKey } from '../trust.js';

const pub = publicKeyMaterial(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const key = (createdAt: string | null, extra: Partial<TrustedKey> = {}): TrustedKey => ({
  name: 'ci',
  publicKey: pub,
  notBefore: null,
  notAfter: null,
  createdAt: createdAt ? new Date(createdAt) : null,
  ...extra,
});
const NOW = new Date('2026-02-21T00:00:00Z');

describe('keyStatus', () => {
  it.each([
    ['2025-06-01T00:00:00Z', 'ok', 265],
    ['2025-03-15T00:00:00Z', 'rotation-due-soon', 343],
    ['2025-02-20T00:00:00Z', 'rotation-overdue', 366],
  ])('created %s → %s', (created, state, age) => {
    const s = keyStatus(key(created), NOW, 365);
    expect(s.state).toBe(state);
    expect(s.ageDays).toBe(age);
    expect(s.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
  it('reports retired and not-yet-valid keys', () => {
    expect(
      keyStatus(key('2025-01-01T00:00:00Z', { notAfter: new Date('2026-01-01T00:00:00Z') }), NOW, 365).state,
    ).toBe('retired');
    expect(keyStatus(key(null, { notBefore: new Date('2026-03-01T00:00:00Z') }), NOW, 365).state).toBe(
      'not-yet-valid',
    );
  });
  it('says the age is unknown (and why) when the trust store gives no creation date', () => {
    const s = keyStatus(key(null), NOW, 365);
    expect(s.state).toBe('age-unknown');
    expect(s.ageDays).toBeNull();
    expect(s.message).toMatch(/age unknown, so rotation cannot be checked: the trust store has no notBefore/);
  });
});

describe('rotationSteps', () => {
  it('lists dual-sign, publish and retire steps with dates', () => {
    const steps = rotationSteps({
      newPrivateKeyPath: 'k/cosign.key',
      newPublicKeyPath: 'k/cosign.pub',
      newFingerprint: 'sha256:ab',
      oldKeyName: 'ci-2025',
      now: NOW,
    });
    expect(steps).toHaveLength(5);
    expect(steps.join('\n')).toMatch(/Dual-sign until 2026-03-23/);
    expect(steps.join('\n')).toMatch(/Publish the new cosign.pub \(fingerprint sha256:ab\)/);
    expect(steps.join('\n')).toMatch(/remove "ci-2025"/);
  });
});
