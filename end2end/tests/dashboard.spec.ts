// The dashboard, per role, against the fixtures sent through the real ingest endpoints: the
// numbers in the server's HTML match EXPECTED.json for the role's scope, the page hydrates,
// filters change the URL and the numbers, a session opens, an event sent during the test
// shows up without a reload; a manager never sees people outside their teams and a viewer
// never sees a person. Then accessibility, keyboard reach and widths in both themes.
import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DevpulseServer, freePort } from './server';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'testdata', 'fixtures');
const expected = JSON.parse(readFileSync(path.join(fixtures, 'EXPECTED.json'), 'utf8'));
const USERS = ['ana', 'bo', 'chen'] as const;
const RANGE = 'from=2025-08-01T00:00:00Z&to=2025-10-01T00:00:00Z';
const OPUS = 'claude-opus-4-1-20250805';

let server: DevpulseServer;
const keys: Record<string, string> = {};

function sum(users: readonly string[], key: string): number {
  return users.reduce((s, u) => s + expected.users[u][key], 0);
}

async function api(method: string, url: string, token: string, body?: unknown): Promise<any> {
  const r = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function token(email: string, password: string): Promise<string> {
  const r = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: 'demo', email, password }),
  });
  expect(r.status).toBe(200);
  return (await r.json()).access_token;
}

/** Posts every line of every fixture user's hooks and OTLP exports, 16 at a time. */
async function sendFixtures() {
  const requests: [string, string, string][] = [];
  const lines = (f: string) =>
    readFileSync(path.join(fixtures, f), 'utf8').split('\n').filter((l) => l.trim() !== '');
  for (const u of USERS) {
    for (const l of lines(`hooks/${u}.ndjson`)) requests.push(['/api/v1/hooks/claude-code', keys[u], l]);
    for (const l of lines(`otlp/logs-${u}.json`)) requests.push(['/v1/logs', keys[u], l]);
    for (const l of lines(`otlp/metrics-${u}.json`)) requests.push(['/v1/metrics', keys[u], l]);
  }
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const [p, key, body] = requests[next++];
      const r = await fetch(`${server.url}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
      if (r.status !== 200 && r.status !== 204) throw new Error(`${p}: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  // A fresh database each time: Playwright runs this again in a new worker after a failure.
  rmSync(path.join(root, '.data', 'e2e-dashboard'), { recursive: true, force: true });
  // The fixtures go in as fast as the test can send them, past the per-key request limit
  // that protects a real server from a runaway client.
  server = new DevpulseServer(await freePort(), path.join(root, '.data', 'e2e-dashboard'), {
    DEVPULSE_INGEST_KEY_RPS: '100000',
  });
  await server.start();
  const admin = await token('admin@demo.test', 'demo-admin-pass');
  for (const u of USERS) {
    await api('POST', '/api/v1/users', admin, {
      email: `${u}@demo.test`,
      role: 'developer',
      password: `${u}-password-123`,
    });
    const t = await token(`${u}@demo.test`, `${u}-password-123`);
    keys[u] = (await api('POST', '/api/v1/api-keys', t, { name: 'fixtures', scopes: ['ingest', 'read'] })).key;
  }
  await sendFixtures();
  // The demo's manager manages Platform; ana and bo join it, chen stays out.
  const teams = await api('GET', '/api/v1/teams', admin);
  const platform = teams.find((t: any) => t.name === 'Platform').id;
  const users = await api('GET', '/api/v1/users', admin);
  for (const u of ['ana', 'bo']) {
    const id = (users.users ?? users).find((x: any) => x.email === `${u}@demo.test`).id;
    await api('PUT', `/api/v1/teams/${platform}/members/${id}`, admin, {});
  }
});

test.afterAll(async () => {
  await server?.stop();
});

async function signIn(page: Page, email: string, password: string, next = '/') {
  await page.goto(`${server.url}/login?next=${encodeURIComponent(next)}`);
  await page.locator('#tenant').fill('demo');
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await page.locator('#sign-in').click();
  await page.waitForURL((u) => u.pathname !== '/login');
}

/** A tile's number as the server rendered it (no JavaScript involved). */
function tileIn(html: string, id: string): number {
  const m = html.match(new RegExp(`id="kpi-${id}"[^>]*data-value="([^"]+)"`));
  if (!m) throw new Error(`kpi-${id} missing from the server's HTML`);
  return Number(m[1]);
}

async function tile(page: Page, id: string): Promise<number> {
  return Number(await page.locator(`#kpi-${id}`).getAttribute('data-value'));
}

const ROLES = [
  { role: 'tenant_admin', email: 'admin@demo.test', password: 'demo-admin-pass', scope: USERS, named: true },
  { role: 'manager', email: 'manager@demo.test', password: 'demo-manager-pass', scope: ['ana', 'bo'], named: true },
  { role: 'developer', email: 'ana@demo.test', password: 'ana-password-123', scope: ['ana'], named: true },
  { role: 'viewer', email: 'viewer@demo.test', password: 'demo-viewer-pass', scope: USERS, named: false },
] as const;

