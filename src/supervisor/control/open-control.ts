import type { Logger } from '../../log.js';
import type { ControlConfig } from '../manifest/types.js';
import type { Supervisor } from '../supervisor.js';
import type { ManifestReloadOutcome } from './control-api.js';
import { ControlServer } from './control-server.js';
import { formatControlAddress } from './listen-address.js';

export interface OpenControlOptions {
  readonly logger: Logger;
  readonly reload: () => Promise<ManifestReloadOutcome>;
  readonly drain: () => void;
}

/**
 * Starts the control API the manifest asks for. Returns null when the manifest turns it
 * off, or when the default address is taken (another supervisor on this machine has it):
 * that costs only the control API and is logged. An address the manifest chose that
 * cannot be bound rejects, so that the operator's setting is never silently ignored.
 */
export async function openControlServer(
  supervisor: Supervisor,
  config: ControlConfig,
  options: OpenControlOptions,
): Promise<ControlServer | null> {
  if (config.listen === null) {
    options.logger.info('control API off (control: false in the manifest)');
    return null;
  }
  const server = new ControlServer(supervisor, {
    listen: config.listen,
    ...(config.token === undefined ? {} : { token: config.token }),
    logger: options.logger,
    reload: options.reload,
    drain: options.drain,
  });
  try {
    await server.listen();
    return server;
  } catch (err) {
    await server.close();
    const where = formatControlAddress(config.listen);
    if (config.explicit) {
      throw new Error(`control API cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
    }
    options.logger.warn(
      { err },
      `control API not started: ${where} is not available (set control.listen in the manifest to pick another)`,
    );
    return null;
  }
}
