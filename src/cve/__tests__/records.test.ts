import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryImageStore } from '../../oci/memory-store.js';
import { MediaTypes } from '../../oci/manifest.js';
import { publicKeyMaterial, type SigningKey } from '../../signing/keys.js';
import type { TrustedKey } from '../../signing/trust.js';
import { parseTrivyReport } from '../../scan/report.js';
import {
  CVE_RECORDS_ARTIFACT_TYPE,
  deadlineMet,
  firstSeenOf,
  markAccepted,
  markFixed,
  parseCveRecords,
  recordTriage,
  serializeCveRecords,
  type CveRecords,
} from '../records.js';
import {
  cveRecordsRepository,
  readCveRecords,
  updateCveRecords,
  writeCveRecords,
  type CveRecordDeps,
} from '../record-store.js';
import { triage, type TriagePolicy } from '../triage.js';
import { trivyReport } from './trivy-fixture.js';

const POLICY: TriagePolicy = {
  mandatoryMinCvss: 7,
  businessHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00', timeZone: 'UTC' },
};
const T0 = new Date('2026-02-18T10:00:00Z');
const T1 = new Date('2026-02-18T13:00:00Z');

function key(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey: publicKeyMaterial(publicKey) };
}
const trustOf = (k: SigningKey): TrustedKey[] => [
  { name: 'pipeline', publicKey: k.publicKey, notBefore: null, notAfter: null, createdAt: null },
];

function rowsAt(now: Date, prev: CveRecords | null, score = 9.8) {
  const report = parseTrivyReport(
    trivyReport('aibox/base', [{ id: 'CVE-2026-12345', nvd: score, fixed: '3.0.13-0ubuntu3.2' }]),
    'base.json',
  );
  return triage({
    reports: [{ report, variant: 'base' }],
    policy: POLICY,
    now,
    firstSeen: firstSeenOf(prev),
  });
}

