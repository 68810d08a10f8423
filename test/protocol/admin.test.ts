import { describe, expect, it } from 'vitest';
import { AdminError, ErrorCode, ProtocolError } from '../../src/errors.js';
import {
  AdminReplyReader,
  type AdminReplyShape,
  cancelJobCommand,
  createFunctionCommand,
  dropFunctionCommand,
  encodeAdminCommand,
  getPidCommand,
  maxQueueCommand,
  priorityStatusCommand,
  rawCommand,
  replyShapeOf,
  showJobsCommand,
  showUniqueJobsCommand,
  statusCommand,
  verboseCommand,
  versionCommand,
  workersCommand,
} from '../../src/protocol/admin.js';
import {
  adminErrorFromLine,
  parseGetPid,
  parseOk,
  parsePriorityStatus,
  parseShowJobs,
  parseShowUniqueJobs,
  parseStatus,
  parseVerbose,
  parseVersion,
  parseWorkers,
} from '../../src/protocol/admin-replies.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';

// Replies captured byte for byte from gearmand 1.1.20+ds (Debian bookworm) on this machine.
const kStatus = 'otherfn\t6\t0\t0\ncapfn\t0\t0\t1\n.\n';
const kPriorityStatus = 'otherfn\t1\t4\t1\t0\ncapfn\t0\t0\t0\t1\n.\n';
const kWorkers = '38 127.0.0.1 my worker:1 : fb b fa\n37 127.0.0.1 - : capfn\n39 127.0.0.1 - :\n.\n';
const kShowJobs =
  'H:vm:1\t0\t0\t1\nH:vm:5\t0\t0\t1\nH:vm:2\t0\t1\t0\nH:vm:4\t0\t0\t1\nH:vm:6\t0\t0\t1\nH:vm:3\t0\t0\t1\n.\n';
const kShowUniqueJobs =
  '5c91a4fa-e99f-11f1-860d-02fc00000001\n5c93b600-e99f-11f1-b8ba-02fc00000001\nmyuniq\n.\n';
const kVersion = 'OK 1.1.20+ds\n';
const kGetPid = 'OK 9327\n';
const kVerbose = 'OK ERROR\n';
const kOk = 'OK\r\n';
const kEmptyList = '.\n';
const kErrUnknownJob = 'ERR UNKNOWN_JOB\r\n';
const kErrArgs = 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n';
const kErrNotFound = 'ERR function not found\r\n';
const kErrInUse = 'ERR there are still connected workers or executing clients\r\n';
const kErrUnknownCommand = 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n';
const kErrShow = 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n';
/** `workers`, `status`, `create function zz`, `maxqueue zz 1` written at once; the replies as they came. */
const kPipelined =
  '38 127.0.0.1 my worker:1 : fb b fa\n37 127.0.0.1 - : capfn\n39 127.0.0.1 - :\n.\n' +
  'otherfn\t6\t0\t0\nfb b\t0\t0\t1\ncapfn\t0\t0\t1\nnewf\t0\t0\t0\nfa\t0\t0\t1\n.\n' +
  'OK\r\nOK\r\n';

/**
 * Runs reply bytes through the real decoder (text mode, as an admin connection uses it)
 * and splits them into replies by shape, the way AdminClient does.
 */
function readReplies(raw: string, shapes: readonly AdminReplyShape[], chunkSizes?: number[]): string[][] {
  const replies: string[][] = [];
  let index = 0;
  let reader = new AdminReplyReader(shapes[0] as AdminReplyShape);
  const decoder = new PacketDecoder(
    (frame) => {
      if (frame.kind !== 'text') throw new Error('expected a text line');
      if (reader.push(frame.line)) {
        replies.push([...reader.lines]);
        index++;
        if (index < shapes.length) reader = new AdminReplyReader(shapes[index] as AdminReplyShape);
      }
    },
    { expect: 'RES', allowText: true },
  );
  const bytes = Buffer.from(raw, 'utf8');
  if (chunkSizes === undefined) {
    decoder.push(bytes);
  } else {
    let pos = 0;
    for (let i = 0; pos < bytes.length; i++) {
      const size = chunkSizes[i % chunkSizes.length] as number;
      decoder.push(bytes.subarray(pos, pos + size));
      pos += size;
    }
  }
  return replies;
}

