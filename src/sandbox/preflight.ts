/**
 * STUB of slice devcli's preflight, with exactly its agreed interface (docs: /work/wt/_brief/devcli.md
 * §3) so `aibox start` can be written against it. Replaced wholesale by devcli's file on merge.
 */
import type { AiboxError } from '../core/errors.js';
import type { ChannelCve } from '../channel/channel.js';

export interface VariantFloor {
  readonly minImageDate: string | null;
  readonly minImageCreated: string | null;
  readonly cve?: ChannelCve;
}

export interface PreflightImage {
  variant: string;
  displayName: string;
  tag: string;
  digest: string;
  created: string;
  ref: string /* local podman reference */;
}

export type Preflight =
  | {
      ok: true;
      image: PreflightImage;
      signer: string;
      signedAt: string;
      floor: VariantFloor | null;
      offline: boolean;
      warnings: string[];
      channelSequence: number;
    }
  | {
      ok: false;
      kind: 'signature' | 'floor' | 'no-image' | 'channel';
      image?: PreflightImage;
      error: AiboxError /* message = the runbook's exact text; exit 12 for signature, 3 for floor */;
    };

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- stub; devcli defines the deps
export interface PreflightDeps {}

/** Stub: devcli's implementation replaces this file. */
export function preflight(
  _deps: PreflightDeps,
  _opts: { variant: string; online: boolean },
): Promise<Preflight> {
  return Promise.reject(new Error('preflight: stub (slice devcli)'));
}
