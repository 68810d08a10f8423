import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { MAX_CONCURRENCY, MAX_TIMER_MS } from '../../limits.js';
import { MAX_FUNCTION_SIZE } from '../../protocol/constants.js';
import type { RetryPolicy } from '../retry/policy.js';
import { readConcurrency } from './concurrency.js';
import { readDispatch } from './dispatch.js';
import { kIsolationKeys, readIsolation } from './isolation.js';
import type { NodeReader } from './node-reader.js';
import { readRateLimit } from './rate-limit.js';
import { readMaxResultSize } from './result-size.js';
import { readDeadLetter, readRetry } from './retry.js';
import type { FunctionConfig, PayloadEncoding } from './types.js';
import { formatSize, parseDuration, parseSize } from './units.js';

const kCommonKeys = [
  'concurrency',
  'payload',
  'timeout',
  'exceptions',
  'maxResultSize',
  'retry',
  'deadLetter',
  'weight',
  'cpu',
  'rateLimit',
] as const;
const kModuleKeys = [
  'handler',
  'export',
  'maxJobsPerThread',
  'maxMemoryMb',
  'jobsPerThread',
  'prefetch',
  'minThreads',
  'idleTimeout',
  'dispatch',
  ...kIsolationKeys,
] as const;
const kCommandKeys = ['command', 'cwd', 'env', 'output', 'maxOutput'] as const;
const kAllKeys = [...kCommonKeys, ...kModuleKeys, ...kCommandKeys];
const kHandlerExtensions = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
/** Past 1000:1 a function would wait behind another for a thousand slots: surely a typo. */
const kMaxWeight = 1000;
const kPayloads: readonly PayloadEncoding[] = ['buffer', 'text', 'json'];

/** Top-level settings a function takes unless it sets its own. */
export interface FunctionDefaults {
  readonly exceptions: boolean;
  readonly maxResultSize: number;
  readonly retry?: RetryPolicy;
  /** `box.slots` is set: dispatch: thread cannot share it (manifest/dispatch.ts). */
  readonly boxSlots?: boolean;
}

/** Reads the `functions` mapping: each a handler module or a command. */
export function readFunctions(
  reader: NodeReader,
  node: Node | null,
  baseDir: string,
  defaults: FunctionDefaults,
): FunctionConfig[] {
  const map = reader.map(node, 'functions');
  if (!map) return [];
  if (map.items.length === 0) reader.report(map, 'functions', 'expected at least one function');
  const functions: FunctionConfig[] = [];
  for (const [name, value, keyNode] of reader.entries(map, 'functions', [])) {
    const fn = readFunction(reader, name, value, keyNode, baseDir, defaults);
    if (fn) functions.push(fn);
  }
  return functions;
}