const one = (raw: string, shape: AdminReplyShape): string[] => {
  const replies = readReplies(raw, [shape]);
  expect(replies).toHaveLength(1);
  return replies[0] as string[];
};

function caught<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

const adminError = (fn: () => unknown): AdminError => caught(fn, AdminError);

describe('admin reply parsers on gearmand 1.1.20 replies', () => {
  it('parses status rows with the function name and three counts', () => {
    expect(parseStatus(one(kStatus, 'list'))).toEqual([
      { function: 'otherfn', total: 6, running: 0, availableWorkers: 0 },
      { function: 'capfn', total: 0, running: 0, availableWorkers: 1 },
    ]);
  });

  it('parses prioritystatus rows as high, normal, low and workers', () => {
    expect(parsePriorityStatus(one(kPriorityStatus, 'list'))).toEqual([
      { function: 'otherfn', high: 1, normal: 4, low: 1, workers: 0 },
      { function: 'capfn', high: 0, normal: 0, low: 0, workers: 1 },
    ]);
  });

  it('parses workers with client ids, "-" for none, and connections without functions', () => {
    expect(parseWorkers(one(kWorkers, 'list'))).toEqual([
      { fd: 38, ip: '127.0.0.1', clientId: 'my worker:1', functions: ['fb', 'b', 'fa'] },
      { fd: 37, ip: '127.0.0.1', clientId: '-', functions: ['capfn'] },
      { fd: 39, ip: '127.0.0.1', clientId: '-', functions: [] },
    ]);
  });

  it('parses an empty client id (SET_CLIENT_ID with nothing)', () => {
    expect(parseWorkers(['40 127.0.0.1  : f'])).toEqual([
      { fd: 40, ip: '127.0.0.1', clientId: '', functions: ['f'] },
    ]);
  });

  it('parses show jobs flags as booleans', () => {
    const jobs = parseShowJobs(one(kShowJobs, 'list'));
    expect(jobs).toHaveLength(6);
    expect(jobs[0]).toEqual({ handle: 'H:vm:1', retries: 0, ignoreJob: false, queued: true });
    expect(jobs[2]).toEqual({ handle: 'H:vm:2', retries: 0, ignoreJob: true, queued: false });
  });

  it('parses show unique jobs as one id per line', () => {
    expect(parseShowUniqueJobs(one(kShowUniqueJobs, 'list'))).toEqual([
      '5c91a4fa-e99f-11f1-860d-02fc00000001',
      '5c93b600-e99f-11f1-b8ba-02fc00000001',
      'myuniq',
    ]);
  });

  it('parses an empty list as no rows', () => {
    expect(one(kEmptyList, 'list')).toEqual([]);
    expect(parseStatus([])).toEqual([]);
    expect(parseWorkers([])).toEqual([]);
  });

  it('parses version, getpid and verbose', () => {
    expect(parseVersion(one(kVersion, 'line'))).toBe('1.1.20+ds');
    expect(parseGetPid(one(kGetPid, 'line'))).toBe(9327);
    expect(parseVerbose(one(kVerbose, 'line'))).toBe('ERROR');
  });

  it('accepts a bare OK with its CRLF removed', () => {
    expect(one(kOk, 'line')).toEqual(['OK']);
    expect(parseOk('cancel job', ['OK'])).toBe('');
  });

  it('keeps a tab inside a function name, since the counts are read from the right', () => {
    expect(parseStatus(['odd\tname\t1\t0\t2'])).toEqual([
      { function: 'odd\tname', total: 1, running: 0, availableWorkers: 2 },
    ]);
  });
});

