/**
 * Read the current channel and judge it as a client would: signature by a trusted key, then
 * freshness and shape (`checkChannel`), then against the highest sequence this machine has seen
 * (local channel state, updated on every verified read). Shared by `aiboxctl status` and `aiboxctl channel show`.
 */
import type { ImageStore } from '../oci/store.js';
import type { TrustedKey } from '../signing/trust.js';
import { verifyImage } from '../signing/workflows.js';
import { checkChannel, formatTime } from './channel.js';
import { channelStateKey, markSeen, type ChannelStateStore } from './state.js';
import { channelRepository, readChannel, type ReadChannel } from './store.js';

export interface TrustedChannel {
  readonly read: ReadChannel;
  /** Signer of the newest valid signature, when the signature verifies. */
  readonly signer: string | undefined;
  readonly signatureValid: boolean;
  /** Every reason not to trust it (empty when trusted). */
  readonly problems: readonly string[];
  /** Things the reader must see: the channel went back below what this machine saw before. */
  readonly warnings: readonly string[];
}

/** Fetch `<project>/channel:current` (digest-verified), verify its signature and check it. */
export async function readTrustedChannel(
  client: ImageStore,
  host: string,
  project: string,
  trust: readonly TrustedKey[],
  now: Date,
  state?: ChannelStateStore,
): Promise<TrustedChannel> {
  const repo = channelRepository(host, project);
  const read = await readChannel(client, repo);
  const ver = await verifyImage({ client, ref: { ...repo, digest: read.digest }, trustedKeys: trust, now });
  const key = channelStateKey(host, project);
  const seen = state ? (await state.get(key)).seen : undefined;
  const chk = checkChannel(read.channel, { now });
  const warnings: string[] = [];
  const c = read.channel;
  if (seen && c.sequence < seen.sequence) {
    warnings.push(
      `channel sequence ${c.sequence} is lower than sequence ${seen.sequence} (${seen.digest}) this machine saw at ${seen.at}: the registry may be serving a rolled-back channel`,
    );
  } else if (seen && c.sequence === seen.sequence && read.digest !== seen.digest) {
    warnings.push(
      `channel sequence ${c.sequence} is ${read.digest}, but this machine saw ${seen.digest} for the same sequence at ${seen.at}`,
    );
  }
  // Only a verified document may raise what this machine remembers.
  if (state && ver.ok && chk.ok) {
    await state.update(key, (s) =>
      markSeen(s, { sequence: c.sequence, digest: read.digest, at: formatTime(now.getTime()) }),
    );
  }
  return {
    read,
    signer: ver.ok ? (ver.verified[0]?.signer ?? '?') : undefined,
    signatureValid: ver.ok,
    problems: [
      ...(ver.ok ? [] : ['signature does not verify with the trusted keys']),
      ...(chk.ok ? [] : chk.problems.map((p) => p.message)),
    ],
    warnings,
  };
}
