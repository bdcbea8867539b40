/**
 * Test helper: a CI "world" in which the real CI templates (deploy/ci) run on this machine, for
 * test/integration/ci-gitlab.test.ts and ci-github.test.ts. What a CI runner would have, made local:
 *
 * - a checkout: a copy of this working tree (tracked and new files) committed into a fresh git repo;
 * - the registry (HARBOR_HOST): a real docker-registry with htpasswd, so the template's
 *   `podman login --password-stdin` with the robot account secrets is what lets aibox push;
 * - the signing key in Vault (VAULT_ADDR/VAULT_TOKEN, test/helpers/vault-double.ts), as
 *   deploy/ci/aibox.ci.yaml says (`vault://secret/aibox/cosign-key`); the key made by `aiboxctl keys generate`;
 * - the Slack webhook (SLACK_WEBHOOK_URL): test/doubles/slack.ts, which must receive nothing on success;
 * - `trivy` on PATH: test/doubles/trivy-stub.mjs answering a clean report, so the scan gate passes;
 * - `npm ci`: the one emulated command (this machine is offline and node_modules is shared): the shim links
 *   the installed node_modules into the job's checkout; every other npm command is the real npm;
 * - the CI config: deploy/ci/aibox.ci.yaml as shipped (registry, Vault key, trivy, Slack) with only
 *   `engine`, `baseImage` and `variants` taken from profiles/local/aibox.yaml (this host's podman quirks and
 *   the images that build offline on the local Debian base), passed as AIBOX_CI_CONFIG_TEMPLATE.
 *
 * The secrets live in one file (`secretsFile`, YAML `NAME: value`), read by gitlab-ci-local as its
 * variables file and by the GitHub harness as `secrets.*`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { createExec } from '../../src/adapters/exec.js';
import { ensureLocalBase } from '../../src/base/local-base.js';
import { Podman } from '../../src/engine/podman.js';
import { startSlackDouble, type SlackDouble } from '../doubles/slack.js';
import { TRIVY_STUB, trivyReportText } from '../doubles/trivy-stub.js';
import { ROOT, runBin } from './cli.js';
import { cosignVerify, getCosign } from './cosign.js';
import { LOCAL_PROFILE, testEngineSettings } from './engine.js';
import { removeImagesFrom } from './pipeline.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { startVaultDouble, type VaultDouble } from './vault-double.js';

export const CI_VARIANTS = ['base', 'java', 'node', 'dotnet', 'full'] as const;
const PREFIX: Record<(typeof CI_VARIANTS)[number], string> = {
  base: '24.04',
  java: '21-24.04',
  node: '20-24.04',
  dotnet: '8-24.04',
  full: '24.04',
};

export interface CiWorld {
  /** Today (UTC), YYYY-MM-DD: what the templates' prepare job computes. */
  readonly date: string;
  /** The runner's checkout (a git repository). */
  readonly project: string;
  readonly work: string;
  readonly registry: TestRegistry;
  readonly vault: VaultDouble;
  readonly slack: SlackDouble;
  /** The public key of the signing key held in Vault. */
  readonly pub: string;
  readonly secrets: Readonly<Record<string, string>>;
  /** `secrets` as YAML (NAME: value). */
  readonly secretsFile: string;
  readonly vars: Readonly<Record<string, string>>;
  /** The runner's process environment (PATH with the shims, auth file, registries.conf, …). */
  readonly env: Readonly<Record<string, string>>;
  /** Date tag of a variant for `date`. */
  tagOf(variant: (typeof CI_VARIANTS)[number]): string;
  stop(): Promise<void>;
}

