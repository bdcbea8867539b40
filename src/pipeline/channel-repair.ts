/**
 * `aiboxctl channel repair` as one call: load the signing key and the pipeline trust set, take the pipeline lock
 * (a repair must not race a promotion), and run the channel's `repairChannel` (plan, or plan + publish).
 * Receives its ports and settings; constructs none but the local channel-state file adapter.
 */
import { repairChannel, type RepairResult } from '../channel/publisher.js';
import { newRunId } from './records.js';
import { openPublisher, type RunDeps } from './run.js';

export interface ChannelRepairRequest {
  readonly fromSequence: number;
  /** false: only show what would be published. */
  readonly apply: boolean;
}

export interface ChannelRepairRun extends RepairResult {
  readonly channel: string;
}

/** Verify history entry N and (with apply) re-publish it as a new, higher sequence, signed. */
export async function runChannelRepair(
  deps: Pick<RunDeps, 'config' | 'target' | 'key' | 'trustedKeys' | 'dataDir' | 'now' | 'channelState'>,
  req: ChannelRepairRequest,
): Promise<ChannelRepairRun> {
  const { key, trust, target, lock } = await openPublisher(deps, newRunId(deps.now()));
  try {
    const r = await repairChannel(
      {
        store: target.store,
        host: target.host,
        project: target.project,
        trust,
        state: deps.channelState,
        key,
        signer: deps.config.signing.identity,
        now: deps.now,
      },
      req,
    );
    return { channel: `${target.host}/${target.project}/channel`, ...r };
  } finally {
    await lock.release();
  }
}
