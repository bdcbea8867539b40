/**
 * Where the floors a build must carry come from (issue 9 §4): the REGISTRY, never this machine alone. Per variant,
 * the highest of the floor in the newest verified channel history entry (`channel:seq-N`), in the verified
 * `channel:current`, and in the labels/manifest annotations of the variant's `latest` image when its signature
 * verifies. Workflow on the `ImageStore` port; the arithmetic is `floor.ts`.
 */
import { silentLogger, type Logger } from '../core/log.js';
import { inspectCurrent, latestHistory } from '../channel/publisher.js';
import { describeImage } from '../inspect/describe.js';
import type { ImageStore } from '../oci/store.js';
import type { TrustedKey } from '../signing/trust.js';
import { verifyImage } from '../signing/workflows.js';
import { repositoryFor } from '../tags/tags.js';
import { floorFromChannel, floorFromLabels, highestFloors, type Floor } from './floor.js';

export interface FloorSourceDeps {
  readonly store: ImageStore;
  readonly host: string;
  readonly project: string;
  readonly trust: readonly TrustedKey[];
  readonly now: () => Date;
  readonly logger?: Logger;
}

/** The highest floor ever set per variant, read from the registry. Outages propagate: no floor is guessed. */
export async function registryFloors(
  d: FloorSourceDeps,
  variants: readonly string[],
): Promise<Map<string, Floor>> {
  const log = d.logger ?? silentLogger;
  // Independent reads: the history, `current` and every variant's `latest` are asked at once.
  const [{ entry }, current, images] = await Promise.all([
    latestHistory(d),
    inspectCurrent(d),
    Promise.all(
      variants.map(async (v): Promise<[string, Floor | undefined][]> => {
        const ref = { registry: d.host, repository: repositoryFor(d.project, v), tag: 'latest' };
        const head = await d.store.headManifest(ref);
        if (!head) return [];
        const pinned = { ...ref, digest: head.digest };
        const ver = await verifyImage({ client: d.store, ref: pinned, trustedKeys: d.trust, now: d.now() });
        if (!ver.ok) {
          log.warn(
            `${v}: latest (${head.digest}) is not signed by a trusted key: its floor labels are not trusted`,
          );
          return [];
        }
        const desc = await describeImage(d.store, pinned);
        return [
          [v, floorFromLabels(desc.labels)],
          [v, floorFromLabels(desc.annotations)],
        ];
      }),
    ),
  ]);
  const sources: [string, Floor | undefined][] = [];
  for (const doc of [entry?.read.channel, current.kind === 'verified' ? current.doc.read.channel : undefined])
    for (const v of variants) sources.push([v, floorFromChannel(doc?.variants[v])]);
  sources.push(...images.flat());
  return highestFloors(sources);
}
