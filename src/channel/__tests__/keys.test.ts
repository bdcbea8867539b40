import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publicKeyMaterial, type PublicKeyMaterial } from '../../signing/keys.js';
import { keyWindowProblem, type TrustedKey } from '../../signing/trust.js';
import {
  MAX_KEY_ADDS,
  MAX_KEY_RETIRES,
  buildChannel,
  parseChannel,
  serializeChannel,
  validateChannel,
  type Channel,
  type ChannelKeyAdd,
  type ChannelKeys,
} from '../channel.js';
import { applyKeyAnnouncements, planKeyBlock, sameKeyBlock } from '../keys.js';
import { renderChannel } from '../render.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const D = (c: string) => `sha256:${c.repeat(64)}`;

function newKey(): PublicKeyMaterial {
  return publicKeyMaterial(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
}
// A fixed pool: generating keys inside property runs would be slow.
const POOL = Array.from({ length: 6 }, newKey);
const [K1, K2, K3, KA] = POOL as [PublicKeyMaterial, PublicKeyMaterial, PublicKeyMaterial, PublicKeyMaterial];

const trustedKey = (pub: PublicKeyMaterial, name: string, w: Partial<TrustedKey> = {}): TrustedKey => ({
  name,
  publicKey: pub,
  notBefore: null,
  notAfter: null,
  createdAt: null,
  ...w,
});
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
const add = (pub: PublicKeyMaterial, name: string, w: Partial<ChannelKeyAdd> = {}): ChannelKeyAdd => ({
  keyId: pub.fingerprint,
  name,
  publicKey: pub.pem,
  notBefore: iso(NOW.getTime() - DAY),
  notAfter: null,
  ...w,
});
const retire = (pub: PublicKeyMaterial, at: number) => ({ keyId: pub.fingerprint, effective: iso(at) });

function channel(keys: ChannelKeys | undefined, opts: { issued?: number; sequence?: number } = {}): Channel {
  const issued = opts.issued ?? NOW.getTime() - 60_000;
  const base = buildChannel(
    null,
    [{ variant: 'base', tag: '24.04-20260301', digest: D('a'), created: '2026-03-01T02:00:00Z' }],
    issued,
    { sequence: opts.sequence ?? 5 },
  );
  return validateChannel(keys ? { ...base, keys } : base);
}
const ids = (ks: readonly TrustedKey[]) => ks.map((k) => k.publicKey.fingerprint);

describe('channel keys block', () => {
  it('round-trips canonically: entries sorted by keyId, fixed field order', () => {
    const keys = { add: [add(K2, 'k2'), add(K3, 'k3')], retire: [retire(K1, NOW.getTime())] };
    const c = channel(keys);
    const again = parseChannel(serializeChannel(channel({ ...keys, add: [...keys.add].reverse() })));
    expect(serializeChannel(again)).toEqual(serializeChannel(c));
    expect(again.keys?.add.map((a) => a.keyId)).toEqual([K2.fingerprint, K3.fingerprint].sort());
  });

  it('keeps documents without a keys block valid and byte-identical', () => {
    const c = channel(undefined);
    expect(new TextDecoder().decode(serializeChannel(c))).not.toContain('"keys"');
    expect(parseChannel(serializeChannel(c))).toEqual(c);
  });

  it('carries the block forward on the next promotion, and drops it only when told', () => {
    const c = channel({ add: [add(K2, 'k2')], retire: [] });
    const next = buildChannel(c, [], NOW);
    expect(next.keys).toEqual(c.keys);
    expect(buildChannel(c, [], NOW, { keys: null }).keys).toBeUndefined();
  });

  it('channel show lists the announced and retired keys', () => {
    const c = channel({ add: [add(K2, 'k2')], retire: [retire(K1, NOW.getTime())] });
    const text = renderChannel(c, { now: NOW, signatureValid: true });
    expect(text).toContain(`Key added:   ${K2.fingerprint} (k2) from ${iso(NOW.getTime() - DAY)}`);
    expect(text).toContain(`Key retired: ${K1.fingerprint} from ${iso(NOW.getTime())}`);
    expect(renderChannel(channel(undefined), { now: NOW, signatureValid: true })).not.toContain('Key ');
  });

  describe('when the block is malformed', () => {
    const bad: [string, unknown][] = [
      ['unknown field', { add: [{ ...add(K2, 'k2'), extra: 1 }], retire: [] }],
      ['empty block', { add: [], retire: [] }],
      ['bad keyId', { add: [add(K2, 'k2', { keyId: 'sha256:xyz' })], retire: [] }],
      [
        'not a PEM public key',
        {
          add: [add(K2, 'k2', { publicKey: '-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n' })],
          retire: [],
        },
      ],
      [
        'oversized PEM',
        {
          add: [
            add(K2, 'k2', {
              publicKey: `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(5000)}\n-----END PUBLIC KEY-----\n`,
            }),
          ],
          retire: [],
        },
      ],
      ['window backwards', { add: [add(K2, 'k2', { notAfter: iso(NOW.getTime() - 2 * DAY) })], retire: [] }],
      ['duplicate add', { add: [add(K2, 'k2'), add(K2, 'again')], retire: [] }],
      ['added and retired', { add: [add(K2, 'k2')], retire: [retire(K2, NOW.getTime())] }],
      [
        'too many adds',
        {
          add: Array.from({ length: MAX_KEY_ADDS + 1 }, (_, i) =>
            add(POOL[i % 6] as PublicKeyMaterial, `k${i}`),
          ),
          retire: [],
        },
      ],
      ['bad effective time', { add: [], retire: [{ keyId: K1.fingerprint, effective: 'tomorrow' }] }],
      ['bad name', { add: [add(K2, 'has space')], retire: [] }],
    ];
    it.each(bad)('refuses %s with CHANNEL_INVALID', (_, keys) => {
      expect(() => validateChannel({ ...channel(undefined), keys })).toThrow(
        expect.objectContaining({ code: 'CHANNEL_INVALID' }),
      );
    });
  });
});

describe('applyKeyAnnouncements', () => {
  const store = [trustedKey(K1, 'k1')];

  it('adds a key announced by an already trusted key, with its window', () => {
    const notAfter = iso(NOW.getTime() + 400 * DAY);
    const r = applyKeyAnnouncements(
      store,
      channel({ add: [add(K2, 'k2', { notAfter })], retire: [] }),
      store[0]!,
      NOW,
    );
    expect(r.added).toEqual([`${K2.fingerprint} (k2)`]);
    expect(r.ignored).toEqual([]);
    const k2 = r.trusted.find((k) => k.publicKey.fingerprint === K2.fingerprint);
    expect(k2?.notAfter?.toISOString()).toBe(new Date(notAfter).toISOString());
    expect(k2?.notBefore?.toISOString()).toBe(new Date(NOW.getTime() - DAY).toISOString());
  });

  it('applies an annual rotation in one document: new key now, old key retired at the end of the overlap', () => {
    const end = NOW.getTime() + 30 * DAY;
    const r = applyKeyAnnouncements(
      store,
      channel({ add: [add(K2, 'k2')], retire: [retire(K1, end)] }),
      store[0]!,
      NOW,
    );
    expect(r.retired).toEqual([`${K1.fingerprint} (k1)`]);
    const k1 = r.trusted.find((k) => k.publicKey.fingerprint === K1.fingerprint)!;
    expect(keyWindowProblem(k1, NOW)).toBeNull();
    expect(keyWindowProblem(k1, new Date(end + 1))).toMatch(/retired/);
  });

  it('is idempotent: the carried-forward block applied again changes nothing and reports nothing', () => {
    const c = channel({ add: [add(K2, 'k2')], retire: [retire(K1, NOW.getTime() + DAY)] });
    const once = applyKeyAnnouncements(store, c, store[0]!, NOW);
    const twice = applyKeyAnnouncements(once.trusted, c, store[0]!, NOW);
    expect(twice.trusted).toEqual(once.trusted);
    expect([twice.added, twice.retired, twice.ignored]).toEqual([[], [], []]);
  });

  describe('attacks', () => {
    it('never trusts a key self-announced in a channel signed by itself', () => {
      const r = applyKeyAnnouncements(
        store,
        channel({ add: [add(KA, 'attacker')], retire: [retire(K1, NOW.getTime())] }),
        trustedKey(KA, 'attacker'),
        NOW,
      );
      expect(ids(r.trusted)).toEqual([K1.fingerprint]);
      expect(r.trusted[0]!.notAfter).toBeNull();
      expect(r.ignored).toHaveLength(2);
      expect(r.ignored[0]).toMatch(/did not already trust/);
    });

    it('ignores the window the caller claims for the signer: a retired trusted key has no authority', () => {
      const retiredStore = [
        trustedKey(K1, 'k1', { notAfter: new Date(NOW.getTime() - DAY) }),
        trustedKey(K2, 'k2'),
      ];
      const r = applyKeyAnnouncements(
        retiredStore,
        channel({ add: [add(KA, 'attacker')], retire: [retire(K2, NOW.getTime())] }),
        trustedKey(K1, 'k1'),
        NOW,
      );
      expect(ids(r.trusted)).toEqual([K1.fingerprint, K2.fingerprint]);
      expect(r.trusted[1]!.notAfter).toBeNull();
      expect(r.ignored[0]).toMatch(/may not use now: .*retired/);
    });

    it('never re-adds a retired key from a replayed old announcement (the tombstone wins)', () => {
      const s = [trustedKey(K1, 'k1'), trustedKey(K2, 'k2', { notAfter: new Date(NOW.getTime() - DAY) })];
      const r = applyKeyAnnouncements(s, channel({ add: [add(K2, 'k2')], retire: [] }), s[0]!, NOW);
      expect(r.trusted).toEqual(s);
      expect(r.ignored[0]).toMatch(/retired on this machine/);
    });

    it('applies nothing from an expired document (a replay of an old announcement)', () => {
      const old = channel({ add: [add(KA, 'ka')], retire: [] }, { issued: NOW.getTime() - 30 * DAY });
      const r = applyKeyAnnouncements(store, old, store[0]!, NOW);
      expect(ids(r.trusted)).toEqual([K1.fingerprint]);
      expect(r.ignored[0]).toMatch(/expired/);
    });

    it('refuses an announcement whose PEM is not the key its keyId names', () => {
      const r = applyKeyAnnouncements(
        store,
        channel({ add: [add(K2, 'k2', { publicKey: KA.pem })], retire: [] }),
        store[0]!,
        NOW,
      );
      expect(ids(r.trusted)).toEqual([K1.fingerprint]);
      expect(r.ignored[0]).toMatch(/fingerprint is/);
    });

    it('never widens the window of a key it already trusts', () => {
      const s = [trustedKey(K1, 'k1'), trustedKey(K2, 'k2', { notAfter: new Date(NOW.getTime() + DAY) })];
      const r = applyKeyAnnouncements(
        s,
        channel({ add: [add(K2, 'k2', { notAfter: null })], retire: [] }),
        s[0]!,
        NOW,
      );
      expect(r.trusted).toEqual(s);
    });

    it('does not let the signer retire itself without a successor (the client would be stranded)', () => {
      const r = applyKeyAnnouncements(
        store,
        channel({ add: [], retire: [retire(K1, NOW.getTime())] }),
        store[0]!,
        NOW,
      );
      expect(r.trusted).toEqual(store);
      expect(r.ignored[0]).toMatch(/no trusted key usable/);
    });

    it('lets the signer retire itself at once when the same document announces its successor (--compromised)', () => {
      const r = applyKeyAnnouncements(
        store,
        channel({ add: [add(K2, 'k2')], retire: [retire(K1, NOW.getTime())] }),
        store[0]!,
        NOW,
      );
      expect(r.retired).toEqual([`${K1.fingerprint} (k1)`]);
      expect(keyWindowProblem(r.trusted[0]!, new Date(NOW.getTime() + 1))).toMatch(/retired/);
      expect(keyWindowProblem(r.trusted[1]!, NOW)).toBeNull();
    });

    it('a stolen old key announcing an attacker key: accepted only before the retirement is seen, never after', () => {
      const legit = channel(
        { add: [add(K2, 'k2')], retire: [retire(K1, NOW.getTime() - 1000)] },
        { sequence: 6 },
      );
      const after = applyKeyAnnouncements(store, legit, store[0]!, NOW).trusted;
      const attack = channel(
        { add: [add(KA, 'attacker')], retire: [retire(K2, NOW.getTime())] },
        { sequence: 7 },
      );
      const r = applyKeyAnnouncements(after, attack, trustedKey(K1, 'k1'), NOW);
      expect(ids(r.trusted)).not.toContain(KA.fingerprint);
      expect(r.trusted.find((k) => k.publicKey.fingerprint === K2.fingerprint)?.notAfter).toBeNull();
    });
  });

  describe('property: no sequence of announcements makes a self-announced key trusted', () => {
    // Keys 0-2 are the platform's (trusted or announced by trusted keys); 3-5 are attackers', who may sign anything
    // but whose keys no platform-signed document ever announces.
    const platform = POOL.slice(0, 3);
    const attackers = POOL.slice(3);
    const t0 = NOW.getTime();
    const addArb = (keys: readonly PublicKeyMaterial[]) =>
      fc.record({
        key: fc.constantFrom(...keys),
        from: fc.integer({ min: -10, max: 10 }),
        len: fc.option(fc.integer({ min: 1, max: 40 })),
      });
    const docArb = fc.record({
      signer: fc.constantFrom(...POOL),
      adds: fc.array(addArb(POOL), { maxLength: 3 }),
      retires: fc.array(fc.record({ key: fc.constantFrom(...POOL), at: fc.integer({ min: -5, max: 20 }) }), {
        maxLength: 3,
      }),
      day: fc.integer({ min: 0, max: 30 }),
      age: fc.integer({ min: 0, max: 20 }),
    });

    it('holds for any interleaving of platform and attacker documents', () => {
      fc.assert(
        fc.property(fc.array(docArb, { maxLength: 12 }), (docs) => {
          let store: TrustedKey[] = [trustedKey(platform[0] as PublicKeyMaterial, 'root')];
          for (const [i, d] of docs.entries()) {
            const now = new Date(t0 + d.day * DAY);
            const attackerSigned = attackers.includes(d.signer);
            const uniq = <T extends { key: PublicKeyMaterial }>(xs: T[]) =>
              xs.filter((x, j) => xs.findIndex((y) => y.key === x.key) === j);
            // Documents signed by platform keys never announce attacker keys.
            const adds = uniq(d.adds.filter((a) => attackerSigned || platform.includes(a.key)));
            const retires = uniq(d.retires).filter((r) => !adds.some((a) => a.key === r.key));
            const keys =
              adds.length + retires.length === 0
                ? undefined
                : {
                    add: adds.map((a) => {
                      const from = now.getTime() + a.from * DAY;
                      return add(a.key, `k${POOL.indexOf(a.key)}`, {
                        notBefore: iso(from),
                        notAfter: a.len === null ? null : iso(from + a.len * DAY),
                      });
                    }),
                    retire: retires.map((r) => retire(r.key, now.getTime() + r.at * DAY)),
                  };
            const doc = channel(keys, { issued: now.getTime() - d.age * DAY, sequence: i + 1 });
            const before = store;
            store = applyKeyAnnouncements(store, doc, trustedKey(d.signer, 'claimed'), now).trusted;
            // Every key in the store now was there before, or was announced by a key trusted and usable before.
            for (const k of store) {
              if (before.some((b) => b.publicKey.fingerprint === k.publicKey.fingerprint)) continue;
              const signer = before.find((b) => b.publicKey.fingerprint === d.signer.fingerprint);
              expect(signer && keyWindowProblem(signer, now)).toBeNull();
              expect(k.publicKey.fingerprint).not.toBe(d.signer.fingerprint);
            }
            // A key once retired on this machine never becomes usable again.
            for (const b of before) {
              if (b.notAfter === null) continue;
              const a = store.find((k) => k.publicKey.fingerprint === b.publicKey.fingerprint);
              expect(a?.notAfter !== null && a!.notAfter <= b.notAfter).toBe(true);
            }
          }
          for (const k of store)
            expect(attackers.map((a) => a.fingerprint)).not.toContain(k.publicKey.fingerprint);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('planKeyBlock (what keys rotate publishes)', () => {
  const known = new Set([K1.fingerprint, K2.fingerprint]);
  const base = {
    oldKey: K1,
    newKey: { publicKey: K2, name: 'k2' },
    now: NOW,
    known,
  };

  it('planned: announces the new key from now and retires the old at the end of the overlap', () => {
    const end = new Date(NOW.getTime() + 30 * DAY);
    const p = planKeyBlock({ ...base, prev: undefined, retireAt: end, retireUnknown: false });
    expect(p.keys.add.map((a) => [a.keyId, a.notBefore, a.notAfter])).toEqual([
      [K2.fingerprint, iso(NOW.getTime()), null],
    ]);
    expect(p.keys.retire).toEqual([retire(K1, end.getTime())]);
    expect(validateChannel({ ...channel(undefined), keys: p.keys }).keys).toEqual(p.keys);
  });

  it('is stable: re-planning on its own output gives the same block (a re-run converges)', () => {
    const end = new Date(NOW.getTime() + 30 * DAY);
    const p = planKeyBlock({ ...base, prev: undefined, retireAt: end, retireUnknown: false });
    const later = { ...base, now: new Date(NOW.getTime() + DAY), retireAt: new Date(end.getTime() + DAY) };
    const again = planKeyBlock({ ...later, prev: p.keys, retireUnknown: false });
    expect(sameKeyBlock(again.keys, p.keys)).toBe(true);
  });

  it('compromised: moves the retirement to now and retires announced keys the platform does not know', () => {
    const prev = {
      add: [add(K2, 'k2'), add(KA, 'attacker')],
      retire: [retire(K1, NOW.getTime() + 30 * DAY)],
    };
    const p = planKeyBlock({ ...base, prev, retireAt: NOW, retireUnknown: true });
    expect(p.unknownAnnounced).toEqual([KA.fingerprint]);
    expect(p.keys.add.map((a) => a.keyId)).toEqual([K2.fingerprint]);
    expect(new Map(p.keys.retire.map((r) => [r.keyId, r.effective]))).toEqual(
      new Map([
        [K1.fingerprint, iso(NOW.getTime())],
        [KA.fingerprint, iso(NOW.getTime())],
      ]),
    );
  });

  it('stays within the bounds, always keeping the old key retirement', () => {
    const many = Array.from({ length: MAX_KEY_RETIRES }, (_, i) => ({
      keyId: `sha256:${i.toString(16).padStart(64, '0')}`,
      effective: iso(NOW.getTime() + (i + 100) * DAY),
    }));
    const p = planKeyBlock({ ...base, prev: { add: [], retire: many }, retireAt: NOW, retireUnknown: false });
    expect(p.keys.retire).toHaveLength(MAX_KEY_RETIRES);
    expect(p.keys.retire.some((r) => r.keyId === K1.fingerprint)).toBe(true);
    expect(p.dropped).toHaveLength(1);
    expect(p.dropped).not.toContain(K1.fingerprint);
  });
});
