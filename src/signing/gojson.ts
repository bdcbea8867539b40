/**
 * JSON encoding as Go's `encoding/json` writes it: map keys sorted by byte order, no whitespace,
 * and `<`, `>`, `&`, U+2028, U+2029 escaped as `\u00XX`. Cosign's payloads are Go-marshalled, so
 * byte-identical output needs these rules. Pure.
 */

/** A JSON value as decoded by `JSON.parse`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const goEscapes: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Encode a string the way Go's encoder does (HTML-safe), so signed bytes match cosign's. */
export function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => goEscapes[c] ?? c);
}

/** Byte-order comparison of UTF-8 strings (Go sorts map keys as byte strings). */
function compareBytes(a: string, b: string): number {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return Buffer.compare(ab, bb);
}

/** Marshal a value as Go would marshal the equivalent `map[string]any`: keys sorted at every level. */
export function goMarshalSorted(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError('JSON cannot encode a non-finite number');
    return JSON.stringify(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(goMarshalSorted).join(',')}]`;
  const keys = Object.keys(v).sort(compareBytes);
  return `{${keys.map((k) => `${goString(k)}:${goMarshalSorted(v[k] as JsonValue)}`).join(',')}}`;
}