for (const r of ROLES) {
  test(`${r.role}: the server renders the scope's numbers, and the page hydrates`, async ({ page }) => {
    await signIn(page, r.email, r.password, `/?${RANGE}`);
    await expect(page).toHaveURL(new RegExp(`/\\?${RANGE.replace(/[?]/g, '\\?')}$`));
    const html = await (await page.request.get(`${server.url}/?${RANGE}`)).text();
    expect(tileIn(html, 'cost')).toBeCloseTo(sum(r.scope, 'cost_usd'), 4);
    expect(tileIn(html, 'sessions')).toBe(sum(r.scope, 'sessions'));
    expect(tileIn(html, 'tool_executions')).toBe(sum(r.scope, 'tool_executions'));
    expect(tileIn(html, 'active_people')).toBe(r.scope.length);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator('#chart-cost_over_time canvas')).toHaveCount(1);

    const others = USERS.filter((u) => !(r.scope as readonly string[]).includes(u));
    const text = await page.locator('main').innerText();
    for (const u of others) expect(text).not.toContain(`${u}@demo.test`);
    if (r.named) {
      if (r.role !== 'developer') {
        const people = await page.locator('#w-people tbody tr th').allInnerTexts();
        expect(people.sort()).toEqual(r.scope.map((u) => `${u}@demo.test`));
      }
    } else {
      // Totals only: no person's table, series, session or name anywhere on the page.
      await expect(page.locator('#w-people')).toHaveCount(0);
      await expect(page.locator('#w-sessions')).toHaveCount(0);
      await expect(page.locator('#w-productivity')).toHaveCount(0);
      for (const u of USERS) expect(text).not.toContain(`${u}@demo.test`);
      await expect(page.locator('#w-cost_over_time-split option[value="person"]')).toHaveCount(0);
    }
  });
}

