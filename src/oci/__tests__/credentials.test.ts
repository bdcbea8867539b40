import { describe, expect, it } from 'vitest';
import { authFilePaths, credentialsFromFiles, type FileReader } from '../credentials.js';
import { redactUrl } from '../errors.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const files =
  (m: Record<string, unknown>): FileReader =>
  async (p) =>
    p in m ? JSON.stringify(m[p]) : undefined;

describe('credentials from the standard files', () => {
  const env = { REGISTRY_AUTH_FILE: '/a/auth.json', XDG_RUNTIME_DIR: '/run/user/0', HOME: '/root' };

  it('searches in the documented order', () => {
    expect(authFilePaths(env)).toEqual([
      '/a/auth.json',
      '/run/user/0/containers/auth.json',
      '/root/.config/containers/auth.json',
      '/root/.docker/config.json',
    ]);
  });

  it('takes the first file with an exact host match', async () => {
    const src = credentialsFromFiles(
      env,
      files({
        '/a/auth.json': { auths: { 'reg.example:5000': { auth: b64('first:pw1') } } },
        '/root/.config/containers/auth.json': {
          auths: { 'reg.example': { auth: b64('second:pw:with:colons') } },
        },
      }),
    );
    expect(await src.lookup('reg.example')).toMatchObject({
      credential: { username: 'second', password: 'pw:with:colons' },
      source: '/root/.config/containers/auth.json',
    });
    expect(await src.lookup('reg.example:5000')).toMatchObject({
      credential: { username: 'first' },
      source: '/a/auth.json',
    });
    const none = await src.lookup('reg.example:6000');
    expect(none.credential).toBeUndefined();
    expect(none.searched).toHaveLength(4);
  });

  it('matches Docker Hub legacy keys and https:// keys', async () => {
    const src = credentialsFromFiles(
      { HOME: '/h' },
      files({
        '/h/.docker/config.json': {
          auths: {
            'https://index.docker.io/v1/': { auth: b64('hub:pw') },
            'https://reg.io': { auth: b64('r:pw') },
          },
        },
      }),
    );
    expect((await src.lookup('docker.io')).credential?.username).toBe('hub');
    expect((await src.lookup('reg.io')).credential?.username).toBe('r');
    expect((await src.lookup('reg.io.evil.com')).credential).toBeUndefined();
  });
});

describe('redactUrl', () => {
  it('masks userinfo and secret query values', () => {
    expect(redactUrl('https://user:pw@reg.io/v2/?X-Amz-Signature=abc&n=1')).toBe(
      'https://***@reg.io/v2/?X-Amz-Signature=***&n=1',
    );
  });
});
