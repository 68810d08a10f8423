import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, spawnTracked, stopProcess } from '../helpers/peers.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));
const title = fileURLToPath(new URL('../../workers/title.js', import.meta.url));

afterEach(killAll);

describe('bin/gworker.js run as a program, as an installed `gworker` is', () => {
  it('starts through its shebang, under node --single-threaded-gc', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-bin-'));
    const manifest = path.join(dir, 'gworker.yaml');
    writeFileSync(
      manifest,
      `embeddedServer: 0\ncontrol: false\nfunctions:\n  title: { handler: ${title} }\n`,
    );
    const child = spawnTracked(bin, ['start', manifest], { stdio: ['ignore', 'ignore', 'pipe'] });
    const started = new Promise<void>((resolve) => {
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.includes('gworker started')) resolve();
      });
    });
    await started;
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('--single-threaded-gc');
    expect(argv).toContain(bin);
    await stopProcess(child, 'SIGTERM');
  });
});