describe('admin ERR replies', () => {
  it('keeps a bare code', () => {
    const err = adminError(() => parseOk('cancel job', one(kErrUnknownJob, 'line')));
    expect(err.code).toBe(ErrorCode.ADMIN);
    expect(err.adminCode).toBe('UNKNOWN_JOB');
    expect(err.adminMessage).toBe('');
  });

  it("decodes the '+' gearmand puts for spaces", () => {
    const err = adminErrorFromLine(one(kErrArgs, 'line')[0] as string);
    expect(err.adminCode).toBe('INVALID_ARGUMENTS');
    expect(err.adminMessage).toBe('An incomplete set of arguments was sent to this command maxqueue');
    const unknown = adminErrorFromLine(one(kErrUnknownCommand, 'line')[0] as string);
    expect(unknown.adminCode).toBe('UNKNOWN_COMMAND');
    expect(unknown.adminMessage).toBe('Unknown server commandshutdown');
  });

  it('gives the free-text answers of drop function stable codes', () => {
    const notFound = adminError(() => parseOk('drop function', one(kErrNotFound, 'line')));
    expect(notFound.adminCode).toBe('FUNCTION_NOT_FOUND');
    expect(notFound.adminMessage).toBe('function not found');
    const inUse = adminError(() => parseOk('drop function', one(kErrInUse, 'line')));
    expect(inUse.adminCode).toBe('FUNCTION_IN_USE');
    expect(inUse.adminMessage).toBe('there are still connected workers or executing clients');
    expect(adminErrorFromLine('ERR something else happened').adminCode).toBe('ERR');
  });

  it('ends a list reply at a first-line ERR, as for a bad show', () => {
    const lines = one(kErrShow, 'list');
    expect(lines).toEqual(['ERR UNKNOWN_SHOW_ARGUMENTS']);
    expect(adminError(() => parseShowJobs(lines)).adminCode).toBe('UNKNOWN_SHOW_ARGUMENTS');
    expect(adminError(() => parseStatus(one(kErrUnknownCommand, 'list'))).adminCode).toBe('UNKNOWN_COMMAND');
  });
});

describe('malformed admin replies', () => {
  it('raise a ProtocolError naming the command and pointing at the bad line', () => {
    const cases: Array<() => unknown> = [
      () => parseStatus(['fn\t1\t2']),
      () => parseStatus(['fn\t1\tx\t2']),
      () => parsePriorityStatus(['fn\t1\t2\t3']),
      () => parseWorkers(['not a workers line']),
      () => parseShowJobs(['H:x:1\t0\t2\t1']),
      () => parseShowJobs(['H:x:1\t0\t0']),
      () => parseGetPid(['OK nope']),
      () => parseVersion(['OK']),
      () => parseVerbose(['1.1.20']),
      () => parseOk('create function', ['OK', 'extra']),
    ];
    for (const run of cases) expect(caught(run, ProtocolError).code).toBe(ErrorCode.PROTOCOL);
    const err = caught(() => parseStatus(['a\t1\t1\t1', 'b\t1\t1']), ProtocolError);
    expect(err.offset).toBe('a\t1\t1\t1\n'.length);
    expect(err.message).toContain('"status"');
  });
});

describe('admin reply framing', () => {
  const shapes: AdminReplyShape[] = ['list', 'list', 'line', 'line'];
  const expected = [
    ['38 127.0.0.1 my worker:1 : fb b fa', '37 127.0.0.1 - : capfn', '39 127.0.0.1 - :'],
    ['otherfn\t6\t0\t0', 'fb b\t0\t0\t1', 'capfn\t0\t0\t1', 'newf\t0\t0\t0', 'fa\t0\t0\t1'],
    ['OK'],
    ['OK'],
  ];

  it('splits pipelined replies by the shape of each command', () => {
    expect(readReplies(kPipelined, shapes)).toEqual(expected);
  });

  it('splits them the same way when the bytes arrive one at a time or in random chunks', () => {
    expect(readReplies(kPipelined, shapes, [1])).toEqual(expected);
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 50; round++) {
      const sizes = Array.from({ length: 8 }, () => 1 + (random() % 23));
      expect(readReplies(kPipelined, shapes, sizes)).toEqual(expected);
    }
  });

  it('refuses lines after a reply is complete', () => {
    const reader = new AdminReplyReader('line');
    expect(reader.push('OK')).toBe(true);
    expect(() => reader.push('OK')).toThrow();
  });
});

