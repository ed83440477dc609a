// How long the dashboard takes in Chromium on localhost, from navigation to hydrated, and to
// every chart drawn, over the demo workspace's month; the baseline is the status page (the same
// WASM, one chart) measured in the same run. Prints figures; asserts nothing about speed.
import { test, Page } from '@playwright/test';
import path from 'node:path';
import { DevpulseServer, freePort } from '../tests/server';

const RUNS = Number(process.env.RUNS ?? 10);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

async function timeLoad(page: Page, url: string): Promise<[number, number]> {
  const start = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const hydrated = Date.now() - start;
  await page.waitForFunction(
    () => {
      const boxes = document.querySelectorAll('.chart');
      return boxes.length > 0 && Array.from(boxes).every((b) => b.querySelector('canvas'));
    },
    undefined,
    { timeout: 60_000 },
  );
  return [hydrated, Date.now() - start];
}

test('dashboard hydration and charts', async ({ page }) => {
  const server = new DevpulseServer(await freePort(), path.resolve(__dirname, '..', '..', '.data', 'bench-hydration'));
  await server.start();
  try {
    await page.goto(`${server.url}/login?next=%2F`);
    await page.locator('#tenant').fill('demo');
    await page.locator('#email').fill('admin@demo.test');
    await page.locator('#password').fill('demo-admin-pass');
    await page.locator('#sign-in').click();
    await page.waitForURL((u) => u.pathname === '/');
    // Wait for the month of demo history to be written.
    await page.waitForFunction(
      () => Number(document.querySelector('#kpi-active_people')?.getAttribute('data-value')) >= 8,
      undefined,
      { timeout: 120_000, polling: 2_000 },
    ).catch(async () => {
      for (let i = 0; i < 60; i++) {
        await page.reload();
        const n = Number(await page.locator('#kpi-active_people').getAttribute('data-value'));
        if (n >= 8) return;
        await page.waitForTimeout(2_000);
      }
    });
    const measure = async (url: string) => {
      const h: number[] = [];
      const c: number[] = [];
      await timeLoad(page, url); // warm-up
      for (let i = 0; i < RUNS; i++) {
        const [a, b] = await timeLoad(page, url);
        h.push(a);
        c.push(b);
      }
      h.sort((x, y) => x - y);
      c.sort((x, y) => x - y);
      return { h, c };
    };
    const status = await measure(`${server.url}/status`);
    const dash = await measure(`${server.url}/?range=30d`);
    const line = (name: string, s: number[], base?: number[]) =>
      console.log(
        `  ${name.padEnd(40)} p50 ${String(pct(s, 0.5)).padStart(5)} ms  p95 ${String(pct(s, 0.95)).padStart(5)} ms` +
          (base ? `   p95 ${(pct(s, 0.95) / pct(base, 0.95)).toFixed(2)}x baseline` : ''),
      );
    console.log(`\nChromium on localhost, ${RUNS} loads each (after one warm-up):`);
    line('status page hydrated (baseline)', status.h);
    line('status page, chart drawn', status.c);
    line('dashboard (30 days) hydrated', dash.h, status.h);
    line('dashboard (30 days), every chart drawn', dash.c, status.c);
  } finally {
    await server.stop();
  }
});
