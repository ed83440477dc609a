import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { DevpulseServer, freePort } from './server';

let server: DevpulseServer;

test.beforeAll(async () => {
  const dataDir = path.resolve(__dirname, '..', '..', '.data', 'e2e');
  server = new DevpulseServer(await freePort(), dataDir);
  await server.start();
});

test.afterAll(async () => {
  await server?.stop();
});

async function pointsReceived(page: Page): Promise<number> {
  return Number(await page.locator('#points-received').getAttribute('data-count'));
}

test('the server renders the status page with data from PostgreSQL', async ({ request }) => {
  // The raw HTML, before any script runs.
  const res = await request.get(`${server.url}/status`);
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('id="status-database">reachable<');
  // Versions and the tenant count are for operators, not anonymous visitors.
  expect(html).not.toContain('status-postgres');
  expect(html).not.toContain('status-tenants');
  expect(html).toMatch(/<script src="\/echarts\.min\.js\?v=[0-9.]+">/);
  expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
});

test('the page hydrates, calls the server from the browser, and charts live points', async ({ page }) => {
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('ws://127.0.0.1')) foreign.push(r.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}/status`);
  await expect(page.locator('#status-database')).toHaveText('reachable');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  // Only works once hydrated: the click runs Rust in the browser, which calls the server
  // function over HTTP and re-renders.
  const uptimeBefore = Number(await page.locator('#status-uptime').getAttribute('data-seconds'));
  await page.waitForTimeout(1100);
  await page.locator('#refresh').click();
  await expect(page.locator('#refresh-count')).toHaveText('refreshed once');
  await expect
    .poll(async () => Number(await page.locator('#status-uptime').getAttribute('data-seconds')))
    .toBeGreaterThan(uptimeBefore);

  // The WebSocket feeds the chart.
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');
  const before = await pointsReceived(page);
  await expect.poll(() => pointsReceived(page), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 2);
  await expect(page.locator('#live-chart canvas')).toHaveCount(1);
  await expect(page.locator('#latest-point')).toContainText('tx/s');

  expect(foreign, 'nothing is loaded from other hosts').toEqual([]);
  expect(errors, 'no script errors').toEqual([]);
});

test('the live feed reconnects by itself after the server restarts', async ({ page }) => {
  await page.goto(`${server.url}/status`);
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');

  await server.stop();
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'reconnecting');
  await expect(page.locator('#link-state')).toContainText('Reconnecting');

  await server.start();
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected', { timeout: 45_000 });
  const after = await pointsReceived(page);
  await expect.poll(() => pointsReceived(page), { timeout: 10_000 }).toBeGreaterThan(after);
});

test('the API reference is one accessible page, usable at 375 px, linking operations to schemas', async ({ browser }) => {
  for (const [width, colorScheme] of [[375, 'light'], [1280, 'dark']] as const) {
    const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme });
    const page = await context.newPage();
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) outside.push(r.url());
    });
    await page.goto(`${server.url}/api/docs`);
    await expect(page.locator('h1')).toContainText('devpulse API');
    const overview = page.locator('article[aria-labelledby="op-get-api-v1-dashboard-overview"]');
    await expect(overview).toContainText('metrics.view_all');
    // A parameter's type leads to its schema's entry.
    await overview.getByRole('link', { name: 'Preset', exact: true }).click();
    await expect(page).toHaveURL(/#schema-Preset$/);
    await expect(page.locator('#schema-Preset')).toBeInViewport();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  }
});
