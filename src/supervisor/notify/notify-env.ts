/** What systemd asked of this process through its environment (see sd_notify(3)). */
export interface NotifyEnvironment {
  /** $NOTIFY_SOCKET: a datagram socket's path, or `@name` in the abstract namespace. */
  readonly socket: string;
  /** How often to send WATCHDOG=1, in milliseconds: half of $WATCHDOG_USEC; null without a watchdog. */
  readonly watchdogIntervalMs: number | null;
}

/**
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, and removes them from `env`, as
 * sd_notify(3)'s `unset_environment` does: a `command:` job or a handler must not inherit
 * them and speak for the service. A watchdog meant for another process ($WATCHDOG_PID
 * set and not `pid`) is left to that process. Returns null when systemd asked nothing.
 */
export function takeNotifyEnvironment(env: NodeJS.ProcessEnv, pid: number): NotifyEnvironment | null {
  const socket = env.NOTIFY_SOCKET;
  const usec = env.WATCHDOG_USEC;
  const watchdogPid = env.WATCHDOG_PID;
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (socket === undefined || socket === '') return null;
  const forUs = watchdogPid === undefined || watchdogPid === String(pid);
  const micros = usec !== undefined && /^\d+$/.test(usec) ? Number(usec) : 0;
  return {
    socket,
    watchdogIntervalMs: forUs && micros > 0 ? Math.max(1, Math.floor(micros / 2000)) : null,
  };
}
