import { rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger as PinoLogger } from 'pino';
import type { ManifestReloadOutcome } from '../../supervisor/control/control-api.js';
import { openControlServer } from '../../supervisor/control/open-control.js';
import { ManifestError } from '../../supervisor/manifest/errors.js';
import { loadManifest } from '../../supervisor/manifest/load.js';
import type { Manifest, ServerConfig } from '../../supervisor/manifest/types.js';
import { ChangeWatcher } from '../../supervisor/reload/change-watcher.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import type { CliCommand, CliIo } from '../io.js';
import { UsageError } from '../io.js';
import { createLogger, parseLogLevel } from '../logger.js';
import { type EmbeddedServer, startEmbeddedServer } from './embedded-server.js';

const kUsage = `usage: gworker start [--log-level LEVEL] [--pid-file FILE] [--no-watch] [MANIFEST]

Runs the functions of MANIFEST (default: gworker.yaml) as a Gearman worker box: handler
modules in worker-thread pools, commands as processes, N connections to every job
server. When the manifest names no servers, the embedded job server runs in-process
(default 127.0.0.1:4730). Handler files and the manifest are watched and reloaded live.
The control API (status, metrics, dashboard, commands) listens on 127.0.0.1:4731 unless
the manifest's "control" setting says otherwise; see gworker status, top, scale, pause,
resume, reload and drain.

signals:
  SIGTERM, SIGINT   stop grabbing, let running jobs finish (up to shutdownTimeout), exit 0
  second SIGINT     exit at once (the job servers requeue unfinished jobs)
  SIGHUP            reload the manifest

options:
      --log-level LEVEL  trace, debug, info (default), warn, error, fatal or silent
      --pid-file FILE    write the process id to FILE while running
      --no-watch         do not watch files; reload only on SIGHUP
  -h, --help             print this help

Exit status: 0 after a clean stop; 1 when the manifest is invalid or a handler cannot
load; 2 on a usage error.
`;

export const startCommand: CliCommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      'log-level': { type: 'string' },
      'pid-file': { type: 'string' },
      'no-watch': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(kUsage);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('start takes one manifest file');
  let level: ReturnType<typeof parseLogLevel>;
  try {
    level = parseLogLevel(values['log-level'] ?? io.env.GWORKER_LOG_LEVEL);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let manifest: Manifest;
  try {
    manifest = await loadManifest(positionals[0] ?? 'gworker.yaml', { env: io.env });
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return 1;
  }
  const log = createLogger(io, level, 'gworker');
  const pidFile = values['pid-file'];
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
  try {
    return await run(manifest, log, io, { watch: !values['no-watch'], logLevel: level });
  } finally {
    if (pidFile !== undefined) rmSync(pidFile, { force: true });
  }
};

async function run(
  manifest: Manifest,
  log: PinoLogger,
  io: CliIo,
  options: { watch: boolean; logLevel: string },
): Promise<number> {
  let embedded: EmbeddedServer | null = null;
  if (manifest.servers === null) {
    try {
      embedded = await startEmbeddedServer(manifest, log, options.logLevel);
    } catch (err) {
      log.error({ err }, `cannot start the embedded job server: ${(err as Error).message}`);
      return 1;
    }
    if (embedded.http !== null) log.info(`embedded job server's HTTP gateway on ${embedded.http}`);
  }
  const defaultServers: ServerConfig[] = embedded
    ? [{ host: embedded.address.host, port: embedded.address.port, connections: manifest.connections }]
    : [];
  const supervisor = new Supervisor(manifest, { logger: log, defaultServers });
  try {
    await supervisor.start();
  } catch (err) {
    log.error({ err }, (err as Error).message);
    await embedded?.close();
    return 1;
  }
  const watcher = options.watch ? new ChangeWatcher({ manifest: manifest.file }) : null;

  let reloading: Promise<void> = Promise.resolve();
  const reloadManifest = (why: string): Promise<ManifestReloadOutcome> => {
    const outcome = reloading.then(async (): Promise<ManifestReloadOutcome> => {
      let next: Manifest;
      try {
        next = await loadManifest(manifest.file, { env: io.env });
      } catch (err) {
        const issues = err instanceof ManifestError ? err.message : String(err);
        log.error(`manifest change rejected (${why}); the running configuration stays:\n${issues}`);
        return { ok: false, error: issues };
      }
      if ((next.servers === null) !== (manifest.servers === null)) {
        log.warn(
          'switching between the embedded server and named servers needs a restart; servers kept as they are',
        );
        next = { ...next, servers: manifest.servers };
      }
      if (JSON.stringify(next.control) !== JSON.stringify(manifest.control)) {
        log.warn('control settings changed: they apply at the next start; the control API stays as it is');
      }
      manifest = next;
      await supervisor.applyManifest(next);
      await watcher?.watch(supervisor.codeFiles());
      log.info({ functions: next.functions.map((fn) => fn.name) }, `manifest applied (${why})`);
      return { ok: true };
    });
    reloading = outcome.then(
      () => {},
      () => {},
    );
    return outcome;
  };

  if (watcher) {
    watcher.on('handlers', (names) => {
      log.info({ functions: names }, 'handler code changed; reloading');
      supervisor.reloadHandlers(names).catch((err: Error) => log.error({ err }, 'reload failed'));
    });
    watcher.on('manifest', () => void reloadManifest('file changed'));
    watcher.on('error', (err) => log.warn({ err }, 'file watcher error'));
    // What each handler loaded is known once it has loaded: follow it as it changes.
    supervisor.on('codeFiles', () => void watcher.watch(supervisor.codeFiles()));
    await watcher.watch(supervisor.codeFiles());
  }
  let requestStop: (why: { signal: NodeJS.Signals } | { reason: string }) => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    let stopping = false;
    requestStop = (why) => {
      if (stopping) return;
      stopping = true;
      log.info(why, 'stopping: no new jobs; waiting for running jobs');
      resolve();
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping && signal === 'SIGINT') {
        log.warn('second SIGINT: exiting now; the job servers requeue unfinished jobs');
        process.exit(130);
      }
      requestStop({ signal });
    };
    const onHup = (): void => void reloadManifest('SIGHUP');
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHup);
  });
  let control: Awaited<ReturnType<typeof openControlServer>>;
  try {
    control = await openControlServer(supervisor, manifest.control, {
      logger: log,
      reload: () => reloadManifest('control API'),
      drain: () => requestStop({ reason: 'drain (control API)' }),
    });
  } catch (err) {
    log.error({ err }, (err as Error).message);
    await watcher?.close();
    await supervisor.close({ force: true });
    await embedded?.close();
    return 1;
  }
  log.info(
    { manifest: manifest.file, functions: manifest.functions.map((fn) => fn.name) },
    embedded ? `gworker started with the embedded job server on ${embedded.name}` : 'gworker started',
  );

  await stopRequested;
  // The control API stays up while jobs finish, so status shows the drain; commands are refused.
  control?.api.markDraining();
  await watcher?.close();
  await reloading;
  await supervisor.close();
  await control?.close();
  await embedded?.close();
  log.info('stopped');
  return 0;
}
