import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Worker } from '../../src/worker/worker.js';
import { peersRequired } from '../helpers/peers.js';
import { type Controlled, startControlled } from '../supervisor/control-fixture.js';

/** Debian's Chromium (.ci/run installs it); playwright-core downloads no browser of its own. */
const kChromium = '/usr/bin/chromium';
const haveChromium = existsSync(kChromium);
const kToken = 'dashboard-token-0123456789';

const describeWithChromium = haveChromium || peersRequired ? describe : describe.skip;

describeWithChromium('dashboard in headless Chromium', () => {
  let context: BrowserContext;
  let profile: string;
  let setup: Controlled | undefined;
  let problems: string[] = [];

  beforeAll(async () => {
    if (!haveChromium)
      throw new Error(`GWORKER_REQUIRE_PEERS=1 but ${kChromium} is missing (apt-get install chromium)`);
    profile = mkdtempSync(path.join(tmpdir(), 'gworker-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: kChromium,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const page of context.pages()) await page.close();
    await setup?.close();
    setup = undefined;
    problems = [];
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    // A CSP violation or a script error would show up here: the page must run clean.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().includes('401')) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(url);
    return page;
  }

  const cell = (page: Page, fn: string, field: string) =>
    page.locator(`#functions tr[data-function="${fn}"] td[data-field="${field}"]`);

  it('shows live counters and a throughput chart, and pause keeps a job queued until resume', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text }\n  sleeps: { handler: $FIXTURES/sleeps.js, payload: text }\n',
    );
    const page = await open(`${setup.base}/`);
    await expect.poll(() => cell(page, 'echo', 'done').textContent(), { timeout: 10_000 }).toBe('0');
    await expect.poll(() => page.locator('#servers tbody tr').count()).toBe(2);
    expect(await page.locator('#token-form').isVisible()).toBe(false);
    expect(await page.locator('#draining').isVisible()).toBe(false);

    for (let i = 0; i < 5; i++) await setup.client.run('echo', `job ${i}`);
    await expect.poll(() => cell(page, 'echo', 'done').textContent(), { timeout: 10_000 }).toBe('5');
    expect(await cell(page, 'echo', 'p50Ms').textContent()).toMatch(/^[\d.]+ (µs|ms|s)$/);
    // The chart draws a line once the bucket holding the jobs is complete (2 s buckets, polled every 2 s).
    const line = page.locator('#throughput-chart path[data-series="echo"]');
    await expect.poll(() => line.count(), { timeout: 15_000 }).toBe(1);
    expect(await line.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    await expect
      .poll(() => page.locator('#latency-chart path[data-series="echo p95"]').count(), { timeout: 10_000 })
      .toBe(1);

    const toggle = page.locator('#functions tr[data-function="echo"] button[data-action="toggle"]');
    expect(await toggle.textContent()).toBe('Pause');
    await toggle.click();
    await expect.poll(() => cell(page, 'echo', 'state').textContent()).toBe('paused');
    expect(setup.supervisor.functions().find((f) => f.name === 'echo')?.paused).toBe(true);

    await setup.client.submitBackground('echo', 'waits');
    const admin = new AdminClient({ server: setup.gearman });
    try {
      await expect.poll(() => cell(page, 'echo', 'queued').textContent(), { timeout: 10_000 }).toBe('1');
      await new Promise((resolve) => setTimeout(resolve, 700)); // re-grab timers fire: still nothing taken
      expect((await admin.status()).find((r) => r.function === 'echo')).toMatchObject({
        total: 1,
        running: 0,
      });
      expect(await cell(page, 'echo', 'done').textContent()).toBe('5');

      expect(await toggle.textContent()).toBe('Resume');
      await toggle.click();
      await expect.poll(() => cell(page, 'echo', 'done').textContent(), { timeout: 10_000 }).toBe('6');
      expect(await cell(page, 'echo', 'state').textContent()).toBe('active');
      expect((await admin.status()).find((r) => r.function === 'echo')?.total).toBe(0);
    } finally {
      await admin.close();
    }
    expect(problems).toEqual([]);
  });

  /** Inside the concurrency cell: the slots, and how they are set. */
  const scaled = (page: Page, fn: string, field: 'slots' | 'scaling') =>
    page.locator(`#functions tr[data-function="${fn}"] td[data-field="concurrency"] [data-field="${field}"]`);

  // Issue 15: min / current / max and why it last changed; Auto ends a manual value.
  it('shows how each function is scaled and its last change, and Auto ends a manual value', async () => {
    setup = await startControlled(
      '  ranged: { handler: $FIXTURES/echo.js, concurrency: { min: 1, max: 3 } }\n  echo: { handler: $FIXTURES/echo.js }\n',
    );
    const page = await open(`${setup.base}/`);
    await expect
      .poll(() => scaled(page, 'ranged', 'scaling').textContent(), { timeout: 10_000 })
      .toBe('auto 1–3');
    expect(await scaled(page, 'echo', 'scaling').textContent()).toBe('fixed');
    const auto = page.locator('#functions tr[data-function="ranged"] button[data-action="auto"]');
    expect(await auto.isVisible()).toBe(false);
    await page.locator('#functions tr[data-function="ranged"] input[data-action="concurrency"]').fill('2');
    await page.locator('#functions tr[data-function="ranged"] button[data-action="scale"]').click();
    await expect.poll(() => scaled(page, 'ranged', 'scaling').textContent()).toBe('manual, 1–3');
    expect(await scaled(page, 'ranged', 'slots').textContent()).toBe('2');
    expect(await page.locator('#scalings li').first().textContent()).toMatch(
      /^ranged: 1 → 2 by manual at .+: set by hand \(gworker scale, the control API\)$/,
    );
    await auto.click();
    await expect.poll(() => scaled(page, 'ranged', 'scaling').textContent()).toBe('auto 1–3');
    expect(await auto.isVisible()).toBe(false);
    expect(setup.supervisor.functions().find((f) => f.name === 'ranged')?.scaling.mode).toBe('auto');
    expect(problems).toEqual([]);
  });

  // Issue 11, the dashboard bullet of "What the operator reads".
  it('reads well at 800 and 1280 px: duration axes, stable colours, burst scales, queues, errors, workers', async () => {
    setup = await startControlled(
      [
        '  echo: { handler: $FIXTURES/echo.js, payload: text }',
        '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text }',
        '  broken: { handler: $FIXTURES/type-error.js, payload: text }',
        '  shared: { handler: $FIXTURES/echo.js, payload: text }',
        '',
      ].join('\n'),
      // 200 ms buckets: enough of them fill in a few seconds for the burst to stand out.
      { history: { bucketMs: 200 }, queueSampleMs: 100, workers: { cacheMs: 1000 } },
    );
    const names = ['echo', 'sleeps', 'broken', 'shared'];
    // A plain library worker on another "box" serves one of the functions too.
    const other = new Worker({ servers: [setup.gearman], clientId: 'other-box' });
    other.register('shared', async (job) => job.payload);
    await other.start();
    try {
      const page = await context.newPage();
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await page.setViewportSize({ width: 800, height: 900 });
      const openedAt = Date.now();
      await page.goto(`${setup.base}/`);

      const colours = () =>
        Promise.all(
          names.map(async (fn) => {
            const stroke = await page
              .locator(`#throughput-chart path[data-series="${fn}"]`)
              .getAttribute('stroke', { timeout: 2000 });
            const swatch = await page
              .locator('#legend li', { hasText: new RegExp(`^${fn}$`) })
              .locator('rect')
              .getAttribute('fill', { timeout: 2000 });
            return `${fn} ${stroke} ${swatch}`;
          }),
        );
      await page.waitForTimeout(Math.max(0, 500 - (Date.now() - openedAt)));
      const early = await colours();
      expect(early.every((line) => !line.includes('null'))).toBe(true);
      expect(new Set(early.map((line) => line.split(' ')[1])).size).toBe(names.length);

      // At 800 px the page itself does not overflow: the wide table scrolls in its box.
      // A string: this project's types have no DOM, the page has.
      const pageWidth = () => page.evaluate<number>('document.documentElement.scrollWidth');
      expect(await pageWidth()).toBeLessThanOrEqual(800);
      const scale = page.locator('#functions tr[data-function="echo"] button[data-action="scale"]');
      await scale.scrollIntoViewIfNeeded();
      const box = await scale.boundingBox();
      expect(box !== null && box.x >= 0 && box.x + box.width <= 800).toBe(true);
      await page.screenshot({ path: '/tmp/gworker-dashboard-800-early.png' });

      // Steady traffic, one job about every bucket, then one burst.
      for (let i = 0; i < 20; i++) {
        await setup.client.run('echo', `steady ${i}`);
        await page.waitForTimeout(220);
      }
      expect(Date.now() - openedAt).toBeGreaterThan(3000);
      expect(await colours()).toEqual(early);
      await Promise.all(Array.from({ length: 60 }, (_, i) => setup?.client.run('echo', `burst ${i}`)));

      await setup.client.run('sleeps', '1100');
      await expect(setup.client.run('broken', 'p1')).rejects.toThrow();
      setup.supervisor.pause('sleeps');
      for (let i = 0; i < 2; i++) await setup.client.submitBackground('sleeps', '10');

      // Run-time axis: µs, ms or s, never "1.0kms".
      await expect
        .poll(() => page.locator('#latency-chart path[data-series="sleeps p95"]').count(), {
          timeout: 10_000,
        })
        .toBe(1);
      const ticks = await page.locator('#latency-chart text.tick').allTextContents();
      expect(ticks.join(' ')).not.toMatch(/k\s*ms/);
      for (const tick of ticks) expect(tick).toMatch(/^(0|[\d.]+ (µs|ms|s|min))$/);
      expect(ticks).toContain('2 s');

      // Queue depth from the job server: the paused function's two waiting jobs.
      // (The burst may have queued echo jobs too: the line's title tells the values its height shows.)
      await expect
        .poll(() => page.locator('#queue-chart path[data-series="sleeps"] title').textContent(), {
          timeout: 10_000,
        })
        .toBe('sleeps: latest 2, peak 2');

      // The last error, with its type and message.
      const error = page.locator('#errors tbody tr[data-function="broken"] td.message');
      await expect
        .poll(() => error.first().textContent(), { timeout: 10_000 })
        .toBe('TypeError: expected a JSON object, got "p1"');

      // Who serves each function: this supervisor everywhere, and the other box on "shared".
      const workerRows = async (fn: string) => {
        const rows = await page.locator(`#workers tbody tr[data-function="${fn}"]`).all();
        return Promise.all(
          rows.map(
            async (row) =>
              `${await row.getAttribute('data-self')} ${await row.locator('td').nth(2).textContent()}`,
          ),
        );
      };
      await expect.poll(() => workerRows('shared'), { timeout: 10_000 }).toHaveLength(2);
      const shared = await workerRows('shared');
      expect(shared[0]).toMatch(/^true gworker-\S+ this supervisor$/);
      expect(shared[1]).toBe('false other-box');
      expect(await workerRows('echo')).toEqual([shared[0]]);

      // The burst flattens the linear chart; clipped, it is cut and says so; log keeps both.
      const throughputTicks = () => page.locator('#throughput-chart text.tick').allTextContents();
      await expect
        .poll(async () => Number.parseFloat((await throughputTicks()).at(-1) ?? '0'), { timeout: 10_000 })
        .toBeGreaterThanOrEqual(50);
      await page.selectOption('#throughput-scale', 'clip');
      await expect.poll(() => page.locator('#throughput-chart text.clip-note').count()).toBe(1);
      expect(await page.locator('#throughput-chart text.clip-note').textContent()).toMatch(
        /^clipped at [\d.]+\/s · peak [\d.]+k?\/s$/,
      );
      expect(Number.parseFloat((await throughputTicks()).at(-1) ?? '')).toBeLessThanOrEqual(20);
      expect(await page.locator('#throughput-clip').textContent()).toMatch(/^one burst reached [\d.]+k?\/s$/);
      expect(await page.locator('#throughput-chart path[data-clipped="echo"]').count()).toBeGreaterThan(0);
      await page.screenshot({ path: '/tmp/gworker-dashboard-800.png', fullPage: true });

      await page.selectOption('#throughput-scale', 'log');
      await expect.poll(() => page.locator('#throughput-chart text.clip-note').count()).toBe(0);
      expect(await throughputTicks()).toEqual(expect.arrayContaining(['0/s', '1/s', '10/s', '100/s']));

      // At 1280 px the tables fit without scrolling.
      await page.setViewportSize({ width: 1280, height: 900 });
      const overflow = await page.evaluate<number[]>(
        "[...document.querySelectorAll('.table-wrap')].map((wrap) => wrap.scrollWidth - wrap.clientWidth)",
      );
      expect(overflow.map((extra) => Math.max(0, extra))).toEqual([0, 0, 0, 0]);
      expect(await pageWidth()).toBeLessThanOrEqual(1280);
      await page.screenshot({ path: '/tmp/gworker-dashboard-1280.png', fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await other.close({ force: true });
    }
  }, 60_000);

  it('scales a function from the page', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const page = await open(`${setup.base}/`);
    await expect.poll(() => scaled(page, 'echo', 'slots').textContent(), { timeout: 10_000 }).toBe('1');
    const row = page.locator('#functions tr[data-function="echo"]');
    await row.locator('input[data-action="concurrency"]').fill('3');
    await row.locator('button[data-action="scale"]').click();
    await expect.poll(() => scaled(page, 'echo', 'slots').textContent(), { timeout: 15_000 }).toBe('3');
    await expect.poll(() => cell(page, 'echo', 'threads').textContent()).toBe('3');
    // A scale resizes the serving generation in place: no reload.
    expect(await cell(page, 'echo', 'generation').textContent()).toBe('1');
    expect(setup.supervisor.functions()[0]).toMatchObject({ concurrency: 3, threads: 3, generation: 1 });
    expect(problems).toEqual([]);
  });

  it('asks for the token when the API needs one, and takes it from the address fragment', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n', {
      token: kToken,
    });
    const page = await open(`${setup.base}/`);
    await expect.poll(() => page.locator('#token-form').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('#functions tbody tr').count()).toBe(0);
    await page.locator('#token-input').fill(kToken);
    await page.locator('#token-form button').click();
    await expect.poll(() => cell(page, 'echo', 'done').textContent(), { timeout: 10_000 }).toBe('0');

    const fresh = await context.newPage();
    await fresh.goto(`${setup.base}/#token=${kToken}`);
    await expect.poll(() => cell(fresh, 'echo', 'state').textContent(), { timeout: 10_000 }).toBe('active');
    // The token leaves the address bar once read.
    expect(new URL(fresh.url()).hash).toBe('');
  });
});
