import { hostname } from 'node:os';
import { MAX_IDENTIFIER_SIZE } from '../protocol/constants.js';

/**
 * The client id a supervisor sends (SET_CLIENT_ID) when the manifest sets none:
 * `gworker-HOST-PID`, unique per process on a box, so that `gearadmin --workers` says
 * whose connections these are and the dashboard tells its own from other workers.
 */
export function defaultClientId(host: string = hostname(), pid: number = process.pid): string {
  // The id must hold no white space (the `workers` line is split on it) and fit the protocol's size.
  const id = `gworker-${host.replace(/[\s\0]+/g, '_')}-${pid}`;
  return Buffer.byteLength(id) <= MAX_IDENTIFIER_SIZE ? id : `gworker-${pid}`;
}
