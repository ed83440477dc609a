// How fluid dragging is in the layout editor: a 20-widget board (every chart drawn), one
// widget carried across it by the mouse at 60 moves a second. Two figures: the renderer main
// thread's work per frame from Chromium's performance trace (what must stay under 16 ms),
// and the intervals between frames seen by requestAnimationFrame. The baseline is the same
// page in edit mode for the same time with the mouse still, measured in the same run.
// Prints figures; asserts nothing about speed.
import { test, Page, Browser } from '@playwright/test';
import path from 'node:path';
import { DevpulseServer, freePort } from '../tests/server';

const KINDS = [
  'cost_over_time', 'model_mix', 'tools', 'productivity', 'people', 'teams', 'projects',
  'heatmap', 'live', 'sessions',
];

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

/** Frame intervals (ms) while `act` runs. */
async function frames(page: Page, act: () => Promise<void>): Promise<number[]> {
  await page.evaluate(() => {
    const w = window as any;
    w.__frames = [];
    w.__recording = true;
    const tick = (t: number) => {
      w.__frames.push(t);
      if (w.__recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await act();
  const times: number[] = await page.evaluate(() => {
    const w = window as any;
    w.__recording = false;
    return w.__frames;
  });
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return gaps.sort((a, b) => a - b);
}

/**
 * The renderer main thread's busy time in each animation frame (ms) while `act` runs, from
 * Chromium's trace: the top-level tasks (RunTask) inside each AnimationFrame span, summed.
 */
async function work(browser: Browser, page: Page, act: () => Promise<void>): Promise<number[]> {
  await browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel'],
  });
  await act();
  const trace = JSON.parse((await browser.stopTracing()).toString('utf8'));
  const events: any[] = trace.traceEvents ?? trace;
  const mains = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const on = (m: any, e: any) => e.pid === m.pid && e.tid === m.tid;
  // The page's renderer is the one that drew the most frames.
  const spans = (m: any) => {
    const open = new Map<string, number>();
    const out: [number, number][] = [];
    for (const e of events) {
      if (!on(m, e) || e.name !== 'AnimationFrame') continue;
      const id = String(e.id2?.local ?? e.id2?.global ?? e.id);
      if (e.ph === 'b') open.set(id, e.ts);
      else if (e.ph === 'e' && open.has(id)) {
        out.push([open.get(id)!, e.ts]);
        open.delete(id);
      }
    }
    return out;
  };
  const main = mains.sort((a, b) => spans(b).length - spans(a).length)[0];
  if (!main) throw new Error('no renderer main thread in the trace');
  const frames = spans(main);
  const tasks = events.filter((e) => on(main, e) && e.ph === 'X' && e.name === 'RunTask');
  const busy = frames.map(([from, to]) =>
    tasks.reduce((sum, t) => {
      const overlap = Math.min(to, t.ts + (t.dur ?? 0)) - Math.max(from, t.ts);
      return sum + Math.max(0, overlap) / 1000;
    }, 0),
  );
  if (busy.length < 10) throw new Error(`only ${busy.length} frames in the trace`);
  return busy.sort((a, b) => a - b);
}

test('dragging over a 20-widget board', async ({ page, browser }) => {
  const server = new DevpulseServer(await freePort(), path.resolve(__dirname, '..', '..', '.data', 'bench-drag'));
  await server.start();
  try {
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'demo', email: 'admin@demo.test', password: 'demo-admin-pass' }),
    });
    const token = (await login.json()).access_token;
    const api = async (method: string, url: string, body: unknown) => {
      const r = await fetch(`${server.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`${url}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };
    const widgets = Array.from({ length: 20 }, (_, i) => ({
      key: `w${i}`,
      widget: KINDS[i % KINDS.length],
      x: (i % 3) * 8,
      y: Math.floor(i / 3) * 10,
      w: 8,
      h: 10,
    }));
    const board = await api('POST', '/api/v1/dashboard/config', { name: 'Twenty', document: { widgets } });
    await api('PUT', '/api/v1/dashboard/home', { board: board.id });

    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto(`${server.url}/login?next=%2F`);
    await page.locator('#tenant').fill('demo');
    await page.locator('#email').fill('admin@demo.test');
    await page.locator('#password').fill('demo-admin-pass');
    await page.locator('#sign-in').click();
    await page.waitForURL((u) => u.pathname === '/');
    await page.waitForSelector('body[data-hydrated="true"]');
    await page.waitForFunction(() => document.querySelectorAll('#board .widget').length === 20);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.chart')).every((b) => b.querySelector('canvas')),
    );
    const head = page.locator('#w-w0 .widget-head');
    // Across two thirds of the board and down three widgets, 120 moves at 60 a second,
    // starting wherever w0's header is now.
    const walk = async (drag: boolean) => {
      await head.scrollIntoViewIfNeeded();
      const box = (await head.boundingBox())!;
      const from = { x: box.x + 30, y: box.y + box.height / 2 };
      const dir = from.x > 700 ? -1 : 1;
      await page.mouse.move(from.x, from.y);
      if (drag) await page.mouse.down();
      for (let i = 1; i <= 120; i++) {
        if (drag) await page.mouse.move(from.x + dir * i * 5, from.y + i * 2.5);
        await page.waitForTimeout(16);
      }
      if (drag) await page.mouse.up();
    };
    await page.locator('#edit-layout').click();
    await walk(true); // warm-up
    await page.waitForTimeout(1_000);
    const before = await page.locator('#w-w0').getAttribute('data-place');
    // Both at once: the rAF loop keeps frames coming while the mouse is still, so the
    // baseline has as many frames to weigh as the drag.
    let baseline: number[] = [];
    let dragging: number[] = [];
    const stillWork = await work(browser, page, async () => {
      baseline = await frames(page, () => walk(false));
    });
    const dragWork = await work(browser, page, async () => {
      dragging = await frames(page, () => walk(true));
    });
    const after = await page.locator('#w-w0').getAttribute('data-place');
    if (after === before) throw new Error('the measured drag moved nothing');

    const line = (name: string, s: number[], base?: number[]) =>
      console.log(
        `  ${name.padEnd(36)} frames ${String(s.length).padStart(4)}  p50 ${pct(s, 0.5).toFixed(1).padStart(5)} ms` +
          `  p95 ${pct(s, 0.95).toFixed(1).padStart(5)} ms  max ${s[s.length - 1].toFixed(1).padStart(6)} ms` +
          `  missed (>25 ms): ${s.filter((g) => g > 25).length}` +
          (base ? `   p95 ${(pct(s, 0.95) / pct(base, 0.95)).toFixed(2)}x baseline` : ''),
      );
    console.log('\nLayout editor, 20 widgets, Chromium on localhost: main-thread work per frame (trace):');
    const over = (s: number[]) => `  over 16 ms: ${s.filter((g) => g > 16).length}`;
    const busyLine = (name: string, s: number[], base?: number[]) =>
      console.log(
        `  ${name.padEnd(36)} frames ${String(s.length).padStart(4)}  p50 ${pct(s, 0.5).toFixed(1).padStart(5)} ms` +
          `  p95 ${pct(s, 0.95).toFixed(1).padStart(5)} ms  max ${s[s.length - 1].toFixed(1).padStart(6)} ms` +
          over(s) +
          (base ? `   p95 ${(pct(s, 0.95) / Math.max(pct(base, 0.95), 0.01)).toFixed(2)}x baseline` : ''),
      );
    busyLine('edit mode, mouse still (baseline)', stillWork);
    busyLine('dragging a widget across it', dragWork, stillWork);
    console.log('Frame intervals (requestAnimationFrame):');
    line('edit mode, mouse still (baseline)', baseline);
    line('dragging a widget across it', dragging, baseline);
  } finally {
    await server.stop();
  }
});
