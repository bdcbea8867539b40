/**
 * Parse apt source definitions (pure: text in, values out). Both formats apt reads:
 * deb822 `.sources` stanzas (sources.list(5) "DEB822-STYLE FORMAT") and one-line `sources.list` entries.
 * Used to find the Debian archive the host already uses, so the local base image never names a mirror itself.
 */
import { AiboxError } from '../core/errors.js';

export type AptSourceFormat = 'deb822' | 'one-line';

export interface AptSource {
  readonly types: readonly string[];
  readonly uris: readonly string[];
  readonly suites: readonly string[];
  readonly components: readonly string[];
  readonly enabled: boolean;
}

export interface ParseAptSourcesOptions {
  readonly format: AptSourceFormat;
  /** Where the text came from (a file path), for error messages. */
  readonly source?: string;
}

function invalid(source: string, line: number, rule: string): AiboxError {
  return new AiboxError({
    code: 'CONFIG_INVALID',
    message: `invalid apt source in ${source} line ${line}: ${rule}`,
    hint: 'fix the apt source definition (see sources.list(5)); `apt-get update` reports the same problem',
    details: { source, line },
  });
}

const words = (v: string): string[] => v.split(/\s+/).filter(Boolean);

/** Parse apt source text in either format; throws CONFIG_INVALID naming the file, line and rule. */
export function parseAptSources(text: string, opts: ParseAptSourcesOptions): AptSource[] {
  const source = opts.source ?? '<apt sources>';
  return opts.format === 'deb822' ? parseDeb822(text, source) : parseOneLine(text, source);
}

function parseDeb822(text: string, source: string): AptSource[] {
  const out: AptSource[] = [];
  let fields = new Map<string, string>();
  let startLine = 0;
  let lastKey: string | undefined;
  const flush = () => {
    if (fields.size > 0) out.push(stanzaToSource(fields, source, startLine));
    fields = new Map();
    lastKey = undefined;
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    if (raw.trim() === '') {
      flush();
      return;
    }
    if (raw.startsWith('#')) return;
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      if (lastKey === undefined) throw invalid(source, lineNo, 'continuation line outside a field');
      fields.set(lastKey, `${fields.get(lastKey) ?? ''}\n${raw.trim()}`);
      return;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) throw invalid(source, lineNo, 'expected "Field: value"');
    const key = raw.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9][a-z0-9-]*$/.test(key))
      throw invalid(source, lineNo, `bad field name "${raw.slice(0, colon)}"`);
    if (fields.size === 0) startLine = lineNo;
    if (fields.has(key))
      throw invalid(source, lineNo, `field "${raw.slice(0, colon).trim()}" repeated in one stanza`);
    fields.set(key, raw.slice(colon + 1).trim());
    lastKey = key;
  });
  flush();
  return out;
}

function stanzaToSource(fields: ReadonlyMap<string, string>, source: string, line: number): AptSource {
  const types = words(fields.get('types') ?? '');
  const uris = words(fields.get('uris') ?? '');
  const suites = words(fields.get('suites') ?? '');
  const components = words(fields.get('components') ?? '');
  if (types.length === 0) throw invalid(source, line, 'stanza has no "Types"');
  if (uris.length === 0) throw invalid(source, line, 'stanza has no "URIs"');
  if (suites.length === 0) throw invalid(source, line, 'stanza has no "Suites"');
  const enabledRaw = (fields.get('enabled') ?? 'yes').toLowerCase();
  if (enabledRaw !== 'yes' && enabledRaw !== 'no') throw invalid(source, line, '"Enabled" must be yes or no');
  return { types, uris, suites, components, enabled: enabledRaw === 'yes' };
}

function parseOneLine(text: string, source: string): AptSource[] {
  const out: AptSource[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const hash = raw.indexOf('#');
    let line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === '') return;
    const type = words(line)[0] ?? '';
    if (type !== 'deb' && type !== 'deb-src')
      throw invalid(source, lineNo, `type must be deb or deb-src, got "${type}"`);
    line = line.slice(type.length).trim();
    if (line.startsWith('[')) {
      const close = line.indexOf(']');
      if (close < 0) throw invalid(source, lineNo, 'options "[" without closing "]"');
      line = line.slice(close + 1).trim();
    }
    const [uri, suite, ...components] = words(line);
    if (uri === undefined) throw invalid(source, lineNo, 'missing URI');
    if (suite === undefined) throw invalid(source, lineNo, 'missing suite');
    if (!suite.endsWith('/') && components.length === 0) {
      throw invalid(source, lineNo, 'a suite not ending in "/" needs at least one component');
    }
    out.push({ types: [type], uris: [uri], suites: [suite], components, enabled: true });
  });
  return out;
}

/** Archive URIs serving `suite` itself (e.g. "bookworm", so -security and -updates are skipped), in order, deduplicated. */
export function archiveUris(sources: readonly AptSource[], suite: string): string[] {
  const seen = new Set<string>();
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb') || !s.suites.includes(suite)) continue;
    for (const u of s.uris) {
      if (!/^(?:https?|file):/i.test(u)) continue;
      seen.add(u.replace(/\/+$/, ''));
    }
  }
  return [...seen];
}

/**
 * The enabled binary sources for a release and its companion suites (`<suite>`, `<suite>-updates`,
 * `<suite>-security`), so an image made from the host's archive also receives the host's security updates.
 */
export function releaseSources(sources: readonly AptSource[], suite: string): AptSource[] {
  const wanted = new Set([suite, `${suite}-updates`, `${suite}-security`]);
  const out: AptSource[] = [];
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb')) continue;
    const suites = s.suites.filter((x) => wanted.has(x));
    if (suites.length === 0 || s.components.length === 0) continue;
    out.push({ types: ['deb'], uris: s.uris, suites, components: s.components, enabled: true });
  }
  return out;
}

/** deb822 text for sources (no Signed-By: the target's own trusted keyring applies). */
export function renderDeb822(sources: readonly AptSource[]): string {
  return sources
    .map(
      (s) =>
        `Types: ${s.types.join(' ')}\nURIs: ${s.uris.join(' ')}\nSuites: ${s.suites.join(' ')}\nComponents: ${s.components.join(' ')}\n`,
    )
    .join('\n');
}
