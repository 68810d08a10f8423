import { expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { describeWithPeers } from '../helpers/peers.js';
import { eventually, sleep } from './helpers/conformance.js';
import { curl, curlStream } from './helpers/curl.js';
import { gate, gateway, open, request, worker } from './helpers/http-gateway.js';

describeWithPeers(['curl'], 'HTTP gateway: jobs', () => {
  it('runs a POSTed body as the workload and answers 200 with the result and the job handle', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('upper', (job) => job.payload.toString().toUpperCase());
    await w.start();
    const res = await curl(['--data-binary', 'hello http', url('/upper')]);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('HELLO HTTP');
    expect(res.headers['x-gearman-job-handle']).toMatch(/^H:t:\d+$/);
    expect(res.headers['x-gearman-command']).toBe('WORK_COMPLETE');
    expect(res.headers['content-length']).toBe('10');

    const put = await curl(['-X', 'PUT', '--data-binary', 'put body', url('/upper')]);
    expect([put.status, put.body.toString()]).toEqual([200, 'PUT BODY']);
    const get = await curl([url('/upper')]);
    expect([get.status, get.body.toString()]).toEqual([200, '']);
  });

  it('keeps binary payloads and results byte for byte, and percent-decodes the function name', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('rev bytes', (job) => Buffer.from(job.payload).reverse());
    await w.start();
    const payload = Buffer.from([0, 1, 2, 255, 0, 13, 10, 200]);
    const res = await curl(
      ['--data-binary', '@-', '-H', 'Content-Type: application/octet-stream', url('/rev%20bytes')],
      payload,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual(Buffer.from(payload).reverse());
  });

  it('streams WORK_DATA chunks as they arrive, then the result, with a WORK_COMPLETE trailer', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    const first = gate();
    const second = gate();
    w.register('stream', async (job) => {
      job.data('one,');
      await first.promise;
      job.data('two,');
      await second.promise;
      return 'done';
    });
    await w.start();
    const stream = curlStream(['--data-binary', 'x', url('/stream')]);
    // The worker is held after its first chunk: the chunk must be here before the job ends.
    await stream.waitFor('one,');
    expect(stream.received()).toBe('one,');
    first.open();
    await stream.waitFor('two,');
    expect(stream.received()).toBe('one,two,');
    second.open();
    expect(await stream.exited).toBe(0);
    expect(stream.received()).toBe('one,two,done');

    // The same through node:http, which exposes the trailer.
    const again = gate();
    w.register('stream2', async (job) => {
      job.data('a');
      await again.promise;
      return 'b';
    });
    const pending = request(url('/stream2'), { body: 'x' });
    await sleep(100);
    again.open();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['x-gearman-job-handle']).toMatch(/^H:t:/);
    expect(res.body).toBe('ab');
    expect(res.trailers['x-gearman-command']).toBe('WORK_COMPLETE');
  });

  it('gives an HTTP/1.0 client the data chunks and the result in one body with a Content-Length', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('chunks', (job) => {
      job.data('1');
      job.data('2');
      return '3';
    });
    w.register('chunks-then-fail', (job) => {
      job.data('partial');
      job.fail();
    });
    await w.start();
    const ok = await curl(['--http1.0', '--data-binary', 'x', url('/chunks')]);
    expect([ok.status, ok.body.toString(), ok.headers['content-length']]).toEqual([200, '123', '3']);
    // No chunked encoding to cut short: the failure still gets its status.
    const failed = await curl(['--http1.0', '--data-binary', 'x', url('/chunks-then-fail')]);
    expect(failed.status).toBe(502);
  });

  it('answers a background job 202 with its handle, and the worker runs it', async () => {
    const { port, url } = await gateway();
    const res = await curl(['-H', 'X-Gearman-Background: true', '--data-binary', 'later', url('/bg')]);
    expect(res.status).toBe(202);
    const handle = res.headers['x-gearman-job-handle'];
    expect(handle).toMatch(/^H:t:\d+$/);
    expect(res.headers['x-gearman-command']).toBe('JOB_CREATED');
    expect(res.body.toString()).toBe(`${handle}\n`);
    const seen: string[] = [];
    const w = worker(port);
    w.register('bg', (job) => {
      seen.push(`${job.handle} ${job.payload}`);
    });
    await w.start();
    await eventually(() => (seen.length === 1 ? true : undefined));
    expect(seen).toEqual([`${handle} later`]);
  });

  it('honours X-Gearman-Priority: high before normal before low', async () => {
    const { port, url } = await gateway();
    for (const [priority, body] of [
      ['low', 'L'],
      ['normal', 'N'],
      ['high', 'H'],
    ]) {
      const res = await curl([
        '-H',
        'X-Gearman-Background: true',
        '-H',
        `X-Gearman-Priority: ${priority}`,
        '--data-binary',
        body as string,
        url('/prio'),
      ]);
      expect(res.status).toBe(202);
    }
    const admin = new AdminClient({ server: `127.0.0.1:${port}` });
    open.push(admin);
    expect(await admin.priorityStatus()).toEqual([
      { function: 'prio', high: 1, normal: 1, low: 1, workers: 0 },
    ]);
    const order: string[] = [];
    const w = worker(port);
    w.register('prio', (job) => {
      order.push(job.payload.toString());
    });
    await w.start();
    await eventually(() => (order.length === 3 ? true : undefined));
    expect(order).toEqual(['H', 'N', 'L']);
  });

  it('coalesces identical concurrent bodies (unique "-" by default) and X-Gearman-Unique', async () => {
    const { port, url } = await gateway();
    let runs = 0;
    const release = gate();
    const w = worker(port, { maxJobs: 2 });
    w.register('slow', async (job) => {
      runs++;
      await release.promise;
      return `ran ${job.payload}`;
    });
    await w.start();
    const a = curl(['--data-binary', 'same', url('/slow')]);
    await eventually(() => (runs === 1 ? true : undefined));
    const b = curl(['--data-binary', 'same', url('/slow')]);
    // Same unique, other body: joins too, its body ignored (gearmand's rule).
    const c = curl(['-H', 'X-Gearman-Unique: k1', '--data-binary', 'first', url('/slow')]);
    await eventually(() => (runs === 2 ? true : undefined));
    const d = curl(['-H', 'X-Gearman-Unique: k1', '--data-binary', 'second', url('/slow')]);
    await sleep(200);
    release.open();
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
    expect(runs).toBe(2);
    expect([ra.body.toString(), rb.body.toString()]).toEqual(['ran same', 'ran same']);
    expect(ra.headers['x-gearman-job-handle']).toBe(rb.headers['x-gearman-job-handle']);
    expect([rc.body.toString(), rd.body.toString()]).toEqual(['ran first', 'ran first']);
    expect(rc.headers['x-gearman-job-handle']).toBe(rd.headers['x-gearman-job-handle']);
  });

  it('does not coalesce when X-Gearman-Unique is empty', async () => {
    const { port, url } = await gateway();
    let runs = 0;
    const w = worker(port, { maxJobs: 2 });
    w.register('count', async () => {
      runs++;
      await sleep(100);
      return String(runs);
    });
    await w.start();
    const results = await Promise.all([
      curl(['-H', 'X-Gearman-Unique;', '--data-binary', 'same', url('/count')]),
      curl(['-H', 'X-Gearman-Unique;', '--data-binary', 'same', url('/count')]),
    ]);
    expect(runs).toBe(2);
    expect(results[0]?.headers['x-gearman-job-handle']).not.toBe(results[1]?.headers['x-gearman-job-handle']);
  });

  it('joins a job a binary client submitted with the same unique', async () => {
    const { port, url } = await gateway();
    const release = gate();
    const w = worker(port);
    w.register('shared', async (job) => {
      await release.promise;
      return `result of ${job.payload}`;
    });
    await w.start();
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    open.push(client);
    const job = client.submit('shared', 'from binary', { unique: 'u-1' });
    const handle = await job.created;
    const viaHttp = curl(['-H', 'X-Gearman-Unique: u-1', '--data-binary', 'from http', url('/shared')]);
    await sleep(200);
    release.open();
    const res = await viaHttp;
    expect(res.headers['x-gearman-job-handle']).toBe(handle);
    expect(res.body.toString()).toBe('result of from binary');
    expect((await job.result).toString()).toBe('result of from binary');
  });
});

