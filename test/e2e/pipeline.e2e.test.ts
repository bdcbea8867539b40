/**
 * End-to-end: the weekly pipeline as a CI job runs it. The bundled `aiboxctl rebuild` builds the
 * local profile's five variants with real Podman (base FROM the debootstrap Debian base, with a real
 * apt upgrade; the others FROM base by digest), pushes and signs date tags on a real
 * docker-registry, promotes `latest` and publishes the signed channel. Real cosign is the
 * independent verifier. A second run for the same date must resume without rebuilding anything.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createExec } from '../../src/adapters/exec.js';
import { ensureLocalBase } from '../../src/base/local-base.js';
import { Podman } from '../../src/engine/podman.js';
import type { RunRecord } from '../../src/pipeline/record.js';
import { cosignVerify, getCosign } from '../helpers/cosign.js';
import { LOCAL_PROFILE, testEngineSettings } from '../helpers/engine.js';
import { generateKeys, pipelineCli, removeImagesFrom, tagDigest } from '../helpers/pipeline.js';
import { jsonOf } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { maybeUnset } from '../helpers/unset.js';

const PASSWORD = 'e2e-pipeline-key-password';
const REVISION = 'e2e0123456789abcdef';
const DATE = new Date().toISOString().slice(0, 10);
const YMD = DATE.replace(/-/g, '');
const PREFIX = {
  base: '24.04',
  java: '21-24.04',
  node: '20-24.04',
  dotnet: '8-24.04',
  full: '24.04',
} as const;
const VARIANTS = Object.keys(PREFIX) as (keyof typeof PREFIX)[];
const tagOf = (v: keyof typeof PREFIX) => `${PREFIX[v]}-${YMD}`;

let reg: TestRegistry;
let work: string;
let keys: { key: string; pub: string };
let cli: ReturnType<typeof pipelineCli>;
let first: RunRecord;

beforeAll(async () => {
  // The debootstrap base: ≈45 s the first time on this machine, reused afterwards.
  await ensureLocalBase({ engine: new Podman(testEngineSettings(), createExec()), exec: createExec() });
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'aibox-pipeline-e2e-'));
  keys = await generateKeys(join(work, 'keys'), PASSWORD);
  // The local profile as shipped (engine quirks, variants, base image), with absolute
  // Containerfile paths, our key and trust store; the registry comes from --registry.
  const doc = parse(await readFile(LOCAL_PROFILE, 'utf8')) as {
    variants: Record<string, { containerfile: string }>;
    signing?: unknown;
  };
  for (const v of Object.values(doc.variants))
    v.containerfile = resolve(dirname(LOCAL_PROFILE), v.containerfile);
  doc.signing = { key: keys.key, trustedKeys: [{ name: 'e2e', path: keys.pub }] };
  const config = join(work, 'aibox.yaml');
  await writeFile(config, stringify(doc));
  cli = pipelineCli({ config, registry: () => reg.host, xdg: join(work, 'xdg'), password: PASSWORD });

  const r = await cli(['rebuild', '--date', DATE, '--allow-unscanned', '--revision', REVISION, '--json']);
  if (r.code !== 0)
    throw new Error(`rebuild failed (exit ${r.code}):\n${r.stdout}\n${r.stderr.slice(-4000)}`);
  first = jsonOf<RunRecord>(r);
}, 900_000);

afterAll(async () => {
  if (maybeUnset(reg)) {
    await removeImagesFrom(reg.host);
    await reg.stop();
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe('aiboxctl rebuild: the five local-profile variants', () => {
  it('builds, stages, tags, signs and verifies every variant, then promotes all of them', async () => {
    expect(first).toMatchObject({
      result: 'success',
      promoted: true,
      date: DATE,
      registry: reg.host,
      project: 'aibox',
    });
    expect(first.failure).toBeUndefined();
    expect(first.channel).toMatchObject({ sequence: 1, digest: expect.stringMatching(/^sha256:/) });
    for (const v of VARIANTS) {
      const rec = first.variants[v]!;
      expect(rec, v).toMatchObject({ status: 'passed', tag: tagOf(v), scan: { status: 'skipped' } });
      expect(
        rec.steps.map((s) => `${s.name}:${s.status}`),
        v,
      ).toEqual(['resolve-base', 'build', 'stage', 'scan', 'tag', 'sign', 'verify'].map((s) => `${s}:ok`));
      const dated = await tagDigest(reg.url, `aibox/${v}`, tagOf(v));
      expect(dated, v).toBe(rec.digest);
      // latest is the very same manifest as the date tag.
      expect(await tagDigest(reg.url, `aibox/${v}`, 'latest'), v).toBe(dated);
      expect(first.promotion?.variants[v]).toEqual({ tag: tagOf(v), digest: dated });
    }
    expect(first.timings?.wallMs).toBeGreaterThan(0);
  });

  it('signatures verify with real cosign: every date tag and the channel', async (ctx) => {
    const cosign = await getCosign();
    if (!cosign) return ctx.skip();
    for (const ref of [
      ...VARIANTS.map((v) => `${reg.host}/aibox/${v}:${tagOf(v)}`),
      `${reg.host}/aibox/channel:current`,
    ]) {
      const r = await cosignVerify(cosign, keys.pub, ref, { cwd: work });
      expect(r.code, `${ref}: ${r.stderr}`).toBe(0);
      const claims = JSON.parse(r.stdout) as { critical: { identity: { 'docker-reference': string } } }[]; // cosign's own output
      expect(claims[0]?.critical.identity['docker-reference']).toBe(ref.replace(/:[^:/]+$/, ''));
    }
  });

  it('channel show and status verify the published state', async () => {
    const ch = await cli(['channel', 'show', '--key', keys.pub, '--json']);
    expect(ch.code, ch.stderr).toBe(0);
    const shown = jsonOf<{
      digest: string;
      signatureValid: boolean;
      problems: string[];
      channel: { sequence: number; variants: Record<string, { tag: string; digest: string }> };
    }>(ch);
    expect(shown).toMatchObject({ digest: first.channel!.digest, signatureValid: true, problems: [] });
    for (const v of VARIANTS)
      expect(shown.channel.variants[v]).toMatchObject({ tag: tagOf(v), digest: first.variants[v]!.digest });

    const st = await cli(['status', '--key', keys.pub, '--json']);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    const status = jsonOf<{
      ok: boolean;
      channelProblem: string | null;
      variants: {
        variant: string;
        tag: string;
        digest: string;
        ok: boolean;
        scan: string;
        signature: { ok: boolean };
      }[];
    }>(st);
    expect(status.ok).toBe(true);
    expect(status.channelProblem).toBeNull();
    expect(status.variants.map((x) => x.variant)).toEqual(VARIANTS);
    for (const x of status.variants) {
      expect(x, x.variant).toMatchObject({
        ok: true,
        tag: tagOf(x.variant as keyof typeof PREFIX),
        // Unscanned (scan.scanner: none with --allow-unscanned), recorded as allowed in the channel entry.
        scan: 'UNSCANNED (allowed)',
        signature: { ok: true },
      });
      expect(x.digest).toBe(first.variants[x.variant]!.digest);
    }
  });

  it('labels every image with OCI provenance; children name the pushed base by digest', async () => {
    const labels: Record<string, Record<string, string>> = {};
    for (const v of VARIANTS) {
      const r = await cli(['inspect', `${v}:${tagOf(v)}`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const d = jsonOf<{ digest: string; labels: Record<string, string> }>(r);
      expect(d.digest).toBe(first.variants[v]!.digest);
      labels[v] = d.labels;
      expect(d.labels, v).toMatchObject({
        'org.opencontainers.image.version': tagOf(v),
        'org.opencontainers.image.revision': REVISION,
        'dev.aibox.variant': v,
        'dev.aibox.scan': 'skipped',
        'dev.aibox.managed': 'true',
      });
      expect(Date.parse(d.labels['org.opencontainers.image.created']!), v).toBeGreaterThan(
        Date.now() - 3_600_000,
      );
      expect(d.labels['org.opencontainers.image.base.digest'], v).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    // The root variant is built FROM the local debootstrap base, pinned by digest.
    expect(labels.base!['org.opencontainers.image.base.name']).toBe('localhost/aibox-local-base');
    expect(labels.base!['org.opencontainers.image.base.digest']).toBe(first.variants.base!.baseDigest);
    for (const v of VARIANTS.filter((x) => x !== 'base')) {
      expect(labels[v]!['org.opencontainers.image.base.name'], v).toBe(`${reg.host}/aibox/base`);
      expect(labels[v]!['org.opencontainers.image.base.digest'], v).toBe(first.variants.base!.digest);
    }
  });

  it('a re-run for the same date resumes every variant without rebuilding, and latest stays put', async () => {
    const r = await cli([
      '--debug',
      'rebuild',
      '--date',
      DATE,
      '--allow-unscanned',
      '--revision',
      REVISION,
      '--json',
    ]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const again = jsonOf<RunRecord>(r);
    expect(again).toMatchObject({ result: 'success', promoted: true });
    for (const v of VARIANTS) {
      const rec = again.variants[v]!;
      expect(rec, v).toMatchObject({ status: 'resumed', digest: first.variants[v]!.digest });
      for (const step of ['build', 'stage', 'tag', 'sign'])
        expect(rec.steps.find((s) => s.name === step)?.status, `${v} ${step}`).toBe('skipped');
      expect(await tagDigest(reg.url, `aibox/${v}`, 'latest'), v).toBe(first.variants[v]!.digest);
    }
    // Resumed means no work redone (counted in the debug log of every spawn), not "fast": no timing assert.
    expect(r.stderr).toMatch(/Run: /);
    expect(r.stderr).not.toMatch(/Run: \S*podman\b[^\n]* (build|push) /);
    // The channel is re-published (next sequence) with the same digests, and still verifies.
    expect(again.channel?.sequence).toBe(2);
    const ch = await cli(['channel', 'show', '--key', keys.pub]);
    expect(ch.code, ch.stderr).toBe(0);
    expect(ch.stdout).toContain('Sequence:  2');
  });
});
