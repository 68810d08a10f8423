import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Handler, JobContext } from '../../src/index.js';
import * as api from '../../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// A handler author's view: this must type-check (npm run typecheck covers test/).
const title: Handler<string> = async (text, job: JobContext) => {
  job.status(1, 1);
  return text.toUpperCase();
};

const kRuntimeExports = [
  'AdminClient',
  'AdminError',
  'Client',
  'ConnectionError',
  'ControlError',
  'ControlServer',
  'DEFAULT_CONTROL_PORT',
  'ErrorCode',
  'ForegroundJob',
  'GearmanError',
  'GearmanServer',
  'JobExceptionError',
  'JobFailedError',
  'JobStoreError',
  'ManifestError',
  'MemoryJobStore',
  'MetricsEndpoint',
  'PacketType',
  'PermanentError',
  'ProtocolError',
  'ServerError',
  'ServerMetrics',
  'SqliteJobStore',
  'Supervisor',
  'TimeoutError',
  'Worker',
  'exponentialBackoff',
  'loadManifest',
  'openSqliteStore',
  'parseControlAddress',
];

describe('the public API', () => {
  it('exports exactly the documented names', () => {
    expect(Object.keys(api).sort()).toEqual(kRuntimeExports);
    expect(typeof title).toBe('function');
  });

  it.runIf(existsSync(`${root}dist/index.js`))('loads from plain JavaScript by package name', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('gworker'); console.log(Object.keys(m).sort().join(','));",
      ],
      { cwd: root },
    );
    expect(stdout.trim()).toBe(kRuntimeExports.join(','));
  });
});