function readFunction(
  reader: NodeReader,
  name: string,
  node: Node | null,
  keyNode: Node,
  baseDir: string,
  defaults: FunctionDefaults,
): FunctionConfig | undefined {
  const where = `functions.${name}`;
  const before = reader.issues.length;
  if (name === '' || Buffer.byteLength(name) > MAX_FUNCTION_SIZE || /[\s\0]/.test(name)) {
    reader.report(keyNode, where, `a function name must be 1-${MAX_FUNCTION_SIZE} bytes without spaces`);
  }
  const map = reader.map(node, where, keyNode);
  if (!map) return undefined;
  const settings = new Map(reader.entries(map, where, kAllKeys).map(([k, v]) => [k, v] as const));
  const hasHandler = settings.has('handler');
  const hasCommand = settings.has('command');
  if (hasHandler === hasCommand) {
    reader.report(
      map,
      where,
      hasHandler ? 'give "handler" or "command", not both' : 'expected "handler" or "command"',
      keyNode,
    );
    return undefined;
  }
  const kind = hasHandler ? 'module' : 'command';
  for (const key of kind === 'module' ? kCommandKeys : kModuleKeys) {
    if (settings.has(key))
      reader.report(keyOf(map, key), `${where}.${key}`, `"${key}" does not apply to a ${kind} function`);
  }
  const concurrency = readConcurrency(reader, settings.get('concurrency'), `${where}.concurrency`);
  const payload = readPayload(reader, settings.get('payload'), `${where}.payload`);
  const timeoutMs = optionalParsed(reader, settings, where, 'timeout', parseDuration);
  const exceptions = settings.has('exceptions')
    ? reader.boolean(settings.get('exceptions') ?? null, `${where}.exceptions`)
    : defaults.exceptions;
  const maxResultSize = readMaxResultSize(
    reader,
    settings.get('maxResultSize'),
    `${where}.maxResultSize`,
    defaults.maxResultSize,
  );
  const retry = settings.has('retry')
    ? readRetry(reader, settings.get('retry') ?? null, `${where}.retry`)
    : defaults.retry;
  const deadLetter = settings.has('deadLetter')
    ? readDeadLetter(reader, settings.get('deadLetter') ?? null, `${where}.deadLetter`, name)
    : undefined;
  const weight = optionalInt(reader, settings, where, 'weight', 1, kMaxWeight);
  const cpu = settings.has('cpu') ? reader.boolean(settings.get('cpu') ?? null, `${where}.cpu`) : undefined;
  const rateLimit = settings.has('rateLimit')
    ? readRateLimit(reader, settings.get('rateLimit') ?? null, `${where}.rateLimit`)
    : undefined;
  const common = {
    name,
    ...concurrency,
    payload,
    exceptions,
    maxResultSize,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(retry ? { retry } : {}),
    ...(deadLetter === undefined ? {} : { deadLetter }),
    ...(weight === undefined ? {} : { weight }),
    ...(cpu === undefined ? {} : { cpu }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
  };

  if (kind === 'module') {
    const handler = readHandlerPath(reader, settings.get('handler') ?? null, `${where}.handler`, baseDir);
    const exportName = settings.has('export')
      ? reader.string(settings.get('export') ?? null, `${where}.export`)
      : 'default';
    const maxJobsPerThread = optionalInt(
      reader,
      settings,
      where,
      'maxJobsPerThread',
      1,
      Number.MAX_SAFE_INTEGER,
    );
    const maxMemoryMb = optionalInt(reader, settings, where, 'maxMemoryMb', 16, 1_048_576);
    const jobsPerThread = optionalInt(reader, settings, where, 'jobsPerThread', 1, 10_000) ?? 1;
    const prefetch = optionalInt(reader, settings, where, 'prefetch', 0, 10_000) ?? 0;
    const minThreads = optionalInt(reader, settings, where, 'minThreads', 0, MAX_CONCURRENCY);
    const idleTimeoutMs = optionalParsed(reader, settings, where, 'idleTimeout', positiveDuration);
    const { jobsPerProcess, ...isolation } = readIsolation(reader, settings, where);
    const dispatch = readDispatch(reader, settings, where, {
      inheritsRetry: defaults.retry !== undefined,
      boxSlots: defaults.boxSlots === true,
    });
    const perWorker = jobsPerProcess ?? jobsPerThread;
    const workers = Math.max(1, Math.ceil(concurrency.concurrency / perWorker));
    if (minThreads !== undefined && minThreads > workers) {
      // More could never run: say so rather than keep fewer than asked.
      reader.report(
        settings.get('minThreads'),
        `${where}.minThreads`,
        `expected at most ${workers}, the function's threads (concurrency ${concurrency.concurrency} / ${jobsPerProcess === undefined ? 'jobsPerThread' : 'jobsPerProcess'} ${perWorker}), got ${minThreads}`,
      );
    }
    if (reader.issues.length > before || handler === undefined || exportName === undefined) return undefined;
    return {
      ...common,
      kind,
      handler,
      export: exportName,
      jobsPerThread: perWorker,
      prefetch,
      ...isolation,
      ...(maxJobsPerThread === undefined ? {} : { maxJobsPerThread }),
      ...(maxMemoryMb === undefined ? {} : { maxMemoryMb }),
      ...(minThreads === undefined ? {} : { minThreads }),
      ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
      ...(dispatch === undefined ? {} : { dispatch }),
    };
  }
  const command = readCommand(reader, settings.get('command') ?? null, `${where}.command`);
  const cwdNode = settings.get('cwd');
  const cwdText = cwdNode === undefined ? undefined : reader.string(cwdNode, `${where}.cwd`);
  const cwd = cwdText === undefined ? baseDir : path.resolve(baseDir, cwdText);
  if (cwdText !== undefined && !isDirectory(cwd))
    reader.report(cwdNode, `${where}.cwd`, `not a directory: ${cwd}`);
  const env = readEnv(reader, settings.get('env'), `${where}.env`);
  const output = readOutput(reader, settings.get('output'), `${where}.output`);
  const maxOutputBytes = optionalParsed(reader, settings, where, 'maxOutput', positiveSize);
  if (reader.issues.length > before || command === undefined) return undefined;
  return {
    ...common,
    kind,
    command,
    cwd,
    env,
    output,
    ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }),
  };
}

function keyOf(map: YAMLMap, key: string): Node | null {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return (pair?.key as Node | undefined) ?? null;
}

function optionalInt(
  reader: NodeReader,
  settings: Map<string, Node | null>,
  where: string,
  key: string,
  min: number,
  max: number,
): number | undefined {
  if (!settings.has(key)) return undefined;
  return reader.integer(settings.get(key) ?? null, `${where}.${key}`, min, max);
}

