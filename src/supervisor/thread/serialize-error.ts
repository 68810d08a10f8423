import type { SerializedError } from './messages.js';

/** Longest rendering of a thrown non-Error value in a reason. */
const kMaxValueText = 200;

/**
 * What a handler threw, as it crosses to the main thread: its type, a message that says
 * what was thrown, and the stack without gworker's own frames. JavaScript lets a handler
 * throw anything, and `String(value)` made `throw {code: 'E_BAD'}` "[object Object]",
 * `throw new Error()` an empty reason and `class MyError extends Error {}` a plain
 * "Error" (issue 11): the reason a client and the log get must name what was thrown.
 */
export function serializeError(err: unknown): SerializedError {
  if (typeof err !== 'object' || err === null) return { name: typeof err, message: describeValue(err) };
  const serialized = err instanceof Error ? fromError(err) : fromObject(err);
  // A property, not a class check: the handler may have loaded its own copy of gworker.
  return (err as { retry?: unknown }).retry === false ? { ...serialized, permanent: true } : serialized;
}

function fromError(err: Error): SerializedError {
  const name = typeName(err);
  const message = err.message !== '' ? err.message : `${name} thrown with no message`;
  const stack = err.stack === undefined ? undefined : handlerStack(err.stack);
  const at = (err as { at?: unknown }).at;
  return {
    name,
    message,
    ...(stack === undefined ? {} : { stack }),
    ...(typeof at === 'string' ? { at } : {}),
  };
}

/** `err.name`, unless a subclass left it at "Error": then the class's own name. */
function typeName(err: Error): string {
  const ctor = (err as { constructor?: { name?: unknown } }).constructor?.name;
  if (err.name === 'Error' && typeof ctor === 'string' && ctor !== '' && ctor !== 'Error') return ctor;
  return err.name || 'Error';
}

function fromObject(value: object): SerializedError {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  const name = typeof ctor === 'string' && ctor !== '' ? ctor : 'Object';
  const own = (value as { message?: unknown }).message;
  if (typeof own === 'string' && own !== '') return { name, message: own };
  return { name, message: `a handler threw a non-Error ${name}: ${describeValue(value)}` };
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'a handler threw an empty string' : value;
  if (value === undefined || value === null) return `a handler threw ${value}`;
  if (typeof value !== 'object') return `a handler threw the ${typeof value} ${String(value)}`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > kMaxValueText ? `${text.slice(0, kMaxValueText)}…` : text;
}

/**
 * The stack as the handler's author reads it: gworker's frames below the handler's
 * (the job stream that called it, node's message port) go, and tsx's `?tsx-namespace=`
 * query leaves the file names.
 */
export function handlerStack(stack: string): string {
  const lines = stack.split('\n');
  const firstOwn = lines.findIndex((line, i) => i > 0 && isInternalFrame(line));
  const kept = firstOwn < 0 ? lines : lines.slice(0, firstOwn);
  return kept.map((line) => line.replace(/\?tsx-namespace=[\w-]+/g, '')).join('\n');
}

function isInternalFrame(line: string): boolean {
  return /^\s+at /.test(line) && /[/\\]supervisor[/\\]thread[/\\]job-stream\.[jt]s:/.test(line);
}
