/**
 * Bearer token flow end to end: a REAL docker-registry configured with `auth.token`, and a loopback
 * token server (test/helpers/token-server.ts) that signs RS256 JWTs the registry verifies.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAiboxError, type AiboxError } from '../../src/core/errors.js';
import { createRegistryClient } from '../../src/oci/client.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { maybeUnset } from '../helpers/unset.js';

const enc = (s: string) => new TextEncoder().encode(s);

let tokens: TokenServer;
let reg: TestRegistry;
let dir: string;
let goodAuth: string;

beforeAll(async () => {
  tokens = await startTokenServer({
    users: { 'ci-bot': 'tok-pw', reader: 'read-pw' },
    field: 'access_token',
    omitExpiresIn: true,
    grant: (user, _repo, asked) => (user === 'reader' ? asked.filter((a) => a === 'pull') : asked),
  });
  reg = await startRegistry({ tokenAuth: tokens });
  dir = await mkdtemp(join(tmpdir(), 'aibox-bearer-'));
  goodAuth = join(dir, 'auth.json');
  const entry = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString('base64') });
  await writeFile(goodAuth, JSON.stringify({ auths: { [reg.host]: entry('ci-bot', 'tok-pw') } }));
  await writeFile(
    join(dir, 'reader.json'),
    JSON.stringify({ auths: { [reg.host]: entry('reader', 'read-pw') } }),
  );
  await writeFile(
    join(dir, 'bad.json'),
    JSON.stringify({ auths: { [`https://${reg.host}`]: entry('ci-bot', 'nope') } }),
  );
});
afterAll(async () => {
  await maybeUnset(reg)?.stop();
  await maybeUnset(tokens)?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Bearer token flow against docker-registry auth.token', () => {
  it('gets scoped tokens with Basic credentials, caches them, and pushes/pulls', async () => {
    const c = createRegistryClient({ env: { REGISTRY_AUTH_FILE: goodAuth } });
    try {
      const ref = { registry: reg.host, repository: 'demo/app' };
      const cfg = await c.pushBlob(ref, enc('{}'), { mediaType: MediaTypes.OCI_EMPTY });
      const manifest = enc(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OCI_MANIFEST, config: cfg, layers: [] }),
      );
      const d = await c.putManifest({ ...ref, tag: 'v1' }, manifest, MediaTypes.OCI_MANIFEST);
      const before = tokens.requests.length;
      for (let i = 0; i < 5; i++)
        expect((await c.headManifest({ ...ref, tag: 'v1' }))?.digest).toBe(d.digest);
      expect(tokens.requests.length - before).toBeLessThanOrEqual(1); // pull token fetched at most once, then cached
      expect(await c.listTags(ref)).toEqual(['v1']);
      // every token request authenticated as ci-bot, for our service, with well-formed scopes
      expect(
        tokens.requests.every((r) => r.user === 'ci-bot' && r.service === tokens.service && r.status === 200),
      ).toBe(true);
      expect(tokens.requests.some((r) => r.scopes.includes('repository:demo/app:pull,push'))).toBe(true);

      // mount: the registry asks for two scopes; they go as repeated scope= params
      const n = tokens.requests.length;
      expect(await c.mountBlob({ registry: reg.host, repository: 'demo/copy' }, 'demo/app', cfg.digest)).toBe(
        true,
      );
      const mountReqs = tokens.requests.slice(n);
      expect(
        mountReqs.some(
          (r) =>
            r.scopes.includes('repository:demo/app:pull') &&
            r.scopes.includes('repository:demo/copy:pull,push'),
        ),
      ).toBe(true);

      await c.deleteManifest({ ...ref, digest: d.digest });
      expect(await c.headManifest({ ...ref, tag: 'v1' })).toBeNull();
    } finally {
      await c.close();
    }
  });

  it('stops after one re-request when the token server grants less than needed (insufficient_scope)', async () => {
    const c = createRegistryClient({ env: { REGISTRY_AUTH_FILE: join(dir, 'reader.json') }, retries: 0 });
    try {
      const err = await c
        .pushBlob({ registry: reg.host, repository: 'demo/ro' }, enc('x'))
        .catch((e: unknown) => e);
      expect(isAiboxError(err, 'REGISTRY_AUTH')).toBe(true);
      expect((err as AiboxError).message).toMatch(/insufficient|UNAUTHORIZED|denied/i);
      expect((err as AiboxError).message).toContain(
        `credentials from ${join(dir, 'reader.json')} for ${reg.host} were rejected`,
      );
    } finally {
      await c.close();
    }
  });

  it('reports rejected credentials at the token server with the source file (https:// key matched)', async () => {
    const c = createRegistryClient({ env: { REGISTRY_AUTH_FILE: join(dir, 'bad.json') }, retries: 0 });
    try {
      const err = await c.listTags({ registry: reg.host, repository: 'demo/app' }).catch((e: unknown) => e);
      expect(isAiboxError(err, 'REGISTRY_AUTH')).toBe(true);
      const msg = (err as AiboxError).message;
      expect(msg).toContain(`(credentials from ${join(dir, 'bad.json')} for ${reg.host} were rejected)`);
      expect(msg).toContain('token request');
      expect(msg).not.toContain('nope');
    } finally {
      await c.close();
    }
  });
});