/** A setting read with `parse` (a duration, a size), reported where it is when wrong. */
function optionalParsed(
  reader: NodeReader,
  settings: Map<string, Node | null>,
  where: string,
  key: string,
  parse: (value: unknown) => number | string,
): number | undefined {
  if (!settings.has(key)) return undefined;
  const node = settings.get(key) ?? null;
  const parsed = parse(reader.scalar(node));
  if (typeof parsed === 'string') {
    reader.report(node, `${where}.${key}`, parsed);
    return undefined;
  }
  if (parsed > MAX_TIMER_MS) {
    // Node fires a longer timer after 1 ms: every job of the function would time out at once.
    reader.report(
      node,
      `${where}.${key}`,
      `expected at most 24 days (${MAX_TIMER_MS}ms, the longest a Node timer waits), got "${String(reader.scalar(node))}"`,
    );
    return undefined;
  }
  return parsed;
}

/** idleTimeout: 0 would end a thread after every job and start one for the next. */
const positiveDuration = (value: unknown): number | string => {
  const ms = parseDuration(value);
  return typeof ms === 'number' && ms < 1 ? 'expected a duration of 1ms or more' : ms;
};

const positiveSize = (value: unknown): number | string => {
  const bytes = parseSize(value);
  return typeof bytes === 'number' && bytes < 1
    ? `expected a size of 1B or more, got ${formatSize(bytes)}`
    : bytes;
};

function readPayload(reader: NodeReader, node: Node | null | undefined, where: string): PayloadEncoding {
  if (node === undefined) return 'buffer';
  const value = reader.scalar(node);
  if (typeof value === 'string' && (kPayloads as readonly string[]).includes(value))
    return value as PayloadEncoding;
  reader.report(node, where, `expected one of ${kPayloads.join(', ')}`);
  return 'buffer';
}

function readOutput(reader: NodeReader, node: Node | null | undefined, where: string): 'result' | 'stream' {
  if (node === undefined) return 'result';
  const value = reader.scalar(node);
  if (value === 'result' || value === 'stream') return value;
  reader.report(
    node,
    where,
    'expected result (stdout is the result) or stream (stdout goes out as WORK_DATA)',
  );
  return 'result';
}

function readHandlerPath(
  reader: NodeReader,
  node: Node | null,
  where: string,
  baseDir: string,
): string | undefined {
  const text = reader.string(node, where);
  if (text === undefined) return undefined;
  const full = path.resolve(baseDir, text);
  if (!kHandlerExtensions.includes(path.extname(full))) {
    reader.report(node, where, `expected a .js, .mjs, .cjs or .ts module, got "${text}"`);
    return undefined;
  }
  if (!existsSync(full)) {
    reader.report(node, where, `handler file not found: ${full}`);
    return undefined;
  }
  return full;
}

/** A list of strings run as is, or one string run with /bin/sh -c. */
function readCommand(reader: NodeReader, node: Node | null, where: string): string[] | undefined {
  if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') {
    return ['/bin/sh', '-c', node.value];
  }
  if (isSeq(node) && node.items.length > 0) {
    const parts = node.items.map((item, i) => readArgument(reader, item as Node, `${where}[${i}]`));
    return parts.every((p): p is string => p !== undefined) ? parts : undefined;
  }
  reader.report(node, where, 'expected a list such as [ls, -lh], or a shell command string');
  return undefined;
}

/**
 * One program argument. YAML reads `-1`, `5`, `0x10` and `true` as numbers and booleans,
 * but in `[ls, -1]` or `[sleep, 5]` they are arguments: the text as written is passed,
 * not String(16) for `0x10` (issue 11).
 */
function readArgument(reader: NodeReader, node: Node | null, where: string): string | undefined {
  const value = reader.scalar(node);
  if (typeof value === 'number' || typeof value === 'boolean') return reader.sourceText(node);
  return reader.string(node, where);
}

function readEnv(reader: NodeReader, node: Node | null | undefined, where: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (node === undefined) return env;
  if (!isMap(node)) {
    reader.report(node, where, 'expected a mapping of variable names to values');
    return env;
  }
  for (const [key, value] of reader.entries(node, where, [])) {
    const scalar = reader.scalar(value);
    if (typeof scalar === 'string') env[key] = scalar;
    // As written: `MODE: 0755` is "0755", not "755".
    else if (typeof scalar === 'number' || typeof scalar === 'boolean') env[key] = reader.sourceText(value);
    else reader.report(value, `${where}.${key}`, 'expected a string value');
  }
  return env;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
