import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
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
    expect(await cell(page, 'echo', 'p50Ms').textContent()).toMatch(/ms$/);
    // The chart draws a line once the bucket holding the jobs is complete (2 s buckets, polled every 2 s).
    const line = page.locator('#throughput-chart path[data-series="echo"]');
    await expect.poll(() => line.count(), { timeout: 15_000 }).toBe(1);
    expect(await line.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    await expect.poll(() => page.locator('#latency-chart path[data-series="echo p95"]').count()).toBe(1);

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

  it('scales a function from the page', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const page = await open(`${setup.base}/`);
    await expect.poll(() => cell(page, 'echo', 'concurrency').textContent(), { timeout: 10_000 }).toBe('1');
    const row = page.locator('#functions tr[data-function="echo"]');
    await row.locator('input[data-action="concurrency"]').fill('3');
    await row.locator('button[data-action="scale"]').click();
    await expect.poll(() => cell(page, 'echo', 'concurrency').textContent(), { timeout: 15_000 }).toBe('3');
    await expect.poll(() => cell(page, 'echo', 'threads').textContent()).toBe('3');
    expect(await cell(page, 'echo', 'generation').textContent()).toBe('2');
    expect(setup.supervisor.functions()[0]).toMatchObject({ concurrency: 3, threads: 3 });
    expect(await page.locator('#reloads li').first().textContent()).toMatch(/^echo: generation 2 at /);
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
