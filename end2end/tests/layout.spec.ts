// The layout editor on the dashboard: a widget moved by keyboard alone (with what the live
// region says), dragged with real pointer events, resized by its corner, moved by its
// buttons and undone; each arrangement saved and read back after a reload. A save from a
// stale tab gets the conflict dialog and loses nothing. axe finds nothing serious in edit mode.
import { test, expect } from './fixtures';
import type { Page, Browser } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { DemoSite } from './demo-site';

const site = new DemoSite('e2e-layout');
const signIn = (page: Page, email?: string, password?: string) => site.signIn(page, email, password);
const token = (email: string, password: string) => site.token(email, password);

/** A widget's place on the 24-column grid: [x, y, w, h]. */
async function place(page: Page, key: string): Promise<number[]> {
  const p = await page.locator(`#w-${key}`).getAttribute('data-place');
  return p!.split(',').map(Number);
}

async function save(page: Page) {
  await page.locator('#save-layout').click();
  await expect(page.locator('#layout-status')).toContainText('Saved');
}

async function boards(token: string): Promise<any> {
  const r = await fetch(`${site.url}/api/v1/dashboard/config`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return r.json();
}

test.describe.configure({ mode: 'serial' });

test('keyboard alone picks a widget up, moves it, drops it, and the saved layout comes back', async ({ page }) => {
  await signIn(page);
  const before = await place(page, 'model_mix');
  await page.locator('#edit-layout').click();
  await expect(page.locator('#layout-status')).toContainText('Editing the layout');
  await page.locator('#w-model_mix').focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('#layout-status')).toContainText('Picked up');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await expect(page.locator('#layout-status')).toContainText(`column ${before[0] - 1}`);
  await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page.locator('#layout-status')).toContainText('Dropped');
  // Focus stayed on the widget through all of it.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('w-model_mix');
  const moved = await place(page, 'model_mix');
  expect(moved[0]).toBe(before[0] - 2);
  expect(moved[3]).toBe(before[3] + 1);

  // Escape puts a picked-up widget back.
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Escape');
  await expect(page.locator('#layout-status')).toContainText('Cancelled');
  expect(await place(page, 'model_mix')).toEqual(moved);

  await save(page);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  expect(await place(page, 'model_mix')).toEqual(moved);
  const mine = await boards(await token('dev@demo.test', 'demo-developer-pass'));
  expect(mine.boards).toHaveLength(1);
  expect(mine.home).toBe(mine.boards[0].id);
});

test('a widget dragged and another resized with the pointer stay where they were put', async ({ page }) => {
  await signIn(page);
  await page.locator('#edit-layout').click();
  const start = await place(page, 'heatmap');
  const head = page.locator('#w-heatmap .widget-head');
  // Mouse events land where the widget is on screen.
  await page.locator('#w-heatmap').scrollIntoViewIfNeeded();
  // Scrolled at once (a wheel scrolls over several frames, and the header measured before it
  // settles is not where the pointer then lands).
  await page.evaluate(() => window.scrollBy({ top: -200, behavior: 'instant' }));
  const box = (await head.boundingBox())!;
  const board = (await page.locator('#board').boundingBox())!;
  const column = (board.width + 12) / 24;
  // Grab the header and carry it four columns right and one widget-height up, in steps,
  // as a hand does; the placeholder shows the landing cell on the way.
  await page.mouse.move(box.x + 20, box.y + box.height / 2);
  await page.mouse.down();
  const target = start[0] >= 12 ? -4 : 4;
  await page.mouse.move(box.x + 20 + target * column, box.y + box.height / 2 - 42 * 3, { steps: 12 });
  await expect(page.locator('#board .placeholder')).toHaveCount(1);
  await page.mouse.up();
  await expect(page.locator('#board .placeholder')).toHaveCount(0);
  await expect(page.locator('#layout-status')).toContainText('Moved');
  const dropped = await place(page, 'heatmap');
  expect(dropped[0]).toBe(start[0] + target);

  const corner = page.locator('#w-projects .resize-handle');
  const before = await place(page, 'projects');
  await corner.scrollIntoViewIfNeeded();
  const c = (await corner.boundingBox())!;
  await page.mouse.move(c.x + c.width / 2, c.y + c.height / 2);
  await page.mouse.down();
  await page.mouse.move(c.x + c.width / 2 - 2 * column, c.y + c.height / 2 + 2 * 42, { steps: 8 });
  await page.mouse.up();
  const resized = await place(page, 'projects');
  expect(resized[2]).toBe(before[2] - 2);
  expect(resized[3]).toBe(before[3] + 2);

  const arranged = { heatmap: await place(page, 'heatmap'), projects: resized };
  await save(page);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  expect(await place(page, 'heatmap')).toEqual(arranged.heatmap);
  expect(await place(page, 'projects')).toEqual(arranged.projects);
});

