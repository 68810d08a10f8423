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
 * Starts the control API the manifest asks for; null when the manifest turns it off.
 * An address that cannot be bound rejects with one line and a hint, the default one
 * too: a second supervisor that ran without it (as it once did) left `gworker status`
 * talking to the first one without a word.
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
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE' ? 'the address is in use (another supervisor?)' : (err as Error).message;
    const hint =
      config.listen.kind === 'tcp'
        ? 'set control.listen in the manifest to another port, or to 0 for a free one'
        : 'set control.listen in the manifest to another socket path';
    throw new Error(`control API cannot listen on ${where}: ${reason}; ${hint}`, { cause: err });
  }
}
