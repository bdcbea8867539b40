/**
 * RFC 8288 Link header parsing for registry pagination (tags/list, _catalog). Pure.
 * https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
 */

/** The target of the first `rel="next"` link, or undefined; never throws. */
export function parseLinkNext(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let i = 0;
  const n = header.length;
  while (i < n) {
    const open = header.indexOf('<', i);
    if (open < 0) return undefined;
    const close = header.indexOf('>', open + 1);
    if (close < 0) return undefined;
    const target = header.slice(open + 1, close);
    // params run until the next ',' that is outside quotes
    let j = close + 1;
    let inQuote = false;
    let params = '';
    while (j < n) {
      const c = header[j] as string;
      if (c === '"') inQuote = !inQuote;
      if (c === ',' && !inQuote) break;
      params += c;
      j++;
    }
    for (const p of params.split(';')) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (key === 'rel' && value.toLowerCase().split(/\s+/).includes('next')) return target;
    }
    i = j + 1;
  }
  return undefined;
}
