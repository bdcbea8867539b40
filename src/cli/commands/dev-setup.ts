/** `aibox setup`: registry, trusted keys, variant, fleet; verifies the channel before writing anything. */
import { setup } from '../../sandbox/setup.js';
import { parseRegistryOption } from '../resolve.js';
import type { DevContext, RegisterCommands } from '../command.js';
import { createDevDepsForSetup } from '../dev-deps.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface SetupFlags {
  registry: string;
  key: string[];
  variant?: string;
  fleet?: string;
  fleetTokenFile?: string;
  podmanPolicy: boolean;
}

export const registerDevSetupCommands: RegisterCommands<DevContext> = (program, run) => {
  program
    .command('setup')
    .description(
      'first run: registry, trusted keys and variant; checks the registry and verifies its release channel, then writes the developer config',
    )
    .requiredOption('--registry <host/project>', 'registry and project, e.g. harbor.internal/aibox')
    .requiredOption(
      '--key <cosign.pub>',
      'trusted public key (repeatable: old and new during a rotation)',
      collect,
      [],
    )
    .option('--variant <variant>', 'image variant to use (default: base)')
    .option('--fleet <url>', 'fleet report endpoint (http/https)')
    .option('--fleet-token-file <file>', 'file holding the bearer token for --fleet')
    .option(
      '--podman-policy',
      "also require aibox signatures in podman's policy.json and registries.d (merged, with a backup)",
      false,
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ aibox setup --registry harbor.internal/aibox --key cosign.pub --variant java --podman-policy',
    )
    .action(
      run(async (ctx, opts: SetupFlags) => {
        const { host, project } = parseRegistryOption(opts.registry);
        const built = await createDevDepsForSetup(ctx, opts.key, opts.fleet, opts.fleetTokenFile);
        const r = await setup(built.deps, {
          host,
          project,
          keys: built.keys,
          variant: opts.variant ?? 'base',
          fleet: { url: opts.fleet ?? null, tokenFile: built.tokenFile },
          podmanPolicy: opts.podmanPolicy,
          existing: built.existing,
        });
        return { data: r, text: r.lines.join('\n') };
      }),
    );
};
