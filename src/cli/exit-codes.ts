/**
 * Exit statuses a service manager must tell apart. 78 is sysexits.h's EX_CONFIG: an invalid
 * manifest fails the same way on every restart, so the systemd unit names it in
 * RestartPreventExitStatus= and Restart=on-failure does not loop on it (issue 12). Other
 * failures (a handler that cannot load, a port in use) exit 1 and are retried.
 */
export const EXIT_INVALID_MANIFEST = 78;
