import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { AdminError, ConnectionError, ErrorCode, GearmanError, TimeoutError } from '../../src/errors.js';
import { Connection } from '../../src/net/connection.js';
import { PacketType } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import type { Packet } from '../../src/protocol/packet.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { collect, describeWithPeers, freePort, killAll, spawnTracked } from '../helpers/peers.js';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('AdminClient options', () => {
  it('refuses a bad timeout or server address up front', () => {
    expect(() => new AdminClient({ commandTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new AdminClient({ connectTimeoutMs: -5 })).toThrow(RangeError);
    expect(() => new AdminClient({ server: '127.0.0.1:99999' })).toThrow(RangeError);
    expect(() => new AdminClient({ server: '' })).toThrow(TypeError);
  });

  it('rejects invalid arguments without connecting', async () => {
    const admin = new AdminClient({ server: '127.0.0.1:1' });
    await expect(admin.createFunction('two words')).rejects.toThrow(TypeError);
    await expect(admin.maxQueue('f', -3)).rejects.toThrow(RangeError);
    await expect(admin.raw('status\nworkers')).rejects.toThrow(TypeError);
    await admin.close();
  });

  it('names the server it talks to', async () => {
    const admin = new AdminClient({ server: 'localhost:4731' });
    expect(admin.server).toBe('localhost:4731');
    await admin.close();
    expect(new AdminClient().server).toBe('127.0.0.1:4730');
  });
});

describe('AdminClient without a server', () => {
  it('fails a command with CONNECT_FAILED when nothing listens', async () => {
    const admin = new AdminClient({ server: `127.0.0.1:${await freePort()}` });
    const err = await rejection(admin.status());
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe(ErrorCode.CONNECT_FAILED);
    await admin.close();
  });
});

/** gearadmin's output for one flag. */
async function gearadmin(port: number, ...args: string[]) {
  return collect(spawnTracked('gearadmin', ['-h', '127.0.0.1', '-p', String(port), ...args]));
}

/** The lines of a gearadmin list, without its final ".". */
async function gearadminList(port: number, flag: string): Promise<string[]> {
  const { stdout, code } = await gearadmin(port, flag);
  expect(code).toBe(0);
  const lines = stdout.split('\n');
  expect(lines.slice(-2)).toEqual(['.', '']);
  return lines.slice(0, -2);
}

const byKey =
  <T>(key: (row: T) => string) =>
  (a: T, b: T): number =>
    key(a).localeCompare(key(b));

/** gearadmin --status / --priority-status rows, parsed here independently of the library. */
function parseTabRows(lines: string[], names: string[]): Array<Record<string, string | number>> {
  return lines.map((line) => {
    const fields = line.split('\t');
    expect(fields).toHaveLength(names.length + 1);
    const row: Record<string, string | number> = { function: fields[0] as string };
    names.forEach((name, i) => {
      row[name] = Number(fields[i + 1]);
    });
    return row;
  });
}

function gearman(port: number, args: string[]) {
  return collect(spawnTracked('gearman', ['-h', '127.0.0.1', '-p', String(port), ...args]));
}