function sh(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, [...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/** Copy this working tree (tracked + untracked, not ignored) into `dest` and commit it there. */
async function checkout(dest: string): Promise<void> {
  const files = sh('git', ['ls-files', '-co', '--exclude-standard', '-z'], ROOT)
    .split('\0')
    .filter((f) => f !== '' && f !== 'node_modules');
  await mkdir(dest, { recursive: true });
  const list = join(dirname(dest), 'checkout-files');
  await writeFile(list, files.join('\0'));
  sh('rsync', ['-a', '--from0', `--files-from=${list}`, `${ROOT}/`, `${dest}/`], ROOT);
  sh('git', ['init', '-q', '-b', 'main'], dest);
  sh('git', ['add', '-A'], dest);
  sh('git', ['-c', 'user.email=ci@aibox.test', '-c', 'user.name=ci', 'commit', '-qm', 'ci checkout'], dest);
}

/** Options of a CI world beyond the weekly tests' defaults (the CVE tests use them). */
export interface CiWorldOptions {
  /** Change the CI config template after the local profile's engine/base/variants are in (e.g. fewer variants). */
  readonly configure?: (doc: Record<string, any>) => void;
  /** The executable that is `trivy` on the runner's PATH (default: the clean-report stub). */
  readonly trivy?: string;
  /** Extra runner environment (e.g. the scanner double's settings). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The CI config template: deploy/ci/aibox.ci.yaml with this host's engine, base and variants. */
async function configTemplate(path: string, configure?: CiWorldOptions['configure']): Promise<void> {
  const ci = parse(await readFile(join(ROOT, 'deploy/ci/aibox.ci.yaml'), 'utf8')) as Record<string, unknown>;
  const local = parse(await readFile(LOCAL_PROFILE, 'utf8')) as {
    engine: unknown;
    baseImage: string;
    variants: Record<string, { containerfile: string }>;
  };
  // Containerfiles relative to the rendered config ($CI_PROJECT_DIR/.aibox-ci.yaml): the job's own checkout.
  for (const v of Object.values(local.variants))
    v.containerfile = relative(ROOT, resolve(dirname(LOCAL_PROFILE), v.containerfile));
  const doc = { ...ci, engine: local.engine, baseImage: local.baseImage, variants: local.variants };
  configure?.(doc);
  await writeFile(path, stringify(doc));
}

/** Start everything a CI run needs; `stop()` removes it all (registry, doubles, images, files). */
export async function startCiWorld(name: string, opts: CiWorldOptions = {}): Promise<CiWorld> {
  await ensureLocalBase({ engine: new Podman(testEngineSettings(), createExec()), exec: createExec() });
  const work = await mkdtemp(join(tmpdir(), `aibox-${name}-`));
  const password = `robot-${Math.random().toString(36).slice(2)}`;
  const user = 'robot-aibox-ci';
  const started: { stop(): Promise<void> }[] = [];
  try {
    const registry = await startRegistry({ htpasswd: { user, password } });
    started.push(registry);
    const vault = await startVaultDouble();
    started.push(vault);
    const slack = await startSlackDouble();
    started.push(slack);

    const keyPassword = `key-${Math.random().toString(36).slice(2)}`;
    const keys = join(work, 'keys');
    const g = await runBin('aiboxctl', ['keys', 'generate', '--output-dir', keys], {
      env: { COSIGN_PASSWORD: keyPassword },
    });
    if (g.code !== 0) throw new Error(`keys generate failed: ${g.stderr}`);
    vault.put('secret', 'aibox/cosign-key', {
      'cosign.key': await readFile(join(keys, 'cosign.key'), 'utf8'),
      'cosign.password': keyPassword,
    });

    const project = join(work, 'project');
    await checkout(project);
    await symlink(join(ROOT, 'node_modules'), join(project, 'node_modules'));
    const template = join(work, 'aibox.ci.test.yaml');
    await configTemplate(template, opts.configure);

    const bin = join(work, 'bin');
    await mkdir(bin);
    const realNpm = sh('sh', ['-c', 'command -v npm'], ROOT).trim();
    await writeFile(
      join(bin, 'npm'),
      [
        '#!/bin/sh',
        '# Test shim: `npm ci` links the installed node_modules (offline machine); anything else is the real npm.',
        'if [ "${1:-}" = ci ]; then',
        '  [ -e node_modules ] || ln -s "$AIBOX_TEST_NODE_MODULES" node_modules',
        '  echo "npm ci (test shim): linked $AIBOX_TEST_NODE_MODULES" >&2',
        '  exit 0',
        'fi',
        `exec ${JSON.stringify(realNpm)} "$@"`,
        '',
      ].join('\n'),
    );
    await writeFile(
      join(bin, 'trivy'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(opts.trivy ?? TRIVY_STUB)} "$@"\n`,
    );
    await chmod(join(bin, 'npm'), 0o755);
    await chmod(join(bin, 'trivy'), 0o755);
    const report = join(work, 'trivy-clean.json');
    await writeFile(report, trivyReportText({ artifactName: 'clean', results: [{ target: 'debian' }] }));
    // podman login over plain HTTP to the loopback registry (aibox itself needs no such setting).
    const registriesConf = join(work, 'registries.conf');
    await writeFile(registriesConf, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
    const home = join(work, 'home');
    await mkdir(home);

    const secrets = {
      HARBOR_ROBOT_USER: user,
      HARBOR_ROBOT_TOKEN: password,
      VAULT_ADDR: vault.addr,
      VAULT_TOKEN: vault.token,
      SLACK_WEBHOOK_URL: slack.webhookUrl,
    };
    const secretsFile = join(work, 'secrets.yml');
    await writeFile(secretsFile, stringify(secrets));
    const env = {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      LANG: 'C.UTF-8',
      REGISTRY_AUTH_FILE: join(work, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      TRIVY_STUB_REPORT: report,
      AIBOX_CI_CONFIG_TEMPLATE: template,
      AIBOX_TEST_NODE_MODULES: join(ROOT, 'node_modules'),
      ...opts.env,
    };
    const date = new Date().toISOString().slice(0, 10);
    return {
      date,
      project,
      work,
      registry,
      vault,
      slack,
      pub: join(keys, 'cosign.pub'),
      secrets,
      secretsFile,
      vars: { HARBOR_HOST: registry.host },
      env,
      tagOf: (v) => `${PREFIX[v]}-${date.replaceAll('-', '')}`,
      stop: async () => {
        await removeImagesFrom(registry.host);
        for (const s of started.reverse()) await s.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const s of started.reverse()) await s.stop();
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}

/** Run a command without blocking the event loop (the Vault and Slack doubles answer in this process). */
export function runAsync(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env: Readonly<Record<string, string>> },
): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd,
      env: { ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 128, output }));
  });
}

/** Digest the registry serves for repo:tag (authenticated HEAD), or null when absent. */
export async function authTagDigest(w: CiWorld, repo: string, tag: string): Promise<string | null> {
  const auth = Buffer.from(`${w.secrets.HARBOR_ROBOT_USER}:${w.secrets.HARBOR_ROBOT_TOKEN}`).toString(
    'base64',
  );
  const res = await fetch(`${w.registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      Authorization: `Basic ${auth}`,
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`HEAD ${repo}:${tag}: HTTP ${res.status}`);
  return res.headers.get('docker-content-digest');
}

export interface PublishedCheck {
  /** variant → [date-tag digest, latest digest] */
  readonly digests: Record<string, [string | null, string | null]>;
  /** `aiboxctl channel show --json` of the published channel. */
  readonly channel: {
    sequence: number;
    signatureValid: boolean;
    variants: Record<string, { digest: string }>;
  };
  /** ref → cosign verify exit code (null: cosign is not available here). */
  readonly cosign: Record<string, number> | null;
}

/** What a user would check after the run: tags, the signed channel, and real cosign on latest + channel. */
export async function checkPublished(w: CiWorld): Promise<PublishedCheck> {
  const digests: PublishedCheck['digests'] = {};
  for (const v of CI_VARIANTS)
    digests[v] = [
      await authTagDigest(w, `aibox/${v}`, w.tagOf(v)),
      await authTagDigest(w, `aibox/${v}`, 'latest'),
    ];
  const show = await runBin(
    'aiboxctl',
    ['--registry', `${w.registry.host}/aibox`, 'channel', 'show', '--key', w.pub, '--json'],
    { env: { REGISTRY_AUTH_FILE: w.env.REGISTRY_AUTH_FILE, XDG_DATA_HOME: join(w.work, 'check-xdg') } },
  );
  if (show.code !== 0) throw new Error(`channel show failed (${show.code}): ${show.stdout}${show.stderr}`);
  const { jsonOf } = await import('./cli.js');
  const shown = jsonOf<{
    signatureValid: boolean;
    channel: { sequence: number; variants: Record<string, { digest: string }> };
  }>(show);
  const bin = await getCosign();
  let cosign: Record<string, number> | null = null;
  if (bin) {
    cosign = {};
    const cwd = join(w.work, 'cosign');
    await mkdir(join(cwd, '.docker'), { recursive: true });
    const auth = Buffer.from(`${w.secrets.HARBOR_ROBOT_USER}:${w.secrets.HARBOR_ROBOT_TOKEN}`).toString(
      'base64',
    );
    await writeFile(
      join(cwd, '.docker', 'config.json'),
      JSON.stringify({ auths: { [w.registry.host]: { auth } } }),
    );
    for (const ref of [
      ...CI_VARIANTS.map((v) => `${w.registry.host}/aibox/${v}:latest`),
      `${w.registry.host}/aibox/channel:current`,
    ]) {
      const r = await cosignVerify(bin, w.pub, ref, { cwd });
      cosign[ref] = r.code;
      if (r.code !== 0) process.stderr.write(`cosign verify ${ref}: ${r.stderr}\n`);
    }
  }
  return {
    digests,
    channel: {
      sequence: shown.channel.sequence,
      signatureValid: shown.signatureValid,
      variants: shown.channel.variants,
    },
    cosign,
  };
}
