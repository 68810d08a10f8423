import { isMap, isScalar, isSeq, type Node, parse, Scalar } from 'yaml';
import type { NodeReader } from './node-reader.js';

const kReference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in the manifest's string values (not its keys)
 * with the environment's values, in place, before anything reads them: a
 * `${GEAR_HOST}:4730` used to be taken as a host name. `$$` is a literal `$`; a `$` not
 * followed by `{` or `$` stays as it is, so shell commands keep their `$1` and `$HOME`.
 * `:-` gives the default when the variable is unset or empty, as in sh. An unset
 * variable without a default is reported where it stands.
 *
 * An unquoted value that becomes a number or a boolean is read as one (`concurrency:
 * ${WORKERS:-4}` is 4); quote it to keep it a string (`clientId: "${HOST_ID}"`).
 */
export function substituteEnv(
  reader: NodeReader,
  root: Node | null,
  env: NodeJS.ProcessEnv,
  source: string,
): void {
  walk(root, '', (node, path) => {
    if (typeof node.value !== 'string' || !node.value.includes('$')) return;
    const expanded = expand(node.value, env);
    if (typeof expanded !== 'string') {
      reader.reportAt(offsetOf(node, expanded.token, source), path, expanded.message);
      return;
    }
    if (expanded === node.value) return;
    node.value = node.type === Scalar.PLAIN ? retype(expanded) : expanded;
    // Command lists take a number's text as written (functions.ts): that is this text now.
    node.source = expanded;
  });
}

type Failure = { readonly message: string; readonly token: string };

/** The text with its references replaced, or what is wrong with the first bad one. */
export function expand(text: string, env: NodeJS.ProcessEnv): string | Failure {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    const next = text[i + 1];
    if (char !== '$' || (next !== '$' && next !== '{')) {
      out += char;
      continue;
    }
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end < 0) {
      return { token: text.slice(i), message: `unclosed "\${": write \${NAME}, or $$ for a literal $` };
    }
    const token = text.slice(i, end + 1);
    const match = kReference.exec(text.slice(i + 2, end));
    if (match === null) {
      return {
        token,
        message: `"${token}" is not a variable reference: write \${NAME} or \${NAME:-default} (NAME: letters, digits, _), or $$ for a literal $`,
      };
    }
    const [, name, fallback] = match as unknown as [string, string, string | undefined];
    const value = env[name];
    if (fallback !== undefined && (value === undefined || value === '')) out += fallback;
    else if (value !== undefined) out += value;
    else {
      return {
        token,
        message: `environment variable ${name} is not set (give a default with \${${name}:-value})`,
      };
    }
    i = end;
  }
  return out;
}

/** Where the bad reference is in the file: its first appearance inside the node's text. */
function offsetOf(node: Scalar, token: string, source: string): number {
  const [start = 0, end = start] = node.range ?? [];
  const at = source.indexOf(token, start);
  return at >= 0 && at < end ? at : start;
}

function retype(text: string): unknown {
  try {
    const value: unknown = parse(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : text;
  } catch {
    return text;
  }
}

function walk(node: unknown, path: string, visit: (node: Scalar, path: string) => void): void {
  if (isScalar(node)) visit(node, path);
  else if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      walk(pair.value, path ? `${path}.${key}` : key, visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      walk(item, `${path}[${i}]`, visit);
    });
  }
}
