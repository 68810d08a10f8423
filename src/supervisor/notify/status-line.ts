import { missingConnections } from '../health/readiness.js';
import type { FunctionSnapshot } from '../supervisor.js';

/** STATUS= is one line; systemctl status cuts long ones anyway. */
const kMaxLength = 200;

/**
 * The one-line summary systemd shows in `systemctl status`: the state, then what matters
 * in it. Made only of things that change rarely (connections, state), so that STATUS= is
 * sent on a change, not every second; a draining box counts the jobs it still runs.
 */
export function statusLine(
  state: 'starting' | 'ready' | 'reloading' | 'stopping',
  functions: readonly FunctionSnapshot[],
): string {
  const missing = missingConnections(functions);
  let line: string;
  if (state === 'stopping') {
    const running = functions.reduce((sum, fn) => sum + fn.running + fn.prefetched, 0);
    line = `stopping: no new jobs; ${running} ${running === 1 ? 'job' : 'jobs'} still running`;
  } else if (state === 'reloading') {
    line = 'reloading the manifest';
  } else if (state === 'starting') {
    line = `starting: waiting for ${missing.join('; ')}`;
  } else if (missing.length > 0) {
    line = `ready, but not connected: ${missing.join('; ')}`;
  } else {
    const servers = new Set(functions.flatMap((fn) => fn.connections.map((c) => c.server)));
    const connections = functions.reduce(
      (sum, fn) => sum + fn.connections.reduce((n, c) => n + c.connections, 0),
      0,
    );
    line =
      `ready: ${plural(functions.length, 'function')} on ${plural(servers.size, 'job server')}, ` +
      `all ${plural(connections, 'connection')} up`;
  }
  // systemd-notify joins its arguments with newlines: a control character in a server's
  // name must not start an assignment of its own.
  const flat = line.replace(/\p{Cc}/gu, ' ');
  return flat.length > kMaxLength ? `${flat.slice(0, kMaxLength - 1)}…` : flat;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