/** A bare protocol worker that takes one job of `fn` and keeps it running until closed. */
async function startHoldingWorker(port: number, fn: string, clientId: string) {
  const conn = new Connection({ address: { host: '127.0.0.1', port }, reconnect: false });
  await conn.connect();
  const packets: Packet[] = [];
  conn.on('packet', (packet) => packets.push(packet));
  conn.send(encodeRequest(PacketType.SET_CLIENT_ID, [clientId]));
  conn.send(encodeRequest(PacketType.CAN_DO, [fn]));
  return {
    conn,
    /** Grabs until a job arrives (it must have been submitted), bounded. */
    async grab(): Promise<string> {
      for (let attempt = 0; attempt < 50; attempt++) {
        packets.length = 0;
        conn.send(encodeRequest(PacketType.GRAB_JOB));
        const deadline = Date.now() + 1000;
        while (packets.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        const packet = packets[0];
        if (packet?.type === PacketType.JOB_ASSIGN) return (packet.args[0] as Buffer).toString();
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no job assigned');
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWithPeers(
  ['gearmand', 'gearadmin', 'gearman'],
  'AdminClient and gearadmin on gearmand 1.1.20',
  () => {
    let server: GearmandHandle;
    let admin: AdminClient;
    let holder: Awaited<ReturnType<typeof startHoldingWorker>>;
    let heldHandle: string;

    beforeAll(async () => {
      server = await startGearmand();
      admin = new AdminClient({ server: server.address });
      spawnTracked('gearman', [
        '-h',
        '127.0.0.1',
        '-p',
        String(server.port),
        '-w',
        '-f',
        'echo_fn',
        '--',
        'cat',
      ]);
      holder = await startHoldingWorker(server.port, 'slow_fn', 'admin-test-worker');
      await gearman(server.port, ['-b', '-f', 'slow_fn', 'held']);
      heldHandle = await holder.grab();
      for (const payload of ['a', 'b', 'c']) await gearman(server.port, ['-b', '-f', 'queued_fn', payload]);
      await gearman(server.port, ['-b', '-I', '-f', 'queued_fn', 'high']);
      await gearman(server.port, ['-b', '-L', '-f', 'queued_fn', 'low']);
      await gearman(server.port, ['-b', '-u', 'unique-1', '-f', 'queued_fn', 'with a unique']);
      await until('the echo_fn worker', async () =>
        (await admin.status()).some((row) => row.function === 'echo_fn' && row.availableWorkers === 1)
          ? true
          : undefined,
      );
    });

    afterAll(async () => {
      await admin?.close();
      await holder?.conn.close();
      await killAll();
    });

    it('status: the same rows as gearadmin --status', async () => {
      const ours = await admin.status();
      const theirs = parseTabRows(await gearadminList(server.port, '--status'), [
        'total',
        'running',
        'availableWorkers',
      ]);
      expect([...ours].sort(byKey((r) => r.function))).toEqual(theirs.sort(byKey((r) => String(r.function))));
      expect(ours).toContainEqual({ function: 'queued_fn', total: 6, running: 0, availableWorkers: 0 });
      expect(ours).toContainEqual({ function: 'slow_fn', total: 1, running: 1, availableWorkers: 1 });
      expect(ours).toContainEqual({ function: 'echo_fn', total: 0, running: 0, availableWorkers: 1 });
    });

    it('priorityStatus: the same rows as gearadmin --priority-status', async () => {
      const ours = await admin.priorityStatus();
      const theirs = parseTabRows(await gearadminList(server.port, '--priority-status'), [
        'high',
        'normal',
        'low',
        'workers',
      ]);
      expect([...ours].sort(byKey((r) => r.function))).toEqual(theirs.sort(byKey((r) => String(r.function))));
      expect(ours).toContainEqual({ function: 'queued_fn', high: 1, normal: 4, low: 1, workers: 0 });
      // The running job is not queued any more.
      expect(ours).toContainEqual({ function: 'slow_fn', high: 0, normal: 0, low: 0, workers: 1 });
    });

    it('workers: every connection gearadmin lists, bar gearadmin itself', async () => {
      const ours = await admin.workers();
      const theirs = (await gearadminList(server.port, '--workers')).map((line) => {
        const m = /^(\d+) (\S+) (.*) :(.*)$/.exec(line);
        expect(m).not.toBeNull();
        const [, fd, ip, clientId, functions] = m as unknown as string[];
        return {
          fd: Number(fd),
          ip,
          clientId,
          functions: (functions as string).split(' ').filter((f) => f !== ''),
        };
      });
      for (const row of ours) expect(theirs).toContainEqual(row);
      const extra = theirs.filter((row) => !ours.some((o) => o.fd === row.fd));
      expect(extra).toHaveLength(1);
      expect(extra[0]?.functions).toEqual([]);
      expect(ours).toContainEqual(
        expect.objectContaining({ ip: '127.0.0.1', clientId: 'admin-test-worker', functions: ['slow_fn'] }),
      );
      expect(ours).toContainEqual(expect.objectContaining({ clientId: '-', functions: ['echo_fn'] }));
    });

    it('version, getPid and verbose: what gearadmin reports', async () => {
      const version = await admin.version();
      expect(version).toMatch(/^1\.1\.20/);
      expect((await gearadmin(server.port, '--server-version')).stdout).toBe(`${version}\n`);
      const pid = await admin.getPid();
      expect((await gearadmin(server.port, '--getpid')).stdout).toBe(`${pid}\n`);
      expect(() => process.kill(pid, 0)).not.toThrow();
      // startGearmand runs it with --verbose=ERROR.
      const level = await admin.verbose();
      expect(level).toBe('ERROR');
      expect((await gearadmin(server.port, '--server-verbose')).stdout).toBe(`${level}\n`);
    });

    it('showJobs: the same jobs as gearadmin --show-jobs', async () => {
      const ours = await admin.showJobs();
      const theirs = (await gearadminList(server.port, '--show-jobs')).map((line) => {
        const [handle, retries, ignore, queued] = line.split('\t');
        return { handle, retries: Number(retries), ignoreJob: ignore === '1', queued: queued === '1' };
      });
      expect([...ours].sort(byKey((r) => r.handle))).toEqual(theirs.sort(byKey((r) => String(r.handle))));
      expect(ours).toHaveLength(7);
      expect(ours).toContainEqual({ handle: heldHandle, retries: 0, ignoreJob: false, queued: true });
    });

    it('showUniqueJobs: the same ids as gearadmin --show-unique-jobs', async () => {
      const ours = await admin.showUniqueJobs();
      const theirs = await gearadminList(server.port, '--show-unique-jobs');
      expect([...ours].sort()).toEqual([...theirs].sort());
      expect(ours).toHaveLength(7);
      expect(ours).toContain('unique-1');
    });

    it('cancelJob: marks the job ignored as gearadmin --cancel-job does, and both refuse an unknown handle', async () => {
      const queued = (await admin.showJobs()).filter((job) => job.handle !== heldHandle);
      const [first, second] = queued as unknown as [{ handle: string }, { handle: string }];
      await admin.cancelJob(first.handle);
      const viaGearadmin = await gearadmin(server.port, '--cancel-job', second.handle);
      expect(viaGearadmin.stdout).toBe('OK\n');
      const after = await admin.showJobs();
      for (const handle of [first.handle, second.handle]) {
        expect(after).toContainEqual({ handle, retries: 0, ignoreJob: true, queued: false });
      }
      const err = await rejection(admin.cancelJob('H:nowhere:1'));
      expect(err).toBeInstanceOf(AdminError);
      expect((err as AdminError).adminCode).toBe('UNKNOWN_JOB');
      expect((await gearadmin(server.port, '--cancel-job', 'H:nowhere:1')).stderr).toBe(
        'Error: UNKNOWN_JOB\r\n',
      );
    });

    it('createFunction and dropFunction: each sees what the other tool did', async () => {
      await admin.createFunction('made_by_client');
      expect((await gearadmin(server.port, '--create-function', 'made_by_gearadmin')).stdout).toBe('OK\n');
      const created = parseTabRows(await gearadminList(server.port, '--status'), [
        'total',
        'running',
        'workers',
      ]);
      for (const name of ['made_by_client', 'made_by_gearadmin']) {
        expect(created).toContainEqual({ function: name, total: 0, running: 0, workers: 0 });
        expect(await admin.status()).toContainEqual({
          function: name,
          total: 0,
          running: 0,
          availableWorkers: 0,
        });
      }

      await admin.dropFunction('made_by_gearadmin');
      expect((await gearadmin(server.port, '--drop-function', 'made_by_client')).stdout).toBe('OK\n');
      const names = (await admin.status()).map((row) => row.function);
      expect(names).not.toContain('made_by_client');
      expect(names).not.toContain('made_by_gearadmin');

      const notFound = await rejection(admin.dropFunction('made_by_client'));
      expect((notFound as AdminError).adminCode).toBe('FUNCTION_NOT_FOUND');
      expect((await gearadmin(server.port, '--drop-function', 'made_by_client')).stderr).toBe(
        `Error: ${(notFound as AdminError).adminMessage}\r\n`,
      );
      const inUse = await rejection(admin.dropFunction('echo_fn'));
      expect((inUse as AdminError).adminCode).toBe('FUNCTION_IN_USE');
      expect((await gearadmin(server.port, '--drop-function', 'echo_fn')).stderr).toBe(
        `Error: ${(inUse as AdminError).adminMessage}\r\n`,
      );
    });

    it('maxQueue with one size: a submit over the limit is refused, 0 lifts the limit', async () => {
      await admin.createFunction('limited');
      await admin.maxQueue('limited', 2);
      for (const payload of ['1', '2']) {
        expect((await gearman(server.port, ['-b', '-f', 'limited', payload])).stderr).toBe('');
      }
      expect((await gearman(server.port, ['-b', '-f', 'limited', '3'])).stderr).toContain('QUEUE_ERROR');
      expect(await admin.status()).toContainEqual({
        function: 'limited',
        total: 2,
        running: 0,
        availableWorkers: 0,
      });
      await admin.maxQueue('limited', 0);
      expect((await gearman(server.port, ['-b', '-f', 'limited', '3'])).stderr).toBe('');
      expect(await admin.status()).toContainEqual({
        function: 'limited',
        total: 3,
        running: 0,
        availableWorkers: 0,
      });
    });

    it('maxQueue per priority: each priority is held to its own limit', async () => {
      await admin.createFunction('tiered');
      await admin.maxQueue('tiered', { high: 0, normal: 1, low: 1 });
      expect((await gearman(server.port, ['-b', '-f', 'tiered', 'n1'])).stderr).toBe('');
      expect((await gearman(server.port, ['-b', '-f', 'tiered', 'n2'])).stderr).toContain('QUEUE_ERROR');
      expect((await gearman(server.port, ['-b', '-L', '-f', 'tiered', 'l1'])).stderr).toContain(
        'QUEUE_ERROR',
      );
      expect((await gearman(server.port, ['-b', '-I', '-f', 'tiered', 'h1'])).stderr).toBe('');
      expect(await admin.priorityStatus()).toContainEqual({
        function: 'tiered',
        high: 1,
        normal: 1,
        low: 0,
        workers: 0,
      });
    });

    it('pipelines commands on one socket and matches every reply to its command', async () => {
      const sequential = {
        status: await admin.status(),
        priority: await admin.priorityStatus(),
        jobs: await admin.showJobs(),
        uniques: await admin.showUniqueJobs(),
        version: await admin.version(),
        pid: await admin.getPid(),
        verbose: await admin.verbose(),
        raw: await admin.raw('show jobs'),
      };
      for (let round = 0; round < 5; round++) {
        const [status, priority, jobs, uniques, version, pid, verbose, raw, missing, workers] =
          await Promise.all([
            admin.status(),
            admin.priorityStatus(),
            admin.showJobs(),
            admin.showUniqueJobs(),
            admin.version(),
            admin.getPid(),
            admin.verbose(),
            admin.raw('show jobs'),
            rejection(admin.cancelJob('H:nowhere:2')),
            admin.workers(),
          ]);
        expect({ status, priority, jobs, uniques, version, pid, verbose, raw }).toEqual(sequential);
        expect((missing as AdminError).adminCode).toBe('UNKNOWN_JOB');
        expect(workers.length).toBeGreaterThanOrEqual(3);
      }
      expect(sequential.raw).toHaveLength(sequential.jobs.length);
    });

    it('raw: returns the reply lines, and an ERR reply as AdminError', async () => {
      expect(await admin.raw('version')).toEqual([`OK ${await admin.version()}`]);
      const err = await rejection(admin.raw('shutdown'));
      expect((err as AdminError).adminCode).toBe('UNKNOWN_COMMAND');
      const show = await rejection(admin.raw('show nonsense'));
      expect((show as AdminError).adminCode).toBe('UNKNOWN_SHOW_ARGUMENTS');
      expect(await admin.getPid()).toBeGreaterThan(0);
    });
  },
);

/** SIGSTOPs a process and waits until the kernel reports it stopped (Linux /proc), bounded. */
async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await until(`process ${pid} to stop`, async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T') ? true : undefined;
  });
}

describeWithPeers(['gearmand'], 'AdminClient when gearmand stalls or dies', () => {
  let server: GearmandHandle;
  const clients: AdminClient[] = [];
  const open = (timeoutMs?: number): AdminClient => {
    const admin = new AdminClient({
      server: server.address,
      ...(timeoutMs === undefined ? {} : { commandTimeoutMs: timeoutMs }),
    });
    clients.push(admin);
    return admin;
  };

  beforeAll(async () => {
    server = await startGearmand();
  });
  afterEach(async () => {
    for (const admin of clients.splice(0)) await admin.close();
  });
  afterAll(async () => {
    await killAll();
  });

  it('fails a command with no reply in time with TIMEOUT, then works again on a fresh socket', async () => {
    const admin = open(300);
    const pid = await admin.getPid();
    await freeze(pid);
    try {
      const [late, behind] = await Promise.all([rejection(admin.version()), rejection(admin.status())]);
      expect(late).toBeInstanceOf(TimeoutError);
      expect((late as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
      expect(behind).toBeInstanceOf(GearmanError);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The stalled replies arrive on the dropped socket, never as answers to these.
    expect(await admin.getPid()).toBe(pid);
    expect(await admin.version()).toMatch(/^1\.1\.20/);
    expect(Array.isArray(await admin.status())).toBe(true);
  });

  it('fails waiting commands with a ConnectionError when the server dies, and reconnects on the next one', async () => {
    const admin = open(10_000);
    const pid = await admin.getPid();
    await freeze(pid);
    const pending = [rejection(admin.status()), rejection(admin.workers())];
    await new Promise((r) => setTimeout(r, 100));
    await server.restart();
    for (const err of await Promise.all(pending)) {
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as ConnectionError).code).toBe(ErrorCode.CONNECTION_CLOSED);
    }
    const newPid = await admin.getPid();
    expect(newPid).not.toBe(pid);
  });

  it('close() fails what is waiting with CLOSED and refuses later commands', async () => {
    const admin = open(10_000);
    const pid = await admin.getPid();
    await freeze(pid);
    try {
      const pending = rejection(admin.showJobs());
      await new Promise((r) => setTimeout(r, 50));
      await admin.close();
      const err = await pending;
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as ConnectionError).code).toBe(ErrorCode.CLOSED);
      expect(((await rejection(admin.status())) as ConnectionError).code).toBe(ErrorCode.CLOSED);
      await admin.close();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