describe('CVE records (pure)', () => {
  it('records a triage as open, with first-seen and deadline', () => {
    const doc = recordTriage(null, rowsAt(T0, null), T0);
    expect(doc.records).toEqual([
      {
        id: 'CVE-2026-12345',
        cvss: 9.8,
        severity: 'Critical',
        firstSeen: '2026-02-18T10:00:00Z',
        deadline: '2026-02-18T14:00:00Z',
        variants: ['base'],
        packages: ['openssl'],
        state: { kind: 'open' },
      },
    ]);
    expect(deadlineMet(doc.records[0]!, T1)).toBeNull();
    expect(deadlineMet(doc.records[0]!, new Date('2026-02-18T14:00:01Z'))).toBe(false);
  });

  it('a re-triage never moves first-seen later', () => {
    const first = recordTriage(null, rowsAt(T0, null), T0);
    const again = recordTriage(first, rowsAt(T1, first), T1);
    expect(again.records[0]).toMatchObject({
      firstSeen: '2026-02-18T10:00:00Z',
      deadline: '2026-02-18T14:00:00Z',
    });
    // Even when the caller does not pass the recorded first-seen times.
    const blind = recordTriage(first, rowsAt(T1, null), T1);
    expect(blind.records[0]).toMatchObject({
      firstSeen: '2026-02-18T10:00:00Z',
      deadline: '2026-02-18T14:00:00Z',
    });
  });

  it('markFixed records the tag per variant and whether the deadline was met', () => {
    const open = recordTriage(null, rowsAt(T0, null), T0);
    const fixed = markFixed(
      open,
      {
        ids: ['CVE-2026-12345'],
        cvss: 9.8,
        tags: { base: '24.04-20260218-cve-2026-12345' },
        at: '2026-02-18T12:30:00Z',
        variants: ['base'],
      },
      T1,
    );
    const r = fixed.records[0]!;
    expect(r.state).toEqual({
      kind: 'fixed',
      at: '2026-02-18T12:30:00Z',
      tags: { base: '24.04-20260218-cve-2026-12345' },
    });
    expect(r.firstSeen).toBe('2026-02-18T10:00:00Z');
    expect(deadlineMet(r, T1)).toBe(true);
    const late = markFixed(
      open,
      { ids: ['CVE-2026-12345'], tags: { base: 't' }, at: '2026-02-18T15:00:00Z', variants: ['base'] },
      T1,
    );
    expect(deadlineMet(late.records[0]!, T1)).toBe(false);
  });

  it('markAccepted keeps the CVE accepted through its expiry day, then a triage opens it again', () => {
    const open = recordTriage(null, rowsAt(T0, null), T0);
    const acc = markAccepted(
      open,
      { id: 'CVE-2026-12345', reason: 'not reachable', expires: '2026-02-20' },
      T0,
    );
    expect(acc.records[0]!.state).toEqual({
      kind: 'accepted',
      reason: 'not reachable',
      expires: '2026-02-20',
    });
    expect(deadlineMet(acc.records[0]!, new Date('2026-02-20T23:00:00Z'))).toBe(true);
    expect(recordTriage(acc, rowsAt(T1, acc), T1).records[0]!.state.kind).toBe('accepted');
    const later = new Date('2026-02-21T00:00:01Z');
    expect(recordTriage(acc, rowsAt(later, acc), later).records[0]!.state.kind).toBe('open');
    expect(() =>
      markAccepted(open, { id: 'CVE-2026-99999', reason: 'x', expires: '2026-02-20' }, T0),
    ).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('round-trips through the canonical bytes and refuses anything off-schema', () => {
    const doc = recordTriage(null, rowsAt(T0, null), T0);
    expect(parseCveRecords(serializeCveRecords(doc))).toEqual(doc);
    const bad = (v: unknown) => () => parseCveRecords(new TextEncoder().encode(JSON.stringify(v)), 'x');
    const code = expect.objectContaining({ code: 'CVE_RECORDS_INVALID' });
    expect(bad({ ...doc, schemaVersion: 2 })).toThrow(code);
    expect(bad({ ...doc, extra: 1 })).toThrow(code);
    expect(bad({ ...doc, records: [doc.records[0], doc.records[0]] })).toThrow(/appears twice/);
    expect(bad({ ...doc, records: [{ ...doc.records[0], id: 'CVE-1' }] })).toThrow(code);
    expect(bad({ ...doc, records: [{ ...doc.records[0], cvss: 11 }] })).toThrow(code);
    expect(() => parseCveRecords(new TextEncoder().encode('{"schemaVersion":1,'), 'x')).toThrow(/not JSON/);
  });
});

describe('CVE records in the registry', () => {
  function deps(store: MemoryImageStore, k: SigningKey, trust = trustOf(k)): CveRecordDeps {
    return { store, host: 'reg.test', project: 'aibox', trust, key: k, signer: 'ci', now: () => T1 };
  }

  it('writes a signed artifact beside the channel and reads it back verified', async () => {
    const store = new MemoryImageStore();
    const k = key();
    expect(await readCveRecords(deps(store, k))).toBeNull();
    const doc = recordTriage(null, rowsAt(T0, null), T0);
    const digest = await writeCveRecords(deps(store, k), doc);
    const repo = cveRecordsRepository('reg.test', 'aibox');
    expect(repo.repository).toBe('aibox/cve-records');
    const m = JSON.parse(
      new TextDecoder().decode((await store.getManifest({ ...repo, tag: 'current' })).bytes),
    ) as {
      artifactType: string;
    };
    expect(m.artifactType).toBe(CVE_RECORDS_ARTIFACT_TYPE);
    expect((await store.headManifest({ ...repo, tag: 'current' }))?.digest).toBe(digest);
    expect(await readCveRecords(deps(store, k))).toEqual(doc);
  });

  it('refuses records signed by a foreign key, and never overwrites them', async () => {
    const store = new MemoryImageStore();
    const mine = key();
    const foreign = key();
    await writeCveRecords(deps(store, foreign), recordTriage(null, rowsAt(T0, null), T0));
    const repo = cveRecordsRepository('reg.test', 'aibox');
    const before = (await store.headManifest({ ...repo, tag: 'current' }))?.digest;
    await expect(readCveRecords(deps(store, mine))).rejects.toThrow(
      expect.objectContaining({
        code: 'CVE_RECORDS_INVALID',
        message: expect.stringContaining('no valid signature'),
      }),
    );
    await expect(updateCveRecords(deps(store, mine), (p) => p ?? recordTriage(null, [], T1))).rejects.toThrow(
      expect.objectContaining({ code: 'CVE_RECORDS_INVALID' }),
    );
    expect((await store.headManifest({ ...repo, tag: 'current' }))?.digest).toBe(before);
  });

  it('refuses an unsigned records document', async () => {
    const store = new MemoryImageStore();
    const k = key();
    const repo = cveRecordsRepository('reg.test', 'aibox');
    const bytes = serializeCveRecords(recordTriage(null, rowsAt(T0, null), T0));
    await store.pushBlob(repo, new TextEncoder().encode('{}'), { mediaType: MediaTypes.OCI_EMPTY });
    const layer = await store.pushBlob(repo, bytes, { mediaType: CVE_RECORDS_ARTIFACT_TYPE });
    const { cveRecordsManifest } = await import('../record-store.js');
    const manifest = cveRecordsManifest(recordTriage(null, [], T0), layer);
    await store.putManifest({ ...repo, tag: 'current' }, manifest, MediaTypes.OCI_MANIFEST);
    await expect(readCveRecords(deps(store, k))).rejects.toThrow(/unsigned|no valid signature/);
  });

  it('updateCveRecords re-reads when another writer moved current meanwhile (no lost update)', async () => {
    const store = new MemoryImageStore();
    const k = key();
    const d = deps(store, k);
    await writeCveRecords(d, recordTriage(null, [], T0));
    // Another writer lands between our read and our move of `current`: after our first manifest push.
    let raced = false;
    const put: MemoryImageStore['putManifest'] = async (ref, bytes, mediaType) => {
      const out = await store.putManifest(ref, bytes, mediaType);
      if (!raced && ref.digest !== undefined && ref.repository.endsWith('cve-records')) {
        raced = true;
        const prev = await readCveRecords(d);
        await writeCveRecords(d, recordTriage(prev, rowsAt(T0, prev), T0));
      }
      return out;
    };
    const racing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'putManifest') return put;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    let calls = 0;
    const out = await updateCveRecords({ ...d, store: racing }, (prev) => {
      calls++;
      return markFixed(
        prev,
        { ids: ['CVE-2026-54321'], tags: { base: 't1' }, at: '2026-02-18T12:00:00Z', variants: ['base'] },
        T1,
      );
    });
    expect(calls).toBe(2);
    const stored = await readCveRecords(d);
    expect(stored).toEqual(out);
    // Both writes survive: the other writer's triage and our fix.
    expect(stored?.records.map((r) => r.id)).toEqual(['CVE-2026-12345', 'CVE-2026-54321']);
  });
});
