// What `make run` shows on a fresh machine: the demo workspace's month of history on the
// dashboard, and, with the demo's developers at work, numbers that move without a reload.
import { test, expect } from './fixtures';
import path from 'node:path';
import { DevpulseServer, freePort } from './server';

let server: DevpulseServer;

test.beforeAll(async () => {
  const dataDir = path.resolve(__dirname, '..', '..', '.data', 'e2e-demo');
  server = new DevpulseServer(await freePort(), dataDir, { DEVPULSE_DEMO_LIVE: '1' });
  await server.start();
});

test.afterAll(async () => {
  await server?.stop();
});

test('the demo dashboard has a month of history and live numbers that move', async ({ page }) => {
  await page.goto(`${server.url}/login?next=%2F%3Frange%3D30d`);
  await page.locator('#tenant').fill('demo');
  await page.locator('#email').fill('admin@demo.test');
  await page.locator('#password').fill('demo-admin-pass');
  await page.locator('#sign-in').click();
  await page.waitForURL((u) => u.pathname === '/' && u.search === '?range=30d');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');
  // The history is written in the background after the server starts listening.
  await expect
    .poll(async () => Number(await page.locator('#kpi-active_people').getAttribute('data-value')), {
      timeout: 90_000,
    })
    .toBeGreaterThanOrEqual(8);
  await page.evaluate(() => ((window as any).__stillHere = true));
  const before = Number(await page.locator('#kpi-tool_executions').getAttribute('data-value'));
  await expect
    .poll(async () => Number(await page.locator('#kpi-tool_executions').getAttribute('data-value')), {
      timeout: 60_000,
    })
    .toBeGreaterThan(before);
  expect(await page.evaluate(() => (window as any).__stillHere)).toBe(true);
  await expect(page.locator('#chart-cost_over_time canvas')).toHaveCount(1);
  // Someone is at work right now.
  await expect
    .poll(async () => Number(await page.locator('#presence-counts').getAttribute('data-active')), {
      timeout: 60_000,
    })
    .toBeGreaterThan(0);
});
