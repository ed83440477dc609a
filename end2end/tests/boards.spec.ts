// Dashboards as documents, as people use them: a widget configured in its panel (its own
// title, chart, range and filters, which its reads then use), boards made, renamed,
// duplicated, exported, imported and deleted from the menu; a workspace board an admin
// publishes for managers and shares with a team, reaching a manager who joins later and a
// viewer in that team but no other viewer; the kiosk (TV) mode cycling between boards; and
// the print stylesheet.
import { test, expect } from './fixtures';
import type { Page, Browser } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { DemoSite } from './demo-site';

const site = new DemoSite('e2e-boards');
const signIn = (page: Page, email?: string, password?: string) => site.signIn(page, email, password);
const token = (email: string, password: string) => site.token(email, password);

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

async function api(tok: string, method: string, url: string, body?: unknown): Promise<any> {
  const r = await fetch(`${site.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  expect(r.status, `${method} ${url}: ${text}`).toBeLessThan(300);
  return text ? JSON.parse(text) : null;
}

/** The name of the board the picker shows. */
/** The board the menu shows as picked; a locator, so assertions on it wait for the page. */
function picked(page: Page) {
  return page.locator('#board-pick option:checked');
}

async function serious(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`);
}

test.describe.configure({ mode: 'serial' });

test('a widget configured in its panel reads with its own settings, and they persist', async ({ page }) => {
  await signIn(page);
  await page.locator('#edit-layout').click();
  await page.locator('#w-cost_over_time-configure').click();
  const panel = page.locator('#widget-config');
  await expect(panel).toBeVisible();
  await expect(page.locator('#cfg-title')).toBeFocused();
  expect(await serious(page)).toEqual([]);
  // Escape closes it, and focus goes back to the button that opened it.
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);
  await expect(page.locator('#w-cost_over_time-configure')).toBeFocused();

  await page.keyboard.press('Enter');
  await page.locator('#cfg-title').fill('Spend this week');
  await page.locator('#cfg-split').selectOption('project');
  await page.locator('#cfg-chart').selectOption('line');
  await page.locator('#cfg-range').selectOption('7d');
  await page.locator('#cfg-model').fill('claude-sonnet-4-5');
  // Its reads carry its own range and model over the page's.
  const read = page.waitForRequest(
    (r) => r.url().includes('/api/dashboard/series') && /range%3D7d.*model%3Dclaude-sonnet-4-5/.test(r.postData() ?? ''),
  );
  await page.locator('#cfg-apply').click();
  await read;
  await expect(panel).toHaveCount(0);
  await expect(page.locator('#w-cost_over_time-title')).toHaveText('Spend this week');
  await expect(page.locator('#w-cost_over_time-own')).toHaveText('Own settings: Last 7 days · model claude-sonnet-4-5');
  await expect(page.locator('#w-cost_over_time-split')).toHaveValue('project');
  await expect(page.locator('#layout-status')).toContainText('Settings of Spend this week changed');
  // Undo covers settings too.
  await page.locator('#undo-layout').click();
  await expect(page.locator('#w-cost_over_time-title')).toHaveText('Cost and tokens over time');
  await page.locator('#redo-layout').click();
  await expect(page.locator('#w-cost_over_time-title')).toHaveText('Spend this week');
  await page.locator('#save-layout').click();
  await expect(page.locator('#layout-status')).toContainText('Saved');

  await page.reload();
  await hydrated(page);
  await expect(page.locator('#w-cost_over_time-title')).toHaveText('Spend this week');
  await expect(page.locator('#w-cost_over_time-own')).toContainText('Last 7 days');
  const csv = await page.locator('#w-cost_over_time-csv').getAttribute('href');
  expect(csv).toContain('range=7d');
  expect(csv).toContain('model=claude-sonnet-4-5');
  // The page's own range does not move a widget that has its own.
  await page.locator('#range-90d').click();
  await expect(page).toHaveURL(/range=90d/);
  expect(await page.locator('#w-cost_over_time-csv').getAttribute('href')).toContain('range=7d');
  expect(await page.locator('#w-model_mix-csv').getAttribute('href')).toContain('range=90d');
});

