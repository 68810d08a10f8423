import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { ManifestError } from '../../src/supervisor/manifest/errors.js';
import { loadManifest, parseManifest } from '../../src/supervisor/manifest/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gworker-manifest-'));
writeFileSync(path.join(dir, 'title.js'), 'export default (s) => s;\n');
writeFileSync(path.join(dir, 'ca.pem'), 'CA');
writeFileSync(path.join(dir, 'c.pem'), 'CERT');
writeFileSync(path.join(dir, 'k.pem'), 'KEY');
const file = path.join(dir, 'gworker.yaml');

function parse(text: string, env: NodeJS.ProcessEnv = {}) {
  return parseManifest(text, file, { env });
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).code).toBe(ErrorCode.MANIFEST);
    return (err as ManifestError).issues;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('manifest', () => {
  it('resolves a full manifest with defaults and paths relative to the file', () => {
    const manifest = parse(`
servers:
  - 127.0.0.1:4730
  - { host: gear2, port: 4731, connections: 4, tls: { ca: ca.pem, cert: c.pem, key: k.pem } }
connections: 3
clientId: compute-01
shutdownTimeout: 10s
functions:
  title:
    handler: ./title.js
    concurrency: 4
    payload: text
    timeout: 1.5s
    maxJobsPerThread: 10000
    maxMemoryMb: 512
  ls:
    command: [ls, -lh]
    exceptions: false
`);
    expect(manifest.servers).toEqual([
      { host: '127.0.0.1', port: 4730, connections: 3 },
      {
        host: 'gear2',
        port: 4731,
        connections: 4,
        tls: { ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') },
      },
    ]);
    expect(manifest.clientId).toBe('compute-01');
    expect(manifest.shutdownTimeoutMs).toBe(10_000);
    expect(manifest.functions).toEqual([
      {
        name: 'title',
        kind: 'module',
        handler: path.join(dir, 'title.js'),
        export: 'default',
        concurrency: 4,
        payload: 'text',
        exceptions: true,
        maxResultSize: 32 * 1024 * 1024,
        timeoutMs: 1500,
        maxJobsPerThread: 10000,
        maxMemoryMb: 512,
        jobsPerThread: 1,
        prefetch: 0,
      },
      {
        name: 'ls',
        kind: 'command',
        command: ['ls', '-lh'],
        cwd: dir,
        env: {},
        output: 'result',
        concurrency: 1,
        payload: 'buffer',
        exceptions: false,
        maxResultSize: 32 * 1024 * 1024,
      },
    ]);
  });

  it('runs the embedded server when no servers are named', () => {
    const manifest = parse('functions:\n  ls:\n    command: ls -lh\n');
    expect(manifest.servers).toBeNull();
    expect(manifest.embeddedServer).toEqual({ host: '127.0.0.1', port: 4730 });
    expect(manifest.functions[0]).toMatchObject({ command: ['/bin/sh', '-c', 'ls -lh'] });
  });

  it('lets GWORKER_SERVERS replace the servers list', () => {
    const manifest = parse('functions:\n  ls:\n    command: [ls]\n', { GWORKER_SERVERS: 'h1:4730,h2:4740' });
    expect(manifest.servers).toEqual([
      { host: 'h1', port: 4730, connections: 2 },
      { host: 'h2', port: 4740, connections: 2 },
    ]);
  });

  it('reports every problem at once with line, column, path and what was expected', () => {
    const issues = issuesOf(`servers:
  - "nohost:99999"
connections: zero
functions:
  title:
    handler: ./missing.js
    concurreny: 4
    timeout: 30
  bad:
    handler: ./title.js
    payload: xml
    timeout: soon
`);
    const summary = issues.map((i) => `${i.line}:${i.column} ${i.path}`);
    expect(summary).toEqual([
      '2:5 servers[0]',
      '3:14 connections',
      '6:14 functions.title.handler',
      '7:5 functions.title.concurreny',
      '8:14 functions.title.timeout',
      '11:14 functions.bad.payload',
      '12:14 functions.bad.timeout',
    ]);
    expect(issues.every((i) => i.file === file)).toBe(true);
    expect(issues[3]?.message).toContain('did you mean "concurrency"');
    expect(issues[2]?.message).toContain('handler file not found');
    expect(issues[4]?.message).toBe('add a unit: 30s or 30ms');
    expect(issues[6]?.message).toContain('expected a duration');
  });

  it('reports YAML syntax errors with their position', () => {
    const issues = issuesOf('functions:\n  title: [unclosed\n');
    expect(issues[0]?.message).toMatch(/^YAML syntax/);
    expect(issues[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('refuses a function with both or neither of handler and command', () => {
    const issues = issuesOf(
      'functions:\n  a:\n    concurrency: 1\n  b:\n    handler: ./title.js\n    command: [ls]\n',
    );
    expect(issues.map((i) => i.path)).toEqual(['functions.a', 'functions.b']);
  });

  it('refuses settings that belong to the other kind of function', () => {
    const issues = issuesOf('functions:\n  ls:\n    command: [ls]\n    jobsPerThread: 4\n');
    expect(issues[0]).toMatchObject({ path: 'functions.ls.jobsPerThread', line: 4, column: 5 });
  });

  it('reads prefetch for handler functions only, from 0 up', () => {
    const manifest = parseManifest(
      `functions:\n  t:\n    handler: ${JSON.stringify(path.join(dir, 'title.js'))}\n    prefetch: 2\n`,
      path.join(dir, 'gworker.yaml'),
    );
    expect(manifest.functions[0]).toMatchObject({ name: 't', prefetch: 2 });
    const issues = issuesOf(
      'functions:\n  t:\n    handler: ./title.js\n    prefetch: -1\n  ls:\n    command: [ls]\n    prefetch: 1\n',
    );
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['functions.t.prefetch', 4],
      ['functions.ls.prefetch', 7],
    ]);
  });

  it('reads minThreads and idleTimeout for handler functions, and refuses bad ones where they are', () => {
    const manifest = parseManifest(
      `functions:\n  t:\n    handler: ${JSON.stringify(path.join(dir, 'title.js'))}\n    minThreads: 1\n    idleTimeout: 2m\n`,
      path.join(dir, 'gworker.yaml'),
    );
    expect(manifest.functions[0]).toMatchObject({ name: 't', minThreads: 1, idleTimeoutMs: 120_000 });
    const issues = issuesOf(
      'functions:\n  t:\n    handler: ./title.js\n    minThreads: -1\n    idleTimeout: 30\n  u:\n    handler: ./title.js\n    idleTimeout: 0s\n  ls:\n    command: [ls]\n    minThreads: 1\n',
    );
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['functions.t.minThreads', 4],
      ['functions.t.idleTimeout', 5],
      ['functions.u.idleTimeout', 8],
      ['functions.ls.minThreads', 11],
    ]);
    expect(issues[1]?.message).toMatch(/unit/);
    expect(issues[2]?.message).toMatch(/1ms or more/);
    const tooMany = issuesOf(
      'functions:\n  t:\n    handler: ./title.js\n    concurrency: 4\n    jobsPerThread: 2\n    minThreads: 3\n',
    );
    expect(tooMany.map((i) => [i.path, i.line])).toEqual([['functions.t.minThreads', 6]]);
    expect(tooMany[0]?.message).toMatch(/at most 2/);
  });

  it('reads maxOutput for command functions as a size: bytes, KiB, MiB or GiB', () => {
    const manifest = parse(
      'functions:\n  a: { command: [ls], maxOutput: 8MiB }\n  b: { command: [ls], maxOutput: 65536 }\n  c: { command: [ls] }\n',
    );
    expect(manifest.functions.map((fn) => (fn.kind === 'command' ? fn.maxOutputBytes : null))).toEqual([
      8 * 1024 * 1024,
      65536,
      undefined,
    ]);
    const issues = issuesOf(
      'functions:\n  a: { command: [ls], maxOutput: lots }\n  b: { command: [ls], maxOutput: 0 }\n  t: { handler: ./title.js, maxOutput: 1MiB }\n',
    );
    expect(issues.map((i) => [i.path, i.line, i.message])).toEqual([
      ['functions.a.maxOutput', 2, 'expected a size such as 64MiB, 512KiB or 65536 (bytes), got "lots"'],
      ['functions.b.maxOutput', 3, 'expected a size of 1B or more, got 0B'],
      ['functions.t.maxOutput', 4, '"maxOutput" does not apply to a module function'],
    ]);
  });

  it('takes maxResultSize at the top level and per function, in bytes or with a unit', () => {
    const manifest = parse(
      'maxResultSize: 8MiB\nfunctions:\n  a:\n    command: [ls]\n  b:\n    command: [ls]\n    maxResultSize: 512KiB\n' +
        '  c:\n    command: [ls]\n    maxResultSize: 1000\n  d:\n    command: [ls]\n    maxResultSize: 1.5 MB\n',
    );
    expect(manifest.functions.map((f) => f.maxResultSize)).toEqual([
      8 * 1024 ** 2,
      512 * 1024,
      1000,
      1_500_000,
    ]);
    const issues = issuesOf(
      'maxResultSize: lots\nfunctions:\n  a:\n    command: [ls]\n    maxResultSize: 0\n' +
        '  b:\n    command: [ls]\n    maxResultSize: 2GiB\n  c:\n    command: [ls]\n    maxResultSize: 1.5B\n',
    );
    expect(issues.map((i) => [i.path, i.line, i.message])).toEqual([
      ['maxResultSize', 1, 'expected a size such as 64MiB, 512KiB or 65536 (bytes), got "lots"'],
      ['functions.a.maxResultSize', 5, 'expected a size from 1B to 1GiB, got 0B'],
      ['functions.b.maxResultSize', 8, 'expected a size from 1B to 1GiB, got 2GiB'],
      [
        'functions.c.maxResultSize',
        11,
        'expected a size such as 64MiB, 512KiB or 65536 (bytes), got "1.5B" (not a whole number of bytes)',
      ],
    ]);
  });

  it('names a missing manifest file', async () => {
    await expect(loadManifest(path.join(dir, 'nope.yaml'))).rejects.toMatchObject({
      code: ErrorCode.MANIFEST,
      issues: [expect.objectContaining({ message: 'cannot read the manifest: file not found' })],
    });
  });
});

describe('manifest control setting', () => {
  const fns = 'functions:\n  t:\n    handler: ./title.js\n';

  it('accepts the top-level exceptions default next to it', () => {
    expect(parse(`exceptions: false\ncontrol: false\n${fns}`).functions[0]?.exceptions).toBe(false);
  });

  it('listens on 127.0.0.1:4731 by default, with no token', () => {
    expect(parse(fns).control).toEqual({
      listen: { kind: 'tcp', host: '127.0.0.1', port: 4731 },
      explicit: false,
    });
  });

  it('takes an address, a port, a Unix socket path relative to the manifest, or false', () => {
    expect(parse(`control: 127.0.0.2:9000\n${fns}`).control).toEqual({
      listen: { kind: 'tcp', host: '127.0.0.2', port: 9000 },
      explicit: true,
    });
    expect(parse(`control: 0\n${fns}`).control.listen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    expect(parse(`control: ./run/ctl.sock\n${fns}`).control.listen).toEqual({
      kind: 'unix',
      path: path.join(dir, 'run/ctl.sock'),
    });
    expect(parse(`control: false\n${fns}`).control.listen).toBeNull();
    expect(parse(`control:\n  listen: false\n${fns}`).control.listen).toBeNull();
  });

  it('takes a token inline or from a file, and then may listen beyond loopback', () => {
    writeFileSync(path.join(dir, 'control.token'), 'from-a-file-0123456789\n');
    expect(
      parse(`control:\n  listen: 0.0.0.0:4731\n  token: inline-token-0123456789\n${fns}`).control,
    ).toEqual({
      listen: { kind: 'tcp', host: '0.0.0.0', port: 4731 },
      token: 'inline-token-0123456789',
      explicit: true,
    });
    expect(parse(`control:\n  listen: 192.0.2.7:80\n  tokenFile: control.token\n${fns}`).control.token).toBe(
      'from-a-file-0123456789',
    );
    // A token on the default address: it stays on loopback and asks for the token.
    expect(parse(`control:\n  token: inline-token-0123456789\n${fns}`).control).toMatchObject({
      listen: { host: '127.0.0.1', port: 4731 },
      explicit: false,
    });
  });

  it('refuses an address other hosts can reach without a token, at its line and column', () => {
    expect(issuesOf(`control: 0.0.0.0:4731\n${fns}`)).toEqual([
      expect.objectContaining({ line: 1, column: 10, path: 'control' }),
    ]);
    const issues = issuesOf(`control:\n  listen: "gear.example:4731"\n${fns}`);
    expect(issues).toEqual([expect.objectContaining({ line: 2, column: 11, path: 'control.listen' })]);
    expect(issues[0]?.message).toContain('set control.token');
  });

  it('reports bad addresses, short tokens, missing token files and unknown keys', () => {
    const issues = issuesOf(`control:
  listen: "nohost:"
  token: short
  tokenFile: missing.token
  tls: true
${fns}`);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      '2:11 control.listen',
      '3:10 control.token',
      '4:14 control.tokenFile',
      '4:14 control.tokenFile',
      '5:3 control.tls',
    ]);
    expect(issues[1]?.message).toContain('at least 16 characters');
    expect(issues.map((i) => i.message)).toContain(`file not found: ${path.join(dir, 'missing.token')}`);
  });
});