test('buttons move and resize without dragging, undo restores, discard goes back to the saved layout', async ({ page }) => {
  await signIn(page);
  await page.locator('#edit-layout').click();
  const saved = await place(page, 'tools');
  await page.locator('#w-tools-narrower').click();
  await expect(page.locator('#layout-status')).toContainText(`${saved[2] - 1} wide`);
  expect((await place(page, 'tools'))[2]).toBe(saved[2] - 1);
  await page.locator('#undo-layout').click();
  expect(await place(page, 'tools')).toEqual(saved);
  await page.locator('#redo-layout').click();
  expect((await place(page, 'tools'))[2]).toBe(saved[2] - 1);
  await page.locator('#w-tools-taller').click();
  await page.locator('#discard-layout').click();
  expect(await place(page, 'tools')).toEqual(saved);
  await expect(page.locator('#save-layout')).toBeDisabled();

  await page.locator('#w-tools').focus();
  await page.keyboard.press('Enter');
  await page.screenshot({ path: test.info().outputPath('edit-1280.png') });
  await page.keyboard.press('Escape');
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`)).toEqual([]);
  // Narrow screens follow the arrangement in one column, with the controls still there.
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.screenshot({ path: test.info().outputPath('edit-375.png') });
});

test('a widget removed and added back from the catalogue, undone and saved', async ({ page }) => {
  await signIn(page);
  await page.locator('#edit-layout').click();
  await page.locator('#w-heatmap-remove').click();
  await expect(page.locator('#w-heatmap')).toHaveCount(0);
  await expect(page.locator('#layout-status')).toContainText('Removed Activity heatmap');
  await page.locator('#undo-layout').click();
  await expect(page.locator('#w-heatmap')).toHaveCount(1);
  await page.locator('#w-heatmap-remove').click();
  await save(page);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#w-heatmap')).toHaveCount(0);

  await page.locator('#edit-layout').click();
  // The catalogue is searched by name; its id names one too.
  await page.locator('#add-widget').fill('heatmap');
  await page.locator('#add-widget-button').click();
  await expect(page.locator('#layout-status')).toContainText('Added. Activity heatmap: column');
  await expect(page.locator('#w-heatmap canvas')).toHaveCount(1);
  // A second copy of a kind gets a key of its own, right below the first; undo takes it away.
  await page.locator('#w-heatmap-duplicate').click();
  await expect(page.locator('#layout-status')).toContainText('Copied. Activity heatmap: column');
  await expect(page.locator('#w-heatmap-2 canvas')).toHaveCount(1);
  const [x, y, w, h] = await place(page, 'heatmap');
  expect(await place(page, 'heatmap-2')).toEqual([x, y + h, w, h]);
  await page.locator('#undo-layout').click();
  await expect(page.locator('#w-heatmap-2')).toHaveCount(0);
  // A name that fits no single widget adds nothing and says so.
  await page.locator('#add-widget').fill('activity');
  await page.locator('#add-widget-button').click();
  await expect(page.locator('#layout-status')).toContainText('No single widget');
  await save(page);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#w-heatmap')).toHaveCount(1);
  await expect(page.locator('#w-heatmap-2')).toHaveCount(0);
});

test('a save from a stale tab gets the conflict dialog and loses neither arrangement', async ({ browser }) => {
  const open = async (b: Browser) => {
    const page = await (await b.newContext()).newPage();
    await signIn(page);
    await page.locator('#edit-layout').click();
    return page;
  };
  const first = await open(browser);
  const second = await open(browser);
  const dev = await token('dev@demo.test', 'demo-developer-pass');
  const version = (await boards(dev)).boards[0].version;

  // The second tab has changes of its own when the first saves: it is told (or, if the
  // feed is slower than the click, the server refuses its stale save); either way it asks.
  await second.locator('#w-live-wider').click();
  const mine = await place(second, 'live');
  await first.locator('#w-live-narrower').click();
  await save(first);
  const theirs = await place(first, 'live');

  await second.locator('#save-layout').click();
  await expect(second.locator('#conflict')).toBeVisible();
  await expect(second.locator('#conflict-detail')).toContainText(`version ${version + 1}`);
  await second.locator('#conflict-copy').click();
  await expect(second.locator('#layout-status')).toContainText('Saved as');

  const after = await boards(dev);
  expect(after.boards).toHaveLength(2);
  const byId = async (id: string) =>
    (await fetch(`${site.url}/api/v1/dashboard/config/${id}`, { headers: { authorization: `Bearer ${dev}` } })).json();
  const docs = await Promise.all(after.boards.map((b: any) => byId(b.id)));
  const live = (d: any) => d.document.widgets.find((w: any) => w.key === 'live');
  const places = docs.map((d: any) => [live(d).x, live(d).y, live(d).w, live(d).h].join(','));
  expect(places.sort()).toEqual([theirs.join(','), mine.join(',')].sort());
  // The copy is home now.
  const copy = docs.find((d: any) => live(d).w === mine[2]);
  expect(after.home).toBe(copy.id);
});

test('a layout saved in one tab appears in the other open tabs of the same person', async ({ browser }) => {
  const open = async () => {
    const page = await (await browser.newContext()).newPage();
    await signIn(page);
    await expect(page.locator('#link-state')).toHaveAttribute('data-state', 'connected');
    return page;
  };
  const editing = await open();
  const watching = await open();
  const before = await place(watching, 'tools');
  await editing.locator('#edit-layout').click();
  await editing.locator('#w-tools-narrower').click();
  await save(editing);
  const after = await place(editing, 'tools');
  expect(after).not.toEqual(before);
  // No reload: the feed said the board changed, and the watching tab took the new version.
  await expect.poll(() => place(watching, 'tools')).toEqual(after);
  await expect(watching.locator('#layout-status')).toContainText('Updated to version');

  // A tab with changes of its own is told instead, and its save keeps them as a copy.
  await watching.locator('#edit-layout').click();
  await watching.locator('#w-tools-wider').click();
  await editing.locator('#w-tools-taller').click();
  await save(editing);
  await expect(watching.locator('#saved-elsewhere')).toContainText('saved elsewhere');
  await watching.locator('#save-layout').click();
  await expect(watching.locator('#conflict')).toBeVisible();
  await expect(watching.locator('#conflict-detail')).toContainText('now version');
});

test('phones get an arrangement of their own, made by hand, and the wide one stays as it was', async ({ page }) => {
  await signIn(page);
  const keys = await page.locator('#board > .widget').evaluateAll((els) => els.map((e) => e.id.slice(2)));
  const wide: Record<string, number[]> = {};
  for (const k of keys) wide[k] = await place(page, k);
  await page.locator('#edit-layout').click();
  await expect(page.locator('#arrange-24')).toBeChecked();
  await page.locator('#arrange-1').check();
  await expect(page.locator('#board')).toHaveClass(/at-1/);
  await expect(page.locator('#arrange-note')).toContainText('Follows the wide arrangement');
  // The last widget on a phone goes to the top, by keyboard.
  let last = keys[0];
  for (const k of keys) if ((await place(page, k))[1] > (await place(page, last))[1]) last = k;
  await page.locator(`#w-${last}`).focus();
  await page.keyboard.press('Enter');
  for (let i = 0; i < 40 && (await place(page, last))[1] > 0; i++) await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  expect((await place(page, last))[1]).toBe(0);
  await expect(page.locator('#layout-status')).toContainText('column 1, row 1, 1 wide');
  await expect(page.locator('#arrange-note')).toContainText('Arranged by hand');
  await save(page);

  // Saved as the document's phone arrangement; the wide one did not move.
  const bearer = await token('dev@demo.test', 'demo-developer-pass');
  const home = (await boards(bearer)).home;
  const r = await fetch(`${site.url}/api/v1/dashboard/config/${home}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  const doc = (await r.json()).document;
  const phone = doc.narrower.find((n: any) => n.cols === 1);
  expect(phone.places.find((p: any) => p.key === last).y).toBe(0);
  expect(doc.narrower.some((n: any) => n.cols === 12)).toBe(false);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  for (const k of keys) expect(await place(page, k)).toEqual(wide[k]);

  // A phone shows it first.
  await page.setViewportSize({ width: 375, height: 800 });
  const tops = await page.locator('#board > .widget').evaluateAll((els) =>
    els.map((e) => [e.id.slice(2), e.getBoundingClientRect().top] as [string, number]));
  tops.sort((a, b) => a[1] - b[1]);
  expect(tops[0][0]).toBe(last);
  await page.screenshot({ path: test.info().outputPath('phone-by-hand-375.png') });

  // Editing on a phone starts with the phone's arrangement, and can follow the wide one again.
  await page.locator('#edit-layout').click();
  await expect(page.locator('#arrange-1')).toBeChecked();
  await page.locator('#follow-wide').click();
  await expect(page.locator('#arrange-note')).toContainText('Follows the wide arrangement');
  expect((await place(page, last))[1]).toBeGreaterThan(0);
  await page.locator('#undo-layout').click();
  expect((await place(page, last))[1]).toBe(0);
});
