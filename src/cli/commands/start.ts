import { rmSync, writeFileSync } from 'node:fs';
import type { Logger as PinoLogger } from 'pino';
import type { ManifestReloadOutcome } from '../../supervisor/control/control-api.js';
import { openControlServer } from '../../supervisor/control/open-control.js';
import { settlesBy } from '../../supervisor/deadline.js';
import { ManifestError } from '../../supervisor/manifest/errors.js';
import { loadManifest } from '../../supervisor/manifest/load.js';
import type { Manifest, ServerConfig } from '../../supervisor/manifest/types.js';
import { ServiceNotifier } from '../../supervisor/notify/service-notifier.js';
import { ChangeWatcher } from '../../supervisor/reload/change-watcher.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import { defineCommand } from '../args/define-command.js';
import { EXIT_INVALID_MANIFEST } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { createLogger, kLogLevelOption, logLevel } from '../logger.js';
import { writeRunFile } from '../run-file.js';
import { type EmbeddedServer, startEmbeddedServer } from './embedded-server.js';

/** Exit status of a stop that had to end jobs still running when shutdownTimeout ran out. */
const kExitCutShort = 3;
/**
 * How long past shutdownTimeout the process may take to exit before it is made to: the
 * orderly path ends every thread and process at the deadline, so this only catches
 * something that still holds the event loop (it is logged with what that is).
 */
const kExitBackstopMs = 5000;

export const startCommand = defineCommand({
  name: 'start',
  synopsis: '[--log-level LEVEL] [--pid-file FILE] [--no-watch] [MANIFEST]',
  description: `Runs the functions of MANIFEST (default: gworker.yaml) as a Gearman worker box: handler
modules in worker-thread pools, commands as processes, N connections to every job
server. When the manifest names no servers, the embedded job server runs in-process
(default 127.0.0.1:4730). Handler files and the manifest are watched and reloaded live.
The control API (status, metrics, dashboard, commands) listens on 127.0.0.1:4731 unless
the manifest's "control" setting says otherwise; see gworker status, top, scale, pause,
resume, reload and drain.

signals:
  SIGTERM, SIGINT   stop grabbing, let running jobs finish; when shutdownTimeout runs
                    out, end what still runs (the job servers requeue it) and exit
  second SIGTERM/SIGINT
                    exit at once (the job servers requeue unfinished jobs)
  SIGHUP            reload the manifest`,
  options: {
    'log-level': kLogLevelOption,
    'pid-file': { type: 'string', value: 'FILE', help: 'write the process id to FILE while running' },
    'no-watch': { type: 'boolean', help: 'do not watch files; reload only on SIGHUP' },
  },
  arguments: { min: 0, max: 1, shape: 'one manifest file' },
  footer: `Exit status: 0 after a clean stop (every running job finished); 3 when jobs were cut
short at shutdownTimeout; 78 when the manifest is invalid (the systemd unit does not
restart on it); 1 when a handler cannot load or another start-up step fails; 2 on a usage
error; 130 or 143 when a second SIGINT or SIGTERM forced the exit.`,
  async run({ values, positionals }, io) {
    const level = logLevel(values['log-level'], io);
    let manifest: Manifest;
    try {
      manifest = await loadManifest(positionals[0] ?? 'gworker.yaml', { env: io.env });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      io.stderr.write(`${err.message}\n`);
      return EXIT_INVALID_MANIFEST;
    }
    const log = createLogger(io, level, 'gworker');
    const pidFile = values['pid-file'];
    if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
    try {
      return await run(manifest, log, io, { watch: !values['no-watch'], logLevel: level });
    } finally {
      if (pidFile !== undefined) rmSync(pidFile, { force: true });
    }
  },
});

async function run(
  manifest: Manifest,
  log: PinoLogger,
  io: CliIo,
  options: { watch: boolean; logLevel: string },
): Promise<number> {
  // Taken from the environment before any job can spawn a command that would inherit it.
  const notifier = ServiceNotifier.fromEnvironment(io.env, log);
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
      if (stopping) {
        log.warn(`second ${signal}: exiting now; the job servers requeue unfinished jobs`);
        // Command process groups still running are killed on the way out (process-group.ts).
        process.exit(signal === 'SIGINT' ? 130 : 143);
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
  // A port the API picked is found by `gworker status -c MANIFEST` through the run file.
  const listen = manifest.control.listen;
  const unpublish =
    control?.address && listen?.kind === 'tcp' && listen.port === 0
      ? writeRunFile(manifest.file, control.address, io.env)
      : null;
  log.info(
    { manifest: manifest.file, functions: manifest.functions.map((fn) => fn.name) },
    embedded ? `gworker started with the embedded job server on ${embedded.name}` : 'gworker started',
  );
  notifier?.start(supervisor);

  await stopRequested;
  // shutdownTimeout is the whole budget, from the signal to the exit (issue 10).
  const budgetMs = supervisor.manifest.shutdownTimeoutMs;
  const deadline = performance.now() + budgetMs;
  setTimeout(() => {
    log.error(
      { holding: process.getActiveResourcesInfo() },
      `still not stopped ${kExitBackstopMs / 1000} s after shutdownTimeout; exiting now`,
    );
    process.exit(kExitCutShort);
  }, budgetMs + kExitBackstopMs).unref();
  // The control API stays up while jobs finish, so status shows the drain; commands are refused.
  control?.api.markDraining();
  await watcher?.close();
  await settlesBy(reloading, deadline);
  const { jobsCutShort } = await supervisor.close({ timeoutMs: Math.max(0, deadline - performance.now()) });
  await control?.close();
  unpublish?.();
  await embedded?.close();
  await notifier?.close();
  if (jobsCutShort > 0) {
    log.warn(
      { jobsCutShort },
      `stopped; ${jobsCutShort} job(s) still running when shutdownTimeout ran out were cut short (the job servers requeue them)`,
    );
    return kExitCutShort;
  }
  log.info('stopped');
  return 0;
}
