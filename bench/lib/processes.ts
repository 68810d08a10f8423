import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { kProfileEnv } from './profiler.js';

/** The repository root (bench/lib/../..): children run from there so `--import tsx` resolves. */
export const kRepoRoot = fileURLToPath(new URL('../../', import.meta.url));

const live = new Set<ChildProcess>();
let hooksInstalled = false;

/**
 * Kills every process the bench started when the harness itself ends, however it ends
 * (normal exit, Ctrl-C, an uncaught error): a leftover gearmand or worker would skew the
 * next run and hold a port.
 */
export function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exitCode = 130;
      process.kill(process.pid, signal);
    });
  }
}

/** A child process whose stdout is read line by line. */
export class Peer {
  readonly label: string;
  readonly child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: Array<() => void> = [];
  #stderr = '';
  /** stdout has ended: every line the child printed has been read ('exit' can come first). */
  #stdoutEnded = false;
  #exit: Promise<number | null>;

  constructor(label: string, command: string, args: readonly string[], env?: Record<string, string>) {
    installExitHooks();
    this.label = label;
    this.child = spawn(command, args, {
      cwd: kRepoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env === undefined ? process.env : { ...process.env, ...env },
    });
    live.add(this.child);
    this.#exit = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        live.delete(this.child);
        resolve(code);
        this.#wakeAll();
      });
    });
    // A failed spawn (ENOENT) emits 'error' and then 'exit' (or only 'error'): never throw from here.
    this.child.once('error', (err) => {
      this.#stderr += `spawn failed: ${err.message}\n`;
      this.#stdoutEnded = true;
      live.delete(this.child);
      this.#wakeAll();
    });
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      this.#lines.push(line);
      this.#wakeAll();
    });
    lines.on('close', () => {
      this.#stdoutEnded = true;
      this.#wakeAll();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      // Keep the tail only: enough to explain a failure.
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null || !live.has(this.child);
  }

  /** Sends one line on the child's stdin (ignored once it has exited). */
  send(line: string): void {
    if (!this.exited && this.child.stdin?.writable) this.child.stdin.write(`${line}\n`);
  }

  /**
   * Resolves with the first line (not consumed before) that starts with `prefix`; rejects
   * when the child exits first or `timeoutMs` passes.
   */
  async waitForLine(prefix: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#lines.findIndex((line) => line.startsWith(prefix));
      if (index >= 0) return this.#lines.splice(index, 1)[0] as string;
      // A child's last lines can arrive after its 'exit' event: give up only once stdout has ended too.
      if (this.exited && this.#stdoutEnded)
        throw this.#failure(`exited (code ${this.child.exitCode}) before printing "${prefix}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw this.#failure(`printed no "${prefix}" line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  /** The JSON object on the line starting with `prefix ` (e.g. `result {...}`). */
  async waitForJson<T>(prefix: string, timeoutMs: number): Promise<T> {
    const line = await this.waitForLine(`${prefix} `, timeoutMs);
    return JSON.parse(line.slice(prefix.length + 1)) as T;
  }

  /** Waits up to `graceMs` for the child to exit on its own, then kills it; never rejects. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
    const hard = setTimeout(() => this.child.kill('SIGKILL'), graceMs + 2000);
    await this.#exit;
    clearTimeout(timer);
    clearTimeout(hard);
  }

  kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL');
    return this.#exit.then(() => undefined);
  }

  #failure(what: string): Error {
    const tail = this.#stderr.trim();
    return new Error(`${this.label} ${what}${tail ? `\n--- its stderr ---\n${tail}` : ''}`);
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** Options for Node children. */
export interface NodeChildOptions {
  /** Profile the timed part into this directory (see profiler.ts). */
  readonly profileDir?: string | undefined;
}

/** A bench/lib script run by its own Node process through tsx. */
export function nodePeer(
  label: string,
  script: string,
  args: readonly string[],
  options: NodeChildOptions = {},
): Peer {
  const env = options.profileDir === undefined ? undefined : { [kProfileEnv]: options.profileDir };
  return new Peer(label, process.execPath, ['--import', 'tsx', `bench/lib/${script}`, ...args], env);
}

/** A bench/peers PHP script. */
export function phpPeer(label: string, script: string, args: readonly string[]): Peer {
  return new Peer(label, 'php', [`bench/peers/${script}`, ...args]);
}

/** Kills every process still running (after a failed run). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
