/** `aiboxctl inspect IMAGE`: digest, media type, size, created, annotations, labels, platform. */
import { describeImage, type ImageDescription } from '../../inspect/describe.js';
import type { RegisterCommands } from '../command.js';
import { table } from '../output.js';

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

export const registerInspectCommands: RegisterCommands = (program, run) => {
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
        const ref = await ctx.resolveImage(image, { defaultTag: 'latest' });
        const d = await describeImage(await ctx.registry(), ref);
        return { data: d, text: renderImage(d) };
      }),
    );
};