describe('admin command builders', () => {
  it('write the command lines gearmand expects, each with its reply shape', () => {
    const cases: Array<[{ line: string; shape: AdminReplyShape }, string, AdminReplyShape]> = [
      [statusCommand(), 'status', 'list'],
      [priorityStatusCommand(), 'prioritystatus', 'list'],
      [workersCommand(), 'workers', 'list'],
      [showJobsCommand(), 'show jobs', 'list'],
      [showUniqueJobsCommand(), 'show unique jobs', 'list'],
      [versionCommand(), 'version', 'line'],
      [getPidCommand(), 'getpid', 'line'],
      [verboseCommand(), 'verbose', 'line'],
      [maxQueueCommand('resize', 10), 'maxqueue resize 10', 'line'],
      [maxQueueCommand('resize', { high: 1, normal: 2, low: 0 }), 'maxqueue resize 1 2 0', 'line'],
      [cancelJobCommand('H:vm:7'), 'cancel job H:vm:7', 'line'],
      [createFunctionCommand('fresh'), 'create function fresh', 'line'],
      [dropFunctionCommand('stale'), 'drop function stale', 'line'],
    ];
    for (const [command, line, shape] of cases) {
      expect(command.line).toBe(line);
      expect(command.shape).toBe(shape);
      expect(replyShapeOf(line)).toBe(shape);
    }
  });

  it('end every command with CRLF, which create function needs to keep the whole name', () => {
    expect(encodeAdminCommand(createFunctionCommand('fresh')).toString('latin1')).toBe(
      'create function fresh\r\n',
    );
  });

  it('refuse names that would break the line or be split by the server', () => {
    expect(() => createFunctionCommand('')).toThrow(TypeError);
    expect(() => createFunctionCommand('two words')).toThrow(TypeError);
    expect(() => dropFunctionCommand('a\nstatus')).toThrow(TypeError);
    expect(() => cancelJobCommand('H:x:1\r')).toThrow(TypeError);
    expect(() => maxQueueCommand('f\0', 1)).toThrow(TypeError);
  });

  it('refuse queue sizes that are not integers from 0 to 2^31-1', () => {
    expect(() => maxQueueCommand('f', -1)).toThrow(RangeError);
    expect(() => maxQueueCommand('f', 1.5)).toThrow(RangeError);
    expect(() => maxQueueCommand('f', 2 ** 31)).toThrow(RangeError);
    expect(() => maxQueueCommand('f', { high: 1, normal: Number.NaN, low: 1 })).toThrow(RangeError);
    expect(maxQueueCommand('f', 0).line).toBe('maxqueue f 0');
  });

  it('give raw lines the shape gearmand gives them', () => {
    expect(rawCommand('STATUS').shape).toBe('list');
    expect(rawCommand('workers please').shape).toBe('list');
    expect(rawCommand('show nonsense').shape).toBe('list');
    expect(rawCommand('show').shape).toBe('line');
    expect(rawCommand('shutdown').shape).toBe('line');
    expect(rawCommand(' status').shape).toBe('line');
    expect(rawCommand('version').parse(['OK 1.1.20+ds'])).toEqual(['OK 1.1.20+ds']);
    expect(() => rawCommand('')).toThrow(TypeError);
    expect(() => rawCommand('status\r\nworkers')).toThrow(TypeError);
    expect(adminError(() => rawCommand('shutdown').parse(['ERR UNKNOWN_COMMAND x'])).adminCode).toBe(
      'UNKNOWN_COMMAND',
    );
  });
});
