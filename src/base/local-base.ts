/**
 * Local base image builder (local profile only). Ubuntu's image cannot be pulled on the local machine, so the
 * local profile builds its base from a real Debian root filesystem: `debootstrap --variant=minbase <suite>`
 * against the archive the host's apt already uses, then `podman import`. Reused when already in storage.
 */
import { LABELS } from '../core/labels.js';
import { createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exec } from '../adapters/exec.js';
import type { Engine, ImageImporter } from '../engine/engine.js';
import { AiboxError, isAiboxError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { hostArchive, hostCodename } from './apt-config.js';
import { renderDeb822, type AptSource } from './apt-sources.js';

/** Named after its role, not its release: the suite follows the host (see `suite`). */
export const DEFAULT_LOCAL_BASE = 'localhost/aibox-local-base:host';

/** The engine operations the local base needs (the Podman adapter implements them). */
export type LocalBaseEngine = Pick<Engine, 'imageExists' | 'inspectImage'> & ImageImporter;

export interface EnsureLocalBaseOptions {
  readonly engine: LocalBaseEngine;
  /** Runs debootstrap and tar (podman goes through `engine`). */
  readonly exec: Exec;
  readonly logger?: Logger;
  /** Image name to reuse or create; default localhost/aibox-local-base:host. */
  readonly name?: string;
  /** Where the temporary root filesystem is built (default: the OS temp dir). */
  readonly cacheDir?: string;
  /** Release to debootstrap (default: the host's own codename, e.g. bookworm or noble; else bookworm). */
  readonly suite?: string;
  /** Archive URI; default: read from the host's apt configuration. */
  readonly mirror?: string;
  /** apt configuration directory (default /etc/apt). */
  readonly aptDir?: string;
  /** debootstrap binary (default: debootstrap on PATH, then /usr/sbin/debootstrap). */
  readonly debootstrap?: string;
  /** Rebuild even when the image exists. */
  readonly force?: boolean;
}

export interface LocalBase {
  readonly reference: string;
  readonly imageId: string;
  /** True when this call built the image, false when it was reused. */
  readonly created: boolean;
}

async function imageId(engine: LocalBaseEngine, name: string): Promise<string | undefined> {
  return (await engine.imageExists(name)) ? (await engine.inspectImage(name)).id : undefined;
}

async function findDebootstrap(exec: Exec, explicit: string | undefined): Promise<string> {
  const candidates = explicit ? [explicit] : ['debootstrap', '/usr/sbin/debootstrap'];
  for (const c of candidates) {
    try {
      await exec(c, ['--version'], { allowFailure: true });
      return c;
    } catch (e: unknown) {
      if (!isAiboxError(e, 'TOOL_MISSING')) throw e;
    }
  }
  throw new AiboxError({
    code: 'TOOL_MISSING',
    message: `debootstrap not found (tried ${candidates.join(', ')}); it is needed to build the local base image`,
    hint: "install it with 'apt-get install debootstrap' (run as root), or pre-load an image named localhost/aibox-local-base:host",
  });
}

/** Reuse or build the Debian base image the local profile's Containerfiles start from. */
export async function ensureLocalBase(opts: EnsureLocalBaseOptions): Promise<LocalBase> {
  const { engine, exec } = opts;
  const logger = opts.logger ?? silentLogger;
  const name = opts.name ?? DEFAULT_LOCAL_BASE;
  const suite = opts.suite ?? (await hostCodename()) ?? 'bookworm';

  if (!opts.force) {
    const existing = await imageId(engine, name);
    if (existing) {
      logger.debug(`Local base ${name} already in storage (${existing.slice(0, 12)}), reusing it`);
      return { reference: name, imageId: existing, created: false };
    }
  }

  const debootstrap = await findDebootstrap(exec, opts.debootstrap);
  let mirror = opts.mirror;
  let sources: AptSource[] = [];
  if (mirror === undefined) {
    const host = await hostArchive(suite, opts.aptDir);
    mirror = host.uri;
    sources = host.sources;
  }
  if (sources.length === 0)
    sources = [{ types: ['deb'], uris: [mirror], suites: [suite], components: ['main'], enabled: true }];
  const parent = opts.cacheDir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const work = await mkdtemp(join(parent, 'aibox-local-base-'));
  const rootfs = join(work, 'rootfs');
  let imported: { imageId: string };
  const tarball = join(work, 'rootfs.tar');
  try {
    logger.info(`Building local base ${name}: debootstrap --variant=minbase ${suite} (about 30 s)…`);
    await exec(debootstrap, ['--variant=minbase', suite, rootfs, mirror], { timeoutMs: 15 * 60_000 }).catch(
      (e: unknown) => {
        throw new AiboxError({
          code: 'PROCESS_FAILED',
          message: `debootstrap of ${suite} into a temporary directory failed`,
          hint: 'debootstrap needs root and access to the Debian archive configured in /etc/apt; see the cause for its log tail',
          cause: e,
        });
      },
    );
    // Drop apt's downloaded .debs and lists: the image only needs the installed system.
    await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    // Give the image the host's release, -updates and -security sources so `apt-get upgrade` applies real patches
    // (debootstrap alone configures only the release suite).
    await writeFile(join(rootfs, 'etc/apt/sources.list'), '');
    await writeFile(join(rootfs, 'etc/apt/sources.list.d/debian.sources'), renderDeb822(sources));

    await exec('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
    await access(tarball);
    imported = await engine.importImage({
      input: createReadStream(tarball),
      reference: name,
      changes: ['CMD ["/bin/bash"]', `LABEL ${LABELS.localBase}=${suite}-minbase`],
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const id = imported.imageId;
  logger.info(`Local base ${name} ready (${id.slice(0, 12)})`);
  return { reference: name, imageId: id, created: true };
}
