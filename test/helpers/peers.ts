import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { describe } from 'vitest';

/** CI sets this: a missing peer must fail the run, never skip it unseen. */
export const peersRequired = process.env.GWORKER_REQUIRE_PEERS === '1';

const commandCache = new Map<string, boolean>();

export function hasCommand(name: string): boolean {
  let found = commandCache.get(name);
  if (found === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      found = true;
    } catch {
      found = false;
    }
    commandCache.set(name, found);
  }
  return found;
}

export function hasPhpGearman(): boolean {
  if (!hasCommand('php')) return false;
  try {
    return (
      execFileSync('php', ['-r', 'echo extension_loaded("gearman") ? "yes" : "no";']).toString() === 'yes'
    );
  } catch {
    return false;
  }
}

export type Peer =
  | 'gearmand'
  | 'gearman'
  | 'gearadmin'
  | 'php'
  | 'curl'
  | 'openssl'
  | 'python3'
  | 'systemd-notify'
  | 'systemd-analyze'
  | 'tini';

function peerAvailable(peer: Peer): boolean {
  return peer === 'php' ? hasPhpGearman() : hasCommand(peer);
}

/**
 * A describe block for tests that need real peers. Without them it is skipped locally;
 * with GWORKER_REQUIRE_PEERS=1 it runs and fails loudly instead.
 */
export function describeWithPeers(peers: readonly Peer[], name: string, body: () => void): void {
  const missing = peers.filter((peer) => !peerAvailable(peer));
  if (missing.length === 0) {
    describe(name, body);
  } else if (peersRequired) {
    describe(name, () => {
      throw new Error(`GWORKER_REQUIRE_PEERS=1 but these peers are missing: ${missing.join(', ')}`);
    });
  } else {
    describe.skip(`${name} (missing ${missing.join(', ')})`, body);
  }
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const liveProcesses = new Set<ChildProcess>();

/** Spawns a process that is killed by killAll() (call it in afterEach/afterAll). */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: Parameters<typeof spawn>[2] = {},
) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
  return child;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

export async function killAll(): Promise<void> {
  await Promise.all([...liveProcesses].map((child) => stopProcess(child, 'SIGKILL')));
}

/** Collects a child's stdout and stderr and resolves with them and the exit code. */
export function collect(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