test('boards are made, renamed, duplicated, exported, imported, made home and deleted from the menu', async ({ page }) => {
  await signIn(page);
  const dev = await token('dev@demo.test', 'demo-developer-pass');
  const home = (await api(dev, 'GET', '/api/v1/dashboard/config')).home;

  await page.locator('#board-new').click();
  await page.locator('#board-name').fill('Focus');
  await page.locator('#board-start').selectOption('empty');
  await page.locator('#board-create').click();
  await expect(page).toHaveURL(/board=/);
  await hydrated(page);
  await expect(picked(page)).toHaveText('Focus');
  await expect(page.locator('#board .widget')).toHaveCount(0);
  await page.locator('#edit-layout').click();
  await page.locator('#add-widget').fill('Tool usage');
  await page.locator('#add-widget-button').click();
  await page.locator('#save-layout').click();
  await expect(page.locator('#layout-status')).toContainText('Saved “Focus”');
  await page.locator('#done-layout').click();

  await page.locator('#board-rename').click();
  await page.locator('#board-name').fill('Focus board');
  await page.locator('#board-rename-save').click();
  await expect(page.locator('#board-pick option:checked')).toHaveText('Focus board');

  // An export is the board's name and document; importing it makes a new board.
  const href = await page.locator('#board-export').getAttribute('href');
  expect(href).toMatch(/^data:application\/json/);
  const exported = decodeURIComponent(href!.slice(href!.indexOf(',') + 1));
  expect(JSON.parse(exported).name).toBe('Focus board');
  expect(await page.locator('#board-export').getAttribute('download')).toBe('focus-board.dashboard.json');
  await page.locator('#board-import').click();
  // A file that is not a board is refused, naming why.
  await page.locator('#board-import-file').setInputFiles({
    name: 'notes.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"rows": []}'),
  });
  await expect(page.locator('#board-import-json')).toHaveValue('{"rows": []}');
  await page.locator('#board-import-go').click();
  await expect(page.locator('#board-error')).toContainText('widgets');
  await page.locator('#board-import-file').setInputFiles({
    name: 'focus.json',
    mimeType: 'application/json',
    buffer: Buffer.from(exported),
  });
  await page.locator('#board-import-go').click();
  await expect(page.locator('#board-pick option:checked')).toHaveText('Focus board (imported)');
  await expect(page.locator('#w-tools')).toHaveCount(1);
  // A document the server refuses is named by its field, and nothing is made.
  const before = (await api(dev, 'GET', '/api/v1/dashboard/config')).boards.length;
  await page.locator('#board-import').click();
  await page.locator('#board-import-json').fill('{"widgets":[{"key":"a","widget":"nope","x":0,"y":0,"w":8,"h":8}]}');
  await page.locator('#board-import-go').click();
  await expect(page.locator('#board-error')).toContainText('/document/widgets/0/widget');
  expect((await api(dev, 'GET', '/api/v1/dashboard/config')).boards.length).toBe(before);

  await page.locator('#board-duplicate').click();
  await expect(page.locator('#board-name')).toHaveValue('Focus board (imported) (copy)');
  await page.locator('#board-name').fill('Scratch');
  await page.locator('#board-create').click();
  await expect(page.locator('#board-pick option:checked')).toHaveText('Scratch');
  await expect(page.locator('#w-tools')).toHaveCount(1);
  await page.locator('#board-home').click();
  await expect(page.locator('#board-is-home')).toBeVisible();
  expect((await api(dev, 'GET', '/api/v1/dashboard/config')).home).not.toBe(home);

  await page.locator('#board-delete').click();
  await page.locator('#board-delete-confirm').click();
  await expect(page).not.toHaveURL(/board=/);
  await hydrated(page);
  const after = await api(dev, 'GET', '/api/v1/dashboard/config');
  expect(after.boards.map((b: any) => b.name)).not.toContain('Scratch');
  // Deleting the home board goes back to the role's default (here none: the built-in one).
  expect(after.home).toBeNull();

  // Switching with the picker keeps the filters.
  await page.goto(`${site.url}/?range=7d`);
  await hydrated(page);
  const focus = after.boards.find((b: any) => b.name === 'Focus board');
  await page.locator('#board-pick').selectOption(focus.id);
  await expect(page).toHaveURL(new RegExp(`board=${focus.id}.*range=7d`));
  await expect(page.locator('#w-tools')).toHaveCount(1);
  expect(await serious(page)).toEqual([]);
  await page.screenshot({ path: test.info().outputPath('boards-menu.png') });
});

