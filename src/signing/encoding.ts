/**
 * Strict base64 and PEM helpers for untrusted input. Node's `Buffer.from(s, 'base64')` silently
 * skips garbage and truncation; signatures and key envelopes must fail loudly instead. Pure.
 */

const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode standard, padded base64 (cosign writes it with padding); null when not canonical. */
export function decodeBase64Strict(s: string): Uint8Array | null {
  if (!STD_B64.test(s)) return null;
  const out = Buffer.from(s, 'base64');
  // Reject non-canonical trailing bits (e.g. "QR==" vs "QQ==") so one signature has one encoding.
  if (out.toString('base64') !== s) return null;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Standard base64 with padding (what cosign and Go's StdEncoding write). */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/;

/** First PEM block in a text (labels are checked by the caller); null when there is none. */
export function decodePem(text: string): PemBlock | null {
  const m = PEM_RE.exec(text);
  if (!m) return null;
  const headerless = (m[2] ?? '')
    .split(/\r?\n/)
    .filter((l) => !l.includes(':'))
    .join('')
    .replace(/\s+/g, '');
  const der = decodeBase64Strict(headerless);
  if (!der) return null;
  return { label: m[1] ?? '', der };
}

/** PEM with 64-character lines, as Go's `pem.Encode` writes it. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = encodeBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
