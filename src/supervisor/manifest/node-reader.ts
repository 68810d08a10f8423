import { isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ManifestIssue } from './errors.js';

/**
 * Walks a parsed YAML document and records problems with their line and column, so the
 * validator can report every mistake at once instead of stopping at the first.
 */
export class NodeReader {
  readonly issues: ManifestIssue[] = [];
  readonly #file: string;
  readonly #lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }

  report(node: Node | null | undefined, path: string, message: string, fallback?: Node | null): void {
    this.reportAt(node?.range?.[0] ?? fallback?.range?.[0] ?? 0, path, message);
  }

  /** A problem at a character offset in the file (inside a value, say). */
  reportAt(offset: number, path: string, message: string): void {
    const pos = this.#lines.linePos(offset);
    this.issues.push({ file: this.#file, line: pos.line, column: pos.col, path, message });
  }

  /** A mapping, or null (reported) if the node is something else. */
  map(node: unknown, path: string, fallback?: Node | null): YAMLMap | null {
    if (isMap(node)) return node;
    this.report(node as Node, path, `expected a mapping of settings, got ${describe(node)}`, fallback);
    return null;
  }

  seq(node: unknown, path: string): YAMLSeq | null {
    if (isSeq(node)) return node;
    this.report(node as Node, path, `expected a list, got ${describe(node)}`);
    return null;
  }

  /** Entries of a mapping as [key text, value node, key node]; flags keys not in `known`. */
  entries(map: YAMLMap, path: string, known: readonly string[]): Array<[string, Node | null, Node]> {
    const result: Array<[string, Node | null, Node]> = [];
    for (const pair of map.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const where = path ? `${path}.${key}` : key;
      if (known.length > 0 && !known.includes(key)) {
        const hint = closest(key, known);
        this.report(
          keyNode,
          where,
          `unknown setting "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${known.join(', ')}`,
        );
        continue;
      }
      result.push([key, (pair.value as Node | null) ?? null, keyNode]);
    }
    return result;
  }

  string(node: Node | null, path: string, fallback?: Node): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return node.value;
    this.report(node, path, `expected a non-empty string, got ${describe(node)}`, fallback);
    return undefined;
  }

  integer(node: Node | null, path: string, min: number, max: number, fallback?: Node): number | undefined {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    this.report(node, path, `expected a whole number from ${min} to ${max}, got ${describe(node)}`, fallback);
    return undefined;
  }

  boolean(node: Node | null, path: string): boolean {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'boolean') return value;
    this.report(node, path, `expected true or false, got ${describe(node)}`);
    return false;
  }

  scalar(node: Node | null): unknown {
    return isScalar(node) ? node.value : undefined;
  }

  /** A scalar's text as written in the file (`0x10`, not `16`); '' for other nodes. */
  sourceText(node: Node | null): string {
    if (!isScalar(node)) return '';
    return node.source ?? String(node.value);
  }
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return 'nothing';
    return typeof value === 'string' ? `"${value}"` : String(value);
  }
  return 'an unsupported value';
}

/** The known name nearest to a misspelt one (edit distance at most 2), for hints. */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