test('filters change the URL and the numbers; back restores them', async ({ page }) => {
  await signIn(page, 'admin@demo.test', 'demo-admin-pass', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  expect(await tile(page, 'cost')).toBeCloseTo(sum(USERS, 'cost_usd'), 4);
  await page.locator('#f-model').fill(OPUS);
  await page.locator('#apply-filters').click();
  await expect(page).toHaveURL(new RegExp(`model=${OPUS}`));
  // A shareable link says only what is set: no empty fields, no nameless "=".
  expect(new URL(page.url()).search, 'no empty parameters').not.toMatch(/(^\?|&)[^=&]*=(&|$)/);
  const opus = USERS.reduce((s, u) => s + (expected.users[u].by_model[OPUS]?.cost_usd ?? 0), 0);
  await expect.poll(() => tile(page, 'cost')).toBeCloseTo(opus, 4);
  await page.goBack();
  await expect.poll(() => tile(page, 'cost')).toBeCloseTo(sum(USERS, 'cost_usd'), 4);
  // A preset is a link that keeps the other filters.
  await page.locator('#range-7d').click();
  await expect(page).toHaveURL(/range=7d/);
  await expect(page.locator('#range-7d')).toHaveAttribute('aria-current', 'true');
});

test('the person picker lists the people in view and narrows to one', async ({ page }) => {
  await signIn(page, 'manager@demo.test', 'demo-manager-pass', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  // The manager's teams hold ana and bo: chen is not on offer.
  const offered = await page.locator('#f-person option').allInnerTexts();
  expect(offered).toContain('bo@demo.test');
  expect(offered).not.toContain('chen@demo.test');
  await page.locator('#f-person').selectOption({ label: 'bo@demo.test' });
  await page.locator('#apply-filters').click();
  await expect(page).toHaveURL(/person=/);
  await expect.poll(() => tile(page, 'cost')).toBeCloseTo(sum(['bo'], 'cost_usd'), 4);
  await expect(page.locator('#f-person option:checked')).toHaveText('bo@demo.test');
  // The model box suggests the models seen.
  expect(await page.locator('#dl-model option').count()).toBeGreaterThan(0);
});

test('a theme picked follows the person to another browser', async ({ page, browser }) => {
  await signIn(page, 'chen@demo.test', 'chen-password-123', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/profile/theme') && r.ok());
  await page.locator('#theme-toggle').click();
  await saved;
  const picked = await page.locator('html').getAttribute('data-theme');
  expect(['light', 'dark']).toContain(picked);

  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  await signIn(other, 'chen@demo.test', 'chen-password-123', `/?${RANGE}`);
  await expect(other.locator('html')).toHaveAttribute('data-theme', picked!);
  await elsewhere.close();
});

test('a session opens from the table with its timeline', async ({ page }) => {
  await signIn(page, 'ana@demo.test', 'ana-password-123', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#sessions-total')).toHaveAttribute('data-total', String(sum(['ana'], 'sessions')));
  const first = page.locator('#sessions-table tbody tr').first();
  const id = await first.getAttribute('data-session');
  // A click that lands while the widget is still hydrating can hit a node about to be
  // replaced; clicking again is what a person would do.
  await expect(async () => {
    await first.locator('a').click();
    await expect(page).toHaveURL(new RegExp(`/sessions/${id}$`), { timeout: 3_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator('#session-facts')).toHaveAttribute('data-session', id!);
  expect(await page.locator('#timeline tbody tr').count()).toBeGreaterThan(0);
});

test('an event sent while the page is open appears without a reload', async ({ page }) => {
  await signIn(page, 'manager@demo.test', 'demo-manager-pass', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');
  const before = await tile(page, 'tool_executions');
  await page.evaluate(() => ((window as any).__stillHere = true));
  await api('POST', '/api/v1/ingest/batch', keys.bo, [
    { type: 'tool_use', tool_name: 'Read', tool_use_id: 'e2e-live-1', session_id: 'e2e-live', timestamp: '2025-09-10T10:00:00Z' },
  ]);
  await expect.poll(() => tile(page, 'tool_executions')).toBe(before + 1);
  expect(await page.evaluate(() => (window as any).__stillHere)).toBe(true);
  await expect(page.locator('#live-events')).not.toHaveAttribute('data-count', '0');
});

test('no serious accessibility violations, keyboard reach, and no horizontal scroll at any width in either theme', async ({ page, context }) => {
  await signIn(page, 'admin@demo.test', 'demo-admin-pass', `/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const sessionHref = await page.locator('#sessions-table tbody a').first().getAttribute('href');
  const pages = [`/?${RANGE}`, sessionHref!, '/status', '/profile', '/api-keys', '/users', '/teams', '/forgot', '/audit'];
  for (const theme of ['dark', 'light']) {
    await context.addCookies([{ name: 'theme', value: theme, url: server.url }]);
    for (const p of pages) {
      await page.goto(`${server.url}${p}`);
      await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      const results = await new AxeBuilder({ page }).analyze();
      const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), `${theme} ${p}`).toEqual([]);
    }
    for (const width of [375, 768, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${server.url}/?${RANGE}`);
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${theme} at ${width}px`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: test.info().outputPath(`dashboard-${theme}-${width}.png`), fullPage: true });
      await page.goto(`${server.url}${sessionHref}`);
      await expect(page.locator('#timeline')).toBeVisible();
      const across = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(across, `session page, ${theme} at ${width}px`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: test.info().outputPath(`session-${theme}-${width}.png`) });
    }
  }

  // Keyboard alone: tabbing from the top reaches every control of the filter bar and each
  // widget's own controls.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.url}/?${RANGE}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const wanted = await page.evaluate(() =>
    Array.from(document.querySelectorAll('main [id]'))
      .filter((e) => e.matches('a[href], button:not([disabled]), select, input:not([type=hidden])'))
      .map((e) => e.id),
  );
  expect(wanted.length).toBeGreaterThan(20);
  const reached = new Set<string>();
  for (let i = 0; i < 600 && wanted.some((id) => !reached.has(id)); i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement?.id ?? '');
    if (id) reached.add(id);
  }
  expect(wanted.filter((id) => !reached.has(id))).toEqual([]);
});

test('assets come compressed, with cache lifetimes that fit their names', async ({ request }) => {
  const page = await (await request.get(`${server.url}/login`)).text();
  // The bundle is named under a digest of its files, so it is kept a year.
  const css = page.match(/href="(\/pkg\/[0-9a-f]{16}\/devpulse\.css)"/)![1];
  const wasmUrl = css.replace('devpulse.css', 'devpulse.wasm');
  expect(page).toContain(wasmUrl);
  const wasm = await request.get(`${server.url}${wasmUrl}`, { headers: { 'accept-encoding': 'br' } });
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()['content-encoding']).toBe('br');
  expect(wasm.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  const style = await request.get(`${server.url}${css}`);
  expect(style.headers()['content-type']).toContain('text/css');
  // Another build's address (a page from before a deploy) still loads, but is not kept.
  const other = await request.get(`${server.url}/pkg/0123456789abcdef/devpulse.wasm`);
  expect(other.status()).toBe(200);
  expect(other.headers()['cache-control']).toBe('no-cache');
  const echarts = page.match(/src="(\/echarts\.min\.js\?v=[^"]+)"/)![1];
  const js = await request.get(`${server.url}${echarts}`, { headers: { 'accept-encoding': 'gzip' } });
  expect(js.headers()['content-encoding']).toBe('gzip');
  expect(js.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
});