describeWithPeers(['curl'], 'HTTP gateway: result cache', () => {
  it('answers a repeated body from the result cache without running the job again', async () => {
    const { port, url } = await gateway({ resultCache: { ttlMs: 60_000 } });
    let runs = 0;
    const w = worker(port);
    w.register('cached', (job) => {
      runs++;
      return `run ${runs}: ${job.payload}`;
    });
    await w.start();
    const first = await curl(['--data-binary', 'same body', url('/cached')]);
    const second = await curl(['--data-binary', 'same body', url('/cached')]);
    expect([first.status, first.body.toString()]).toEqual([200, 'run 1: same body']);
    expect([second.status, second.body.toString()]).toEqual([200, 'run 1: same body']);
    expect(second.headers['x-gearman-job-handle']).toMatch(/^H:t:/);
    expect(runs).toBe(1);
  });
});

describeWithPeers(['curl'], 'HTTP gateway: connections and health', () => {
  it('answers GET / and HEAD / with a small health document', async () => {
    const { url } = await gateway();
    const res = await curl([url('/')]);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body.toString())).toMatchObject({ status: 'ok', jobs: 0, running: 0 });
    const head = await curl(['-I', url('/')]);
    expect([head.status, head.body.length > 0]).toEqual([200, true]); // -I prints the headers
  });

  it('keeps an HTTP/1.1 connection alive across requests', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('echo', (job) => job.payload);
    await w.start();
    const stats = ['-o', '/dev/null', '-w', '%{http_code} %{num_connects}\\n'];
    const res = await curl([
      ...stats,
      '-d',
      'a',
      url('/echo'),
      '--next',
      ...stats,
      '-d',
      'b',
      url('/echo'),
      '--next',
      ...stats,
      url('/'),
    ]);
    // The second and third transfers opened no connection of their own.
    expect(res.body.toString()).toBe('200 1\n200 0\n200 0\n');
  });

  it('refuses a body over httpMaxBodySize with 413, declared or chunked', async () => {
    const { port, url } = await gateway({ httpMaxBodySize: 1000 });
    const w = worker(port);
    w.register('size', (job) => String(job.payload.length));
    await w.start();
    const fits = await curl(['--data-binary', '@-', url('/size')], Buffer.alloc(1000, 97));
    expect([fits.status, fits.body.toString()]).toEqual([200, '1000']);
    const declared = await curl(['--data-binary', '@-', url('/size')], Buffer.alloc(5000, 97));
    expect(declared.status).toBe(413);
    const chunked = await curl(
      ['-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', url('/size')],
      Buffer.alloc(200_000, 97),
    );
    expect(chunked.status).toBe(413);
    // Big enough for curl to send Expect: 100-continue: refused before the body is sent.
    const expect100 = await curl(
      ['-H', 'Expect: 100-continue', '--data-binary', '@-', url('/size')],
      Buffer.alloc(2_000_000, 97),
    );
    expect(expect100.status).toBe(413);
  });

  it('serves a job that runs longer than the request timeout', async () => {
    const { port, url } = await gateway({ httpHeadersTimeoutMs: 200, httpRequestTimeoutMs: 300 });
    const w = worker(port);
    w.register('long', async () => {
      await sleep(1500);
      return 'finally';
    });
    await w.start();
    const res = await curl(['--data-binary', 'x', url('/long')]);
    expect([res.status, res.body.toString()]).toEqual([200, 'finally']);
  });
});
