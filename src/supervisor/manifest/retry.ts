import { isScalar, type Node } from 'yaml';
import { MAX_FUNCTION_SIZE } from '../../protocol/constants.js';
import { kMaxAttempts, kRetryCauses, type RetryCause, type RetryPolicy } from '../retry/policy.js';
import type { NodeReader } from './node-reader.js';
import { parseDuration } from './units.js';

const kRetryKeys = ['attempts', 'backoff', 'delay', 'maxDelay', 'jitter', 'on'] as const;
const kDefaults = {
  attempts: 3,
  backoff: 'exponential',
  delayMs: 1000,
  maxDelayMs: 3_600_000,
  jitter: 0,
} as const;

/**
 * `retry:` at the top level or on a function: a mapping (every key optional), or
 * `false` (no retries, also where a top-level default would apply). Returns the policy,
 * null for `false`, undefined when something was reported.
 */
export function readRetry(
  reader: NodeReader,
  node: Node | null,
  where: string,
): RetryPolicy | null | undefined {
  if (isScalar(node) && node.value === false) return null;
  const map = reader.map(node, where);
  if (!map) return undefined;
  const before = reader.issues.length;
  const settings = new Map(
    reader.entries(map, where, kRetryKeys).map(([k, v, key]) => [k, { v, key }] as const),
  );
  const attemptsNode = settings.get('attempts');
  const attempts =
    attemptsNode === undefined
      ? kDefaults.attempts
      : reader.integer(attemptsNode.v, `${where}.attempts`, 1, kMaxAttempts, attemptsNode.key);
  const backoff = readBackoff(reader, settings.get('backoff')?.v, `${where}.backoff`);
  const delayMs = readDuration(reader, settings.get('delay')?.v, `${where}.delay`) ?? kDefaults.delayMs;
  const maxNode = settings.get('maxDelay')?.v;
  const maxDelayMs =
    readDuration(reader, maxNode, `${where}.maxDelay`) ?? Math.max(kDefaults.maxDelayMs, delayMs);
  if (maxDelayMs < delayMs) {
    reader.report(
      maxNode ?? map,
      `${where}.maxDelay`,
      `maxDelay must be at least delay (${delayMs} ms), got ${maxDelayMs} ms`,
    );
  }
  const jitter = readJitter(reader, settings.get('jitter')?.v, `${where}.jitter`);
  const on = readCauses(reader, settings.get('on')?.v, `${where}.on`);
  if (reader.issues.length > before || attempts === undefined) return undefined;
  return { attempts, backoff, delayMs, maxDelayMs, jitter, on };
}

/** `deadLetter:` on a function: another function's name. */
export function readDeadLetter(
  reader: NodeReader,
  node: Node | null,
  where: string,
  functionName: string,
): string | undefined {
  const name = reader.string(node, where);
  if (name === undefined) return undefined;
  if (Buffer.byteLength(name) > MAX_FUNCTION_SIZE || /[\s\0]/.test(name)) {
    reader.report(node, where, `a function name must be 1-${MAX_FUNCTION_SIZE} bytes without spaces`);
    return undefined;
  }
  if (name === functionName) {
    reader.report(
      node,
      where,
      'the dead-letter function must be another function (a failure would feed itself)',
    );
    return undefined;
  }
  return name;
}

function readBackoff(
  reader: NodeReader,
  node: Node | null | undefined,
  where: string,
): RetryPolicy['backoff'] {
  if (node === undefined) return kDefaults.backoff;
  const value = reader.scalar(node);
  if (value === 'exponential' || value === 'fixed') return value;
  reader.report(node, where, 'expected exponential (delay doubles per retry) or fixed');
  return kDefaults.backoff;
}

function readDuration(reader: NodeReader, node: Node | null | undefined, where: string): number | undefined {
  if (node === undefined) return undefined;
  const parsed = parseDuration(reader.scalar(node));
  if (typeof parsed === 'string') {
    reader.report(node, where, parsed);
    return undefined;
  }
  return parsed;
}

function readJitter(reader: NodeReader, node: Node | null | undefined, where: string): number {
  if (node === undefined) return kDefaults.jitter;
  const value = reader.scalar(node);
  if (typeof value === 'number' && value >= 0 && value <= 1) return value;
  reader.report(node, where, 'expected a share of each wait from 0 to 1 (0.2: 80% to 100% of it)');
  return kDefaults.jitter;
}

function readCauses(reader: NodeReader, node: Node | null | undefined, where: string): readonly RetryCause[] {
  if (node === undefined) return kRetryCauses;
  const seq = reader.seq(node, where);
  if (!seq) return kRetryCauses;
  if (seq.items.length === 0)
    reader.report(seq, where, `expected at least one of ${kRetryCauses.join(', ')}`);
  const causes: RetryCause[] = [];
  for (const item of seq.items as Node[]) {
    const value = reader.scalar(item);
    if (typeof value === 'string' && (kRetryCauses as readonly string[]).includes(value)) {
      causes.push(value as RetryCause);
    } else {
      reader.report(
        item,
        where,
        `unknown cause ${JSON.stringify(value ?? null)}; expected ${kRetryCauses.join(', ')}`,
      );
    }
  }
  return causes;
}
