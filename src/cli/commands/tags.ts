/** `aiboxctl tags REPOSITORY`: every tag of a repository, sorted. */
import type { RegisterCommands } from '../command.js';

export const registerTagsCommands: RegisterCommands = (program, run) => {
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
        const ref = await ctx.resolveImage(repository, { repository: true });
        const tags = await (await ctx.registry()).listTags(ref);
        return { data: { repository: `${ref.registry}/${ref.repository}`, tags }, text: tags.join('\n') };
      }),
    );
};