describe('manifest embeddedServer', () => {
  it('takes a mapping with the store, the HTTP gateway and the result cache', () => {
    const manifest = parse(
      'embeddedServer:\n  listen: 127.0.0.1:0\n  store: ./jobs.sqlite\n  httpPort: 8088\n  resultCache: 30s\nfunctions:\n  ls: { command: [ls] }\n',
    );
    expect(manifest.embeddedServer).toEqual({
      host: '127.0.0.1',
      port: 0,
      store: path.join(dir, 'jobs.sqlite'),
      httpPort: 8088,
      resultCacheMs: 30_000,
    });
  });

  it('points at a wrong embeddedServer setting', () => {
    const issues = issuesOf(
      'embeddedServer:\n  listen: nowhere\n  cache: 1\nfunctions:\n  ls: { command: [ls] }\n',
    );
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      '2:11 embeddedServer.listen',
      '3:3 embeddedServer.cache',
    ]);
  });

  it('takes maxRunning caps per function and points at a bad one', () => {
    const manifest = parse(
      'embeddedServer:\n  listen: 0\n  maxRunning: { resize: 2, fetch: 10 }\nfunctions:\n  ls: { command: [ls] }\n',
    );
    expect(manifest.embeddedServer.maxRunning).toEqual({ resize: 2, fetch: 10 });
    const issues = issuesOf(
      'embeddedServer:\n  maxRunning: { resize: 0, fetch: lots }\nfunctions:\n  ls: { command: [ls] }\n',
    );
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      '2:25 embeddedServer.maxRunning.resize',
      '2:35 embeddedServer.maxRunning.fetch',
    ]);
  });
});
