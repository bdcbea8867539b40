/**
 * The trust store: named public keys with optional validity windows, so that during an annual
 * rotation images signed with the old or the new key both verify; plus key status (age, when
 * rotation is due) and the rotation procedure. Pure: takes `now`, returns values.
 */
import type { PublicKeyMaterial } from './keys.js';

export interface TrustedKey {
  readonly name: string;
  readonly publicKey: PublicKeyMaterial;
  /** Key not trusted before this instant (verification time). */
  readonly notBefore: Date | null;
  /** Key not trusted after this instant (verification time): the end of a rotation overlap. */
  readonly notAfter: Date | null;
  /**
   * When the key was created or published: the trust store's notBefore, else null ("unknown").
   * Never a file's mtime: a copy, checkout or restore changes it and would hide an overdue rotation.
   */
  readonly createdAt: Date | null;
}

/** The signing key itself as a trusted key, with no window: how a signer checks its own signatures. */
export function trustedSelf(publicKey: PublicKeyMaterial, name = 'signing key'): TrustedKey {
  return { name, publicKey, notBefore: null, notAfter: null, createdAt: null };
}

/** Days before the rotation date from which `keys status` warns. */
export const ROTATION_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

/** Why a key may not be used at `now`, or null when it may. */
export function keyWindowProblem(k: TrustedKey, now: Date): string | null {
  if (k.notBefore && now < k.notBefore)
    return `key "${k.name}" is not valid before ${k.notBefore.toISOString()}`;
  if (k.notAfter && now > k.notAfter) return `key "${k.name}" was retired at ${k.notAfter.toISOString()}`;
  return null;
}

export type KeyState =
  'ok' | 'age-unknown' | 'rotation-due-soon' | 'rotation-overdue' | 'not-yet-valid' | 'retired';

/** States in which a trusted key cannot verify anything now: `keys status` fails (exit 1) on them. */
export const UNUSABLE_KEY_STATES: ReadonlySet<KeyState> = new Set(['retired', 'not-yet-valid']);

export interface KeyStatus {
  readonly name: string;
  readonly fingerprint: string;
  readonly algorithm: string;
  readonly createdAt: string | null;
  readonly ageDays: number | null;
  readonly rotationDue: string | null;
  readonly daysUntilRotation: number | null;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly state: KeyState;
  readonly message: string;
}

/** Fingerprint, age and rotation date of one trusted key (warns 30 days before `rotationDays`). */
export function keyStatus(k: TrustedKey, now: Date, rotationDays: number): KeyStatus {
  const base = {
    name: k.name,
    fingerprint: k.publicKey.fingerprint,
    algorithm: k.publicKey.algorithm,
    notBefore: k.notBefore?.toISOString() ?? null,
    notAfter: k.notAfter?.toISOString() ?? null,
  };
  const created = k.createdAt;
  const ageDays = created ? Math.floor((now.getTime() - created.getTime()) / DAY_MS) : null;
  const due = created ? new Date(created.getTime() + rotationDays * DAY_MS) : null;
  const daysUntil = due ? Math.ceil((due.getTime() - now.getTime()) / DAY_MS) : null;
  const common = {
    ...base,
    createdAt: created?.toISOString() ?? null,
    ageDays,
    rotationDue: due?.toISOString() ?? null,
    daysUntilRotation: daysUntil,
  };
  if (k.notAfter && now > k.notAfter) {
    return {
      ...common,
      state: 'retired',
      message: `retired since ${day(k.notAfter)}; remove it from signing.trustedKeys`,
    };
  }
  if (k.notBefore && now < k.notBefore) {
    return { ...common, state: 'not-yet-valid', message: `trusted from ${day(k.notBefore)}` };
  }
  if (daysUntil === null || due === null)
    return {
      ...common,
      state: 'age-unknown',
      message:
        'age unknown, so rotation cannot be checked: the trust store has no notBefore for this key (file dates are not used); set notBefore to the day the key was created',
    };
  if (daysUntil <= 0) {
    return {
      ...common,
      state: 'rotation-overdue',
      message: `rotation overdue since ${day(due)} (${-daysUntil} days); run 'aiboxctl keys rotate'`,
    };
  }
  if (daysUntil <= ROTATION_WARN_DAYS) {
    return {
      ...common,
      state: 'rotation-due-soon',
      message: `rotation due ${day(due)} (in ${daysUntil} days); run 'aiboxctl keys rotate'`,
    };
  }
  return { ...common, state: 'ok', message: `rotation due ${day(due)} (in ${daysUntil} days)` };
}

/** `YYYY-MM-DD` in UTC. */
export function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export interface RotationPlanInput {
  readonly newPrivateKeyPath: string;
  readonly newPublicKeyPath: string;
  readonly newFingerprint: string;
  readonly oldKeyName: string | null;
  readonly now: Date;
  /** Overlap during which both keys sign and verify; default 30 days. */
  readonly overlapDays?: number;
}

/** The exact steps of an annual rotation (runbook §5): dual-sign window, publish, retire. */
export function rotationSteps(i: RotationPlanInput): string[] {
  const overlap = i.overlapDays ?? ROTATION_WARN_DAYS;
  const start = day(i.now);
  const end = day(new Date(i.now.getTime() + overlap * DAY_MS));
  const old = i.oldKeyName ?? 'current';
  return [
    `Store the new private key in Vault: vault kv put secret/aibox/cosign-key cosign.key=@${i.newPrivateKeyPath} cosign.password=<password> (keep the old key under another path until ${end})`,
    `Trust both keys: add to signing.trustedKeys {name: "cosign-${start}", path: ${i.newPublicKeyPath}, notBefore: "${start}"} and set notAfter: "${end}" on "${old}"`,
    `Dual-sign until ${end}: sign every published image with both keys (aiboxctl sign --key <old> IMAGE; aiboxctl sign --key <new> IMAGE); both layers sit on the same .sig tag`,
    `Publish the new cosign.pub (fingerprint ${i.newFingerprint}) to developer machines through the signed channel: aiboxctl keys rotate --new-key ${i.newPrivateKeyPath} --yes (signed by the current key: clients trust the new key at once and stop trusting "${old}" after ${end}, without re-running 'aibox setup'); give it to anyone running 'cosign verify --key cosign.pub'`,
    `On ${end}: switch signing.key to the new key only, remove "${old}" from signing.trustedKeys, and delete the old private key from Vault`,
  ];
}
