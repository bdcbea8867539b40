/**
 * The developer's local memory (issue 10 §2, §3): what `aibox update` verified (channel and image signature
 * material, so `check`/`start` verify OFFLINE with the pure core), the highest channel sequence and the highest floor
 * per variant ever seen (they never go down), and the trusted key set after key announcements. Types and the pure
 * rules are here; the port `DevStatePort` is implemented by `adapters/dev-files.ts` (one JSON file under
 * `$XDG_DATA_HOME/aibox/developer/`, checksummed, bounded, written atomically) and by `memoryDevState()` in tests.
 */
import type { ChannelCve } from '../channel/channel.js';

/** Signature material of one manifest digest, exactly as fetched (base64), re-verified on every read. */
export interface CachedSignatures {
  /** Repository the payload must name, e.g. `harbor.internal/aibox/base`. */
  readonly repository: string;
  readonly digest: string;
  /** The `.sig` manifest bytes (base64). */
  readonly sigManifest: string;
  /** Payload blobs by digest (base64). */
  readonly payloads: Readonly<Record<string, string>>;
}

/** The verified channel: manifest + document bytes (so the digest chain re-checks offline) + signatures. */
export interface CachedChannel {
  readonly host: string;
  readonly project: string;
  readonly digest: string;
  /** Channel artifact manifest bytes (base64): sha256 = digest, its layer = the document. */
  readonly manifest: string;
  /** Channel JSON bytes (base64). */
  readonly document: string;
  readonly signatures: CachedSignatures;
  /** When this machine verified it (RFC 3339). */
  readonly fetchedAt: string;
}

/** The image `aibox update` installed for a variant. */
export interface CachedImage {
  readonly variant: string;
  /** Date tag, e.g. 24.04-20260221. */
  readonly tag: string;
  readonly digest: string;
  readonly created: string;
  /** Local podman reference, e.g. localhost/aibox-base:24.04-20260221. */
  readonly ref: string;
  readonly signatures: CachedSignatures;
}

/** A variant's security floor (the channel's `minImageCreated`/`minImageDate` and the CVE behind it). */
export interface VariantFloor {
  /** RFC 3339; an image created before it is refused. */
  readonly minImageCreated: string;
  readonly minImageDate: string;
  readonly mandatoryUpdate: boolean;
  readonly cve: ChannelCve | null;
  /** Channel sequence that carried this floor first. */
  readonly sequence: number;
}

/** A trusted key as the developer's key store keeps it. */
export interface StoredKey {
  readonly name: string;
  readonly pem: string;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  /** `setup` (installed by the developer) or `channel` (announced in a verified channel). */
  readonly source: 'setup' | 'channel';
}

export interface DevState {
  readonly version: 1;
  /** Highest channel sequence verified on this machine (per registry/project). */
  readonly seen?: {
    readonly key: string;
    readonly sequence: number;
    readonly digest: string;
    readonly at: string;
  };
  readonly channel?: CachedChannel;
  readonly images: Readonly<Record<string, CachedImage>>;
  readonly floors: Readonly<Record<string, VariantFloor>>;
  /** The trusted set after key announcements (absent: the config's trustedKeys). */
  readonly trusted?: readonly StoredKey[];
}

/** Where the developer state lives (file adapter, or memory in tests). */
export interface DevStatePort {
  /** Shown in messages (the file path). */
  readonly where: string;
  /** The state; empty when there is none yet; throws CACHE_INVALID when it is corrupt. */
  read(): Promise<DevState>;
  /** Replace the state atomically. */
  write(state: DevState): Promise<void>;
}

export function emptyDevState(): DevState {
  return { version: 1, images: {}, floors: {} };
}

/** The higher of two floors (the stored one wins a tie): floors never go down. */
export function higherFloor(
  a: VariantFloor | undefined,
  b: VariantFloor | undefined,
): VariantFloor | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(b.minImageCreated) > Date.parse(a.minImageCreated) ? b : a;
}

/** In-memory state port (tests, and offline dry runs). */
export function memoryDevState(initial: DevState = emptyDevState()): DevStatePort & { state: DevState } {
  const port = {
    where: '(memory)',
    state: initial,
    read: () => Promise.resolve(port.state),
    write: (s: DevState) => {
      port.state = s;
      return Promise.resolve();
    },
  };
  return port;
}
