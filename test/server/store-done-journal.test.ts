import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DoneJournal } from '../../src/server/done-journal.js';
import { openSqliteStore } from '../../src/server/sqlite-store.js';
import { type LogEntry, linesWith, recordingLogger } from '../helpers/recording-logger.js';
import { startServer } from './helpers/own-server.js';

let dir = '';
const journals: DoneJournal[] = [];

function journal(identity = 'db-1', slots = 4): DoneJournal {
  const opened = new DoneJournal(join(dir, 'jobs.db-done'), identity, slots);
  journals.push(opened);
  return opened;
}

function reopen(previous: DoneJournal, identity = 'db-1', slots = 4): DoneJournal {
  previous.close();
  journals.splice(journals.indexOf(previous), 1);
  return journal(identity, slots);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-journal-'));
});

afterEach(() => {
  for (const opened of journals.splice(0)) opened.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the done journal', () => {
  it('takes its whole space when it opens, so that a record needs none later', () => {
    journal('db-1', 100);
    expect(statSync(join(dir, 'jobs.db-done')).size).toBe(64 + 100 * 8);
  });

  it('keeps the keys it recorded across a reopen, and forgets them once cleared', () => {
    const first = journal();
    expect(first.record(7)).toBe(true);
    expect(first.record(2 ** 40)).toBe(true);
    expect(first.record(7)).toBe(true);
    const second = reopen(first);
    expect([...second.ended]).toEqual([7, 2 ** 40]);
    expect(second.dirty).toBe(true);
    second.clear();
    const third = reopen(second);
    expect([...third.ended]).toEqual([]);
    expect(third.dirty).toBe(false);
  });

  it('counts the ends it had no room for, and the count survives a reopen', () => {
    const first = journal('db-1', 2);
    expect([first.record(1), first.record(2), first.record(3), first.record(4)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const second = reopen(first, 'db-1', 2);
    expect([...second.ended]).toEqual([1, 2]);
    expect(second.unrecorded).toBe(2);
  });

  it('starts empty when it belongs to another database (the store file was replaced)', () => {
    const first = journal('db-1');
    first.record(1);
    const second = reopen(first, 'db-2');
    expect([...second.ended]).toEqual([]);
    expect(second.unrecorded).toBe(0);
  });
});

describe('a SQLite store without its done journal', () => {
  it('still opens and serves, and the server warns at start that full-disk ends could be replayed', async () => {
    mkdirSync(join(dir, 'jobs.db-done'));
    const lines: LogEntry[] = [];
    const store = openSqliteStore(join(dir, 'jobs.db'), { synchronous: 'normal' });
    await startServer({ store, logger: recordingLogger(lines) });
    const [warning] = linesWith(lines, 'run again after a restart');
    expect(warning?.level).toBe('warn');
    expect(warning?.obj).toMatchObject({ problem: expect.stringContaining('jobs.db-done') });
  });
});
