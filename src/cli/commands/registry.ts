/**
 * Registry commands: the embedded local registry (`registry up|down|status`) and read-only
 * inspection for users and scripts (`tags`, `inspect`).
 */
import type { Command } from 'commander';
import { embeddedDataDir } from '../../config/load.js';
import { registryDown, registryStatus, registryUp } from '../../registry/embedded.js';
import { AiboxError } from '../../core/errors.js';
import { describeImage, type ImageDescription } from '../../inspect/describe.js';
import type { Context, RegisterCommands } from '../command.js';
import { table } from '../output.js';
import { resolveImage } from '../resolve.js';

async function embeddedDir(ctx: Context): Promise<{ dir: string; port: number }> {
  const loaded = await ctx.config();
  return { dir: embeddedDataDir(loaded, { ...ctx.env }), port: loaded.config.embedded.port };
}

function renderImage(d: ImageDescription): string {
  const rows: [string, string][] = [
    ['Image', d.reference],
    ['Digest', d.digest],
    ['Media type', d.mediaType],
    ['Size', `${d.size} bytes (manifest), ${d.totalSize} bytes (config + layers)`],
  ];
  if (d.created) rows.push(['Created', d.created]);
  if (d.platform) rows.push(['Platform', d.platform]);
  if (d.artifactType) rows.push(['Artifact type', d.artifactType]);
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}`);
  const section = (title: string, m: Record<string, string>) => {
    const keys = Object.keys(m).sort();
    if (keys.length === 0) return;
    lines.push(`${title}:`);
    for (const k of keys) lines.push(`  ${k}=${m[k]}`);
  };
  section('Annotations', d.annotations);
  section('Labels', d.labels);
  if (d.manifests.length > 0) {
    lines.push('Manifests:');
    lines.push(
      table(
        ['  DIGEST', 'PLATFORM', 'SIZE'],
        d.manifests.map((m) => [`  ${m.digest}`, m.platform ?? '-', String(m.size)]),
      ),
    );
  }
  if (d.layers.length > 0) {
    lines.push('Layers:');
    for (const l of d.layers) lines.push(`  ${l.digest}  ${l.size}  ${l.mediaType}`);
  }
  return lines.join('\n');
}

export const registerRegistryCommands: RegisterCommands = (program: Command, run) => {
  const registry = program
    .command('registry')
    .description('run the embedded local registry (CNCF distribution on 127.0.0.1)')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl registry up          # start it (idempotent) and print its address
  $ aiboxctl registry status --json
  $ aiboxctl registry down        # stop the registry aibox started`,
    );

  registry
    .command('up')
    .description('start the embedded registry if it is not running, and print its address')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry up\n  127.0.0.1:5000')
    .action(
      run(async (ctx) => {
        const { dir, port } = await embeddedDir(ctx);
        const up = await registryUp({ dataDir: dir, port, exec: ctx.exec, logger: ctx.logger });
        return {
          data: { host: up.host, url: up.url, pid: up.pid, alreadyRunning: up.alreadyRunning, dataDir: dir },
          text: up.host,
        };
      }),
    );

  registry
    .command('down')
    .description('stop the embedded registry (only the process aibox started)')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry down')
    .action(
      run(async (ctx) => {
        const { dir } = await embeddedDir(ctx);
        const down = await registryDown({ dataDir: dir });
        return {
          data: { ...down, dataDir: dir },
          text: down.stopped
            ? `stopped the embedded registry (pid ${down.pid})`
            : 'the embedded registry is not running',
        };
      }),
    );

  registry
    .command('status')
    .description('show whether the embedded registry runs, where, and its storage directory')
    .addHelpText('after', '\nExample:\n  $ aiboxctl registry status --json')
    .action(
      run(async (ctx) => {
        const { dir } = await embeddedDir(ctx);
        const st = await registryStatus({ dataDir: dir });
        return {
          data: st,
          text: st.running
            ? `running at ${st.host} (pid ${st.pid}), storage ${st.dataDir}`
            : `not running (storage ${st.dataDir})`,
          exitCode: st.running ? 0 : 1,
        };
      }),
    );

  program
    .command('tags')
    .description('list the tags of a repository, sorted')
    .argument(
      '<repository>',
      'a variant (base), a path on the registry (aibox/base) or a full name (host/aibox/base)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl tags base
  $ aiboxctl --registry 127.0.0.1:5000/aibox tags java --json`,
    )
    .action(
      run(async (ctx, repository: string) => {
        const target = await ctx.target();
        const ref = resolveImage(repository, target);
        if (ref.tag || ref.digest) {
          throw new AiboxError({
            code: 'INVALID_REFERENCE',
            message: `invalid repository "${repository}": a repository has no tag or digest`,
            hint: `Drop the ":tag" / "@digest" part, e.g. aiboxctl tags ${repository.replace(/[:@].*$/, '')}`,
          });
        }
        const tags = await target.client.listTags(ref);
        const name = `${ref.registry}/${ref.repository}`;
        return { data: { repository: name, tags }, text: tags.join('\n') };
      }),
    );

  program
    .command('inspect')
    .description('show an image: digest, media type, size, created, annotations, labels, platform')
    .argument('<image>', 'base:latest, aibox/base:24.04-20260221, or host/aibox/base@sha256:…')
    .addHelpText(
      'after',
      `
Examples:
  $ aiboxctl inspect base:latest
  $ aiboxctl inspect 127.0.0.1:5000/aibox/base@sha256:… --json`,
    )
    .action(
      run(async (ctx, image: string) => {
        const target = await ctx.target();
        const ref = resolveImage(image, target, { defaultTag: 'latest' });
        const d = await describeImage(target.client, ref);
        return { data: d, text: renderImage(d) };
      }),
    );
};
