/**
 * This machine's own memory of a channel (issue 7 §1): the last sequence and digest it published and the highest
 * it saw in a verified read. Kept apart from the registry so a re-tagged `current` cannot rewrite it. The port is
 * here; the file adapter is `state-file.ts`; tests use `memoryChannelState()`.
 */

/** One remembered channel document. */
export interface ChannelMark {
  readonly sequence: number;
  readonly digest: string;
  /** When this machine recorded it (RFC 3339). */
  readonly at: string;
}

export interface ChannelState {
  /** The last document this machine published (promote or repair). */
  readonly published?: ChannelMark;
  /** The highest-sequence document this machine read and verified (status, channel show, promote). */
  readonly seen?: ChannelMark;
}

/** Where the local channel state lives; keyed by `<registry host>/<project>`. */
export interface ChannelStateStore {
  get(key: string): Promise<ChannelState>;
  /** Read-modify-write of one key (the file adapter writes atomically). */
  update(key: string, f: (s: ChannelState) => ChannelState): Promise<void>;
}

/** The state key of a registry host and project. */
export function channelStateKey(host: string, project: string): string {
  return `${host}/${project}`;
}

/** The mark with the higher sequence (the newer one when equal). */
export function higherMark(a: ChannelMark | undefined, b: ChannelMark | undefined): ChannelMark | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.sequence >= a.sequence ? b : a;
}

/** Record a verified read: `seen` only goes up. */
export function markSeen(s: ChannelState, m: ChannelMark): ChannelState {
  return { ...s, seen: higherMark(s.seen, m) };
}

/** Record a publication: `published` and `seen` both become this document. */
export function markPublished(s: ChannelState, m: ChannelMark): ChannelState {
  return { ...s, published: m, seen: higherMark(s.seen, m) };
}

/** An in-memory store (tests, and callers that opt out of local state explicitly). */
export function memoryChannelState(initial: Record<string, ChannelState> = {}): ChannelStateStore & {
  readonly data: Record<string, ChannelState>;
} {
  const data: Record<string, ChannelState> = { ...initial };
  return {
    data,
    get: (key) => Promise.resolve(data[key] ?? {}),
    // The executor runs synchronously (as an async body would) and turns a throw of `f` into a rejection.
    update: (key, f) =>
      new Promise<void>((resolve) => {
        data[key] = f(data[key] ?? {});
        resolve();
      }),
  };
}
