/**
 * Read the current channel and judge it as a client would: signature by a trusted key, then
 * freshness and shape (`checkChannel`). Shared by `aiboxctl status` and `aiboxctl channel show`.
 */
import type { ImageStore } from '../oci/store.js';
import type { TrustedKey } from '../signing/trust.js';
import { verifyImage } from '../signing/workflows.js';
import { checkChannel } from './channel.js';
import { channelRepository, readChannel, type ReadChannel } from './store.js';

export interface TrustedChannel {
  readonly read: ReadChannel;
  /** Signer of the newest valid signature, when the signature verifies. */
  readonly signer: string | undefined;
  readonly signatureValid: boolean;
  /** Every reason not to trust it (empty when trusted). */
  readonly problems: readonly string[];
}

/** Fetch `<project>/channel:current` (digest-verified), verify its signature and check it. */
export async function readTrustedChannel(
  client: ImageStore,
  host: string,
  project: string,
  trust: readonly TrustedKey[],
  now: Date,
): Promise<TrustedChannel> {
  const repo = channelRepository(host, project);
  const read = await readChannel(client, repo);
  const ver = await verifyImage({ client, ref: { ...repo, digest: read.digest }, trustedKeys: trust, now });
  const chk = checkChannel(read.channel, { now });
  return {
    read,
    signer: ver.ok ? (ver.verified[0]?.signer ?? '?') : undefined,
    signatureValid: ver.ok,
    problems: [
      ...(ver.ok ? [] : ['signature does not verify with the trusted keys']),
      ...(chk.ok ? [] : chk.problems.map((p) => p.message)),
    ],
  };
}
