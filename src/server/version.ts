import { readFileSync } from 'node:fs';

/**
 * The version the `version` admin command reports, shaped like gearmand's `1.1.20+ds`:
 * gworker's package version with `+gworker` as build metadata, e.g. `0.1.0+gworker`, so
 * that tools parsing gearmand's answer still parse it, and people can tell the servers apart.
 */
export const SERVER_VERSION = `${readPackageVersion()}+gworker`;

function readPackageVersion(): string {
  try {
    // src/server/ (tsx, tests) and dist/server/ (the build) both sit two levels below the package.
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' && version !== '' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
