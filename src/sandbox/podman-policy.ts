/**
 * `aibox setup --podman-policy` (pure): merge a `sigstoreSigned` requirement for the aibox repositories into a
 * containers-policy.json(5) document, and `use-sigstore-attachments: true` for them into a containers-registries.d(5)
 * YAML document, keeping everything else that is there (other scopes, transports, the default, comments in YAML).
 * With one key the requirement uses `keyPath` (every containers/image); with several `keyPaths` (containers/image
 * 5.29+, podman 4.8+), since requirements in one scope are ANDed and a key rotation needs either key to pass.
 */
import { Document, parseDocument } from 'yaml';
import { AiboxError } from '../core/errors.js';

/** What podman uses when a user has no policy.json and /etc has none either: accept anything. */
const FALLBACK_POLICY = { default: [{ type: 'insecureAcceptAnything' }] };

function invalid(where: string, why: string): AiboxError {
  return new AiboxError({
    code: 'CONFIG_INVALID',
    message: `${where} is not a valid containers policy: ${why}`,
    hint: 'fix or move that file first; aibox never overwrites a policy it cannot read',
  });
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The sigstoreSigned requirement for the aibox scope. */
export function aiboxRequirement(keyPaths: readonly string[]): Record<string, unknown> {
  return {
    type: 'sigstoreSigned',
    ...(keyPaths.length === 1 ? { keyPath: keyPaths[0] } : { keyPaths: [...keyPaths] }),
    signedIdentity: { type: 'matchRepository' },
  };
}

/**
 * Merge the aibox requirement for `scope` (`host/project`) into policy JSON text (the user's, else the system's as
 * the base, so nothing else changes behaviour). Replaces only the `transports.docker[scope]` entry.
 */
export function mergePolicy(
  text: string | undefined,
  where: string,
  scope: string,
  keyPaths: readonly string[],
): { text: string; changed: boolean } {
  let doc: unknown = FALLBACK_POLICY;
  if (text !== undefined) {
    try {
      doc = JSON.parse(text);
    } catch (e: unknown) {
      throw invalid(where, `not JSON (${(e as Error).message})`);
    }
  }
  if (!isObj(doc)) throw invalid(where, 'the top level is not an object');
  if (doc.transports !== undefined && !isObj(doc.transports))
    throw invalid(where, '"transports" is not an object');
  const transports = { ...(doc.transports ?? {}) };
  const docker = transports.docker;
  if (docker !== undefined && !isObj(docker)) throw invalid(where, '"transports.docker" is not an object');
  const next = {
    ...doc,
    transports: { ...transports, docker: { ...docker, [scope]: [aiboxRequirement(keyPaths)] } },
  };
  const out = `${JSON.stringify(next, null, 4)}\n`;
  return { text: out, changed: text === undefined || JSON.stringify(doc) !== JSON.stringify(next) };
}

/** Set `docker.<scope>.use-sigstore-attachments: true` in registries.d YAML text, keeping comments and other keys. */
export function mergeRegistriesD(
  text: string | undefined,
  where: string,
  scope: string,
): { text: string; changed: boolean } {
  const doc = parseDocument(text ?? '');
  if (doc.errors.length > 0) throw invalid(where, doc.errors[0]?.message ?? 'not YAML');
  const root: unknown = doc.toJS();
  if (root !== null && root !== undefined && !isObj(root))
    throw invalid(where, 'the top level is not a mapping');
  const before = doc.getIn(['docker', scope, 'use-sigstore-attachments']);
  if (before === true) return { text: text ?? '', changed: false };
  if (root === null || root === undefined) {
    const fresh = new Document({ docker: { [scope]: { 'use-sigstore-attachments': true } } });
    return {
      text: `${text ?? ''}${text && !text.endsWith('\n') ? '\n' : ''}${fresh.toString()}`,
      changed: true,
    };
  }
  doc.setIn(['docker', scope, 'use-sigstore-attachments'], true);
  return { text: doc.toString(), changed: true };
}
