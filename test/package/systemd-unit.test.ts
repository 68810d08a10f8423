// Issue 12: config/systemd/gworker.service must pass `systemd-analyze verify` and keep the
// settings a graceful drain, a bad manifest and the watchdog depend on.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT_INVALID_MANIFEST } from '../../src/cli/exit-codes.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { describeWithPeers } from '../helpers/peers.js';

const unitFile = fileURLToPath(new URL('../../config/systemd/gworker.service', import.meta.url));
const unit = readFileSync(unitFile, 'utf8');

/** The unit's settings, `Key` -> its values in order (comments and sections dropped). */
function settings(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, key = '', value = ''] = match;
    found.set(key, [...(found.get(key) ?? []), value]);
  }
  return found;
}

function seconds(value: string | undefined): number {
  const match = /^(\d+)(s|min)?$/.exec(value ?? '');
  if (match === null) throw new Error(`not a duration this test reads: ${value}`);
  return Number(match[1]) * (match[2] === 'min' ? 60 : 1);
}

describe('config/systemd/gworker.service', () => {
  const set = settings(unit);
  const one = (key: string) => set.get(key)?.at(-1);

  it('lets running jobs, command children included, finish on stop, and waits longer than shutdownTimeout', () => {
    expect(one('KillMode')).toBe('mixed');
    expect(one('KillSignal')).toBe('SIGTERM');
    const defaults = parseManifest('functions:\n  f: { command: ["true"] }\n', '/tmp/gworker.yaml', {
      env: {},
    });
    // gworker exits at most 5 s after shutdownTimeout, whatever is still running.
    expect(seconds(one('TimeoutStopSec'))).toBeGreaterThan(defaults.shutdownTimeoutMs / 1000 + 5);
    // Exit 3: jobs were cut short at shutdownTimeout (and requeued), a normal stop.
    expect(one('SuccessExitStatus')).toBe('3');
  });

  it('restarts on failure but not on an invalid manifest, within a start limit', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe(String(EXIT_INVALID_MANIFEST));
    expect(Number(one('StartLimitBurst'))).toBeGreaterThan(1);
    expect(seconds(one('StartLimitIntervalSec'))).toBeGreaterThan(0);
  });

  it('is Type=notify with a watchdog, reloads with SIGHUP, runs as gworker under hardening', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
    expect(seconds(one('WatchdogSec'))).toBeGreaterThan(0);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('User')).toBe('gworker');
    expect(one('NoNewPrivileges')).toBe('true');
    expect(one('ProtectSystem')).toBe('full');
    expect(one('PrivateTmp')).toBe('true');
    // node itself: npx and npm start do not pass SIGTERM on.
    expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node --single-threaded-gc \S+\/bin\/gworker\.js start /);
    expect(one('Documentation')).toBe('file:///opt/gworker/node_modules/gworker/docs/operations.md');
  });
});

describeWithPeers(['systemd-analyze'], 'systemd-analyze verify', () => {
  it('accepts the unit without a warning', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-unit-'));
    // verify checks that ExecStart's program exists: use this machine's node if it lives elsewhere.
    const text = existsSync('/usr/bin/node') ? unit : unit.replaceAll('/usr/bin/node', process.execPath);
    const copy = path.join(dir, 'gworker.service');
    writeFileSync(copy, text);
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', [
      'verify',
      '--man=no',
      copy,
    ]).finally(() => rmSync(dir, { recursive: true, force: true }));
    // An unknown or misspelt key is only a warning (exit 0): any output fails the test.
    expect(`${stdout}${stderr}`).toBe('');
  });
});
