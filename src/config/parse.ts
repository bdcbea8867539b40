/**
 * Parse config text (pure: the caller reads the file). YAML syntax errors and schema problems are
 * reported as `file:line:column: key.path: problem (allowed: ...)`, located with yaml's LineCounter.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Schema } from './schema.js';
import { AiboxError } from '../core/errors.js';
import {
  check,
  configError,
  developerSchema,
  formatPath,
  platformSchema,
  type ConfigProblem,
  type DeveloperConfig,
  type PlatformConfig,
} from './schema.js';

type Pos = { line: number; col: number };

/** Find where a key path lives in the document: the key itself, or its value (falls back to the nearest parent). */
function locate(doc: Document, lc: LineCounter, problem: ConfigProblem): Pos | undefined {
  let node: unknown = doc.contents;
  let best: Pos | undefined = rangeStart(node, lc);
  for (let i = 0; i < problem.path.length; i++) {
    const seg = problem.path[i];
    const last = i === problem.path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return best;
      const keyPos = rangeStart(pair.key, lc);
      if (last && problem.atKey) return keyPos ?? best;
      best = keyPos ?? best;
      node = pair.value;
      // An empty value (`key:` with nothing after it) has no useful position: keep the key's.
      const r = (node as Node | null | undefined)?.range;
      if (r && r[1] > r[0]) best = rangeStart(node, lc) ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      best = rangeStart(node, lc) ?? best;
    } else {
      return best;
    }
  }
  return best;
}

function rangeStart(node: unknown, lc: LineCounter): Pos | undefined {
  const range = (node as Node | null | undefined)?.range;
  if (!range) return undefined;
  return lc.linePos(range[0]);
}

function parseYaml(text: string, file: string): { doc: Document; lc: LineCounter; value: unknown } {
  const lc = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  } catch (e: unknown) {
    throw new AiboxError({ code: 'CONFIG_INVALID', message: `${file}: not valid YAML`, cause: e });
  }
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const msg = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax: ${msg}`;
    });
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message:
        lines.length === 1 && lines[0] !== undefined
          ? lines[0]
          : `${file}: ${lines.length} YAML syntax errors:\n  ${lines.join('\n  ')}`,
      hint: 'Fix the YAML syntax at the given line (indentation, quoting, duplicate keys)',
      details: { source: file, problems: lines },
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e: unknown) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `${file}: cannot read YAML: ${e instanceof Error ? e.message : String(e)}`,
      hint: 'Avoid YAML aliases/anchors in aibox config files',
      cause: e,
    });
  }
  return { doc, lc, value };
}

function parseWith<T>(schema: Schema<T>, text: string, file: string): T {
  const { doc, lc, value } = parseYaml(text, file);
  // An empty file (or only comments) means "all defaults".
  const r = check(schema, value === null || value === undefined ? undefined : value);
  if (r.ok) return r.value;
  const located = r.problems.map((p) => ({ p, pos: locate(doc, lc, p) }));
  // File order reads best; problems without a position go last.
  located.sort(
    (a, b) => (a.pos?.line ?? Infinity) - (b.pos?.line ?? Infinity) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0),
  );
  throw configError(
    file,
    located.map(
      ({ p, pos }) => `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${formatPath(p.path)}: ${p.message}`,
    ),
  );
}

/** Parse platform config YAML (`file` is only used in messages); partial files merge over defaults. */
export function parsePlatformConfigText(text: string, file: string): PlatformConfig {
  return parseWith(platformSchema, text, file);
}

/** Parse developer config YAML (`file` is only used in messages). */
export function parseDeveloperConfigText(text: string, file: string): DeveloperConfig {
  return parseWith(developerSchema, text, file);
}