test('an admin publishes a board for managers and a team: a new manager and a viewer in the team see it, another viewer does not', async ({ page, browser }) => {
  const admin = await token('admin@demo.test', 'demo-admin-pass');
  const teams = await api(admin, 'GET', '/api/v1/teams');
  const payments = (teams.teams ?? teams).find((t: any) => t.name === 'Payments');
  const users = await api(admin, 'GET', '/api/v1/users');
  const viewer = (users.users ?? users).find((u: any) => u.email === 'viewer@demo.test');
  await api(admin, 'PUT', `/api/v1/teams/${payments.id}/members/${viewer.id}`, { is_manager: false });
  await api(admin, 'POST', '/api/v1/users', { email: 'outsider@demo.test', role: 'viewer', password: 'outsider-pass-1' });

  await signIn(page, 'admin@demo.test', 'demo-admin-pass');
  await page.locator('#board-new').click();
  await page.locator('#board-name').fill("Managers' board");
  await page.locator('#board-workspace').check();
  await page.locator('#board-create').click();
  await expect(page.locator('#board-pick option:checked')).toHaveText("Managers' board");
  await page.locator('#board-share').click();
  await page.locator('#share-role-manager').check();
  await page.locator(`#share-team-${payments.id}`).check();
  expect(await serious(page)).toEqual([]);
  await page.locator('#board-share-save').click();
  await expect(page.locator('#board-panel')).toHaveCount(0);
  await expect(page.locator('#board-error')).toHaveCount(0);

  // A manager who joins now opens the dashboard and finds the board as their home, read-only.
  await api(admin, 'POST', '/api/v1/users', { email: 'joiner@demo.test', role: 'manager', password: 'joiner-pass-12' });
  const as = async (b: Browser, email: string, password: string) => {
    const p = await (await b.newContext()).newPage();
    await signIn(p, email, password);
    return p;
  };
  const joiner = await as(browser, 'joiner@demo.test', 'joiner-pass-12');
  await expect(picked(joiner)).toHaveText("Managers' board (home)");
  await expect(joiner.locator('#board-rename')).toHaveCount(0);
  await expect(joiner.locator('#board-share')).toHaveCount(0);
  await joiner.locator('#edit-layout').click();
  await expect(joiner.locator('#save-layout')).toHaveText('Save as my dashboard');

  // The viewer in Payments sees it (read-only, nothing to edit); a viewer in no team does not.
  const inTeam = await as(browser, 'viewer@demo.test', 'demo-viewer-pass');
  await expect(inTeam.locator("#board-pick option", { hasText: "Managers' board" })).toHaveCount(1);
  await expect(inTeam.locator('#edit-layout')).toHaveCount(0);
  await expect(inTeam.locator('#board-new')).toHaveCount(0);
  const outsider = await as(browser, 'outsider@demo.test', 'outsider-pass-1');
  await expect(outsider.locator("#board-pick option", { hasText: "Managers' board" })).toHaveCount(0);
  await expect(picked(outsider)).toHaveText('Built-in dashboard (home)');
});

test('kiosk mode shows the board alone, live, and cycles between the boards it is given', async ({ page }) => {
  await signIn(page);
  const dev = await token('dev@demo.test', 'demo-developer-pass');
  const mine = (await api(dev, 'GET', '/api/v1/dashboard/config')).boards;
  expect(mine.length).toBeGreaterThanOrEqual(2);
  const [a, b] = mine;
  await page.goto(`${site.url}/?kiosk=1&board=${a.id}&boards=${a.id},${b.id}&every=5`);
  await hydrated(page);
  await expect(page.locator('header.topbar')).toBeHidden();
  await expect(page.locator('#filters')).toHaveCount(0);
  await expect(page.locator('#board-menu')).toHaveCount(0);
  await expect(page.locator('#edit-layout')).toBeHidden();
  await expect(page.locator('#kiosk-board')).toHaveText(a.name);
  await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');
  // Five seconds on, the next board, and round again.
  await expect(page.locator('#kiosk-board')).toHaveText(b.name, { timeout: 15_000 });
  await expect(page).toHaveURL(new RegExp(`board=${b.id}`));
  await expect(page.locator('#kiosk-board')).toHaveText(a.name, { timeout: 15_000 });
  await page.screenshot({ path: test.info().outputPath('kiosk.png') });
});

test('the print stylesheet keeps the numbers and charts and drops the controls', async ({ page }) => {
  await signIn(page);
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('header.topbar')).toBeHidden();
  await expect(page.locator('#filters')).toBeHidden();
  await expect(page.locator('#board-menu')).toBeHidden();
  await expect(page.locator('.kpis')).toBeVisible();
  const widgets = page.locator('#board .widget');
  expect(await widgets.count()).toBeGreaterThan(3);
  await expect(widgets.first()).toBeVisible();
  await expect(page.locator('#board .exports').first()).toBeHidden();
  const pdf = await page.pdf({ format: 'A4' });
  expect(pdf.length).toBeGreaterThan(10_000);
});
