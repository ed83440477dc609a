import { test, expect } from './fixtures';
import type { Page, Browser } from '@playwright/test';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DevpulseServer, freePort } from './server';

let server: DevpulseServer;
const dataDir = path.resolve(__dirname, '..', '..', '.data', 'e2e-people');

test.beforeAll(async () => {
  server = new DevpulseServer(await freePort(), dataDir);
  await server.start();
});

test.afterAll(async () => {
  await server?.stop();
});

async function signIn(page: Page, tenant: string, email: string, password: string) {
  await page.goto(`${server.url}/login`);
  await page.locator('#tenant').fill(tenant);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await page.locator('#sign-in').click();
  // The form's POST answers 303 (to / or back to /login?error=…). Navigating on before that
  // lands overlaps two navigations, and once in a while Chromium then loaded the next page
  // under the redirect's `default-src 'none'` policy, which blocks the WASM.
  await page.waitForURL((u) => u.pathname !== '/login' || u.search !== '');
}

async function asAdmin(page: Page) {
  await signIn(page, 'demo', 'admin@demo.test', 'demo-admin-pass');
  await expect(page.locator('#who')).toHaveAttribute('data-role', 'tenant_admin');
  await page.goto(`${server.url}/users`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Opens an invitation or reset link in a browser without JavaScript and sets the password. */
async function setPasswordThroughLink(browser: Browser, url: string, password: string) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(url.replace(/^https?:\/\/[^/]+/, server.url));
  // Long enough for the browser's own check, refused by the server's policy.
  await page.locator('#password').fill('123456789012');
  await page.locator('#set-password').click();
  await expect(page.locator('#password-error')).toContainText('too common');
  await page.locator('#password').fill(password);
  await page.locator('#set-password').click();
  await expect(page.locator('#notice')).toHaveText('Your password is set. Sign in with it.');
  await context.close();
}

test('an admin invites someone, who sets a password and signs in; the admin changes their role and deactivates them', async ({ page, browser }) => {
  await asAdmin(page);
  await page.locator('#invite-email').fill('newcomer@demo.test');
  await page.locator('#invite-name').fill('New Comer');
  await page.locator('#invite-role').selectOption('manager');
  await page.locator('#invite').click();
  const link = (await page.locator('#invite-link').textContent())!;
  expect(link).toContain('/welcome?token=demo.');
  const row = page.locator('#users tr[data-email="newcomer@demo.test"]');
  await expect(row.locator('.role-select')).toHaveValue('manager');

  await setPasswordThroughLink(browser, link, 'newcomer-password-1');

  // The link is used up.
  const again = await browser.newPage();
  await again.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
  await expect(again.locator('#link-invalid')).toBeVisible();
  await again.close();

  const theirs = await browser.newContext();
  const them = await theirs.newPage();
  await signIn(them, 'demo', 'newcomer@demo.test', 'newcomer-password-1');
  await expect(them.locator('#who')).toHaveAttribute('data-role', 'manager');

  await row.locator('.role-select').selectOption('viewer');
  await row.locator('.change-role').click();
  // The select shows the choice at once; the notice is what says the server has it.
  await expect(page.locator('#role-notice')).toHaveText('newcomer@demo.test is now viewer; their open sessions have ended.');
  await expect(row.locator('.role-select')).toHaveValue('viewer');
  // A role change ends their session at once.
  await them.goto(`${server.url}/profile`);
  await expect(them.locator('#who')).toHaveCount(0);

  await row.locator('.toggle-active').click();
  await expect(page.locator('#active-notice')).toHaveText('newcomer@demo.test is deactivated and signed out everywhere.');
  await expect(row.locator('.status-cell')).toHaveText('deactivated');
  await signIn(them, 'demo', 'newcomer@demo.test', 'newcomer-password-1');
  await expect(them.locator('#password-error')).toHaveText('Wrong workspace, e-mail or password.');
  await row.locator('.toggle-active').click();
  await expect(page.locator('#active-notice')).toHaveText('newcomer@demo.test can sign in again.');
  await expect(row.locator('.status-cell')).toHaveText('active');

  // A reset link from the row replaces the password.
  await row.locator('.password-link').click();
  const reset = (await page.locator('#reset-link').textContent())!;
  expect(reset).not.toEqual(link);
  await setPasswordThroughLink(browser, reset, 'newcomer-password-2');
  await signIn(them, 'demo', 'newcomer@demo.test', 'newcomer-password-2');
  await expect(them.locator('#who')).toHaveAttribute('data-role', 'viewer');
  await theirs.close();
});

/** The messages to `to` in the server's outbox (no SMTP server is configured), oldest first. */
function outbox(to: string): string[] {
  const dir = path.join(dataDir, 'outbox');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  return names
    .map((n) => readFileSync(path.join(dir, n), 'utf8'))
    .filter((m) => m.includes(`To: ${to}`));
}

/** The password link in an e-mail, whatever transfer encoding carried it. */
function linkIn(message: string): string {
  const unfolded = message.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const m = unfolded.match(/https?:\/\/[^\s"<>]+\/welcome\?token=[A-Za-z0-9._]+/);
  expect(m, message).not.toBeNull();
  return m![0];
}

test('an invitation and a forgotten password arrive by e-mail, and the admin sees both sent', async ({ page, browser }) => {
  await asAdmin(page);
  await page.locator('#invite-email').fill('forgetful@demo.test');
  await page.locator('#invite').click();
  await expect(page.locator('#invite-link')).toBeVisible();
  await expect.poll(() => outbox('forgetful@demo.test').length).toBe(1);
  const invitation = outbox('forgetful@demo.test')[0];
  expect(invitation).toContain('Subject: You are invited to');
  await setPasswordThroughLink(browser, linkIn(invitation), 'forgetful-password-1');

  // Later, without JavaScript: "Forgot your password?" from the sign-in page.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const them = await context.newPage();
  await them.goto(`${server.url}/login`);
  await them.locator('#forgot-link').click();
  await expect(them).toHaveURL(/\/forgot/);
  await them.locator('#tenant').fill('demo');
  await them.locator('#email').fill('forgetful@demo.test');
  await them.locator('#send-link').click();
  await expect(them.locator('#notice')).toContainText('If that address has an account in that workspace');
  // The same answer for an address with no account, and nothing is sent to it.
  await them.locator('#email').fill('nobody-here@demo.test');
  await them.locator('#send-link').click();
  await expect(them.locator('#notice')).toContainText('If that address has an account in that workspace');
  await context.close();

  await expect.poll(() => outbox('forgetful@demo.test').length).toBe(2);
  expect(outbox('nobody-here@demo.test')).toHaveLength(0);
  const reset = outbox('forgetful@demo.test')[1];
  expect(reset).toContain('Subject: Set a new password for');
  await setPasswordThroughLink(browser, linkIn(reset), 'forgetful-password-2');
  const theirs = await browser.newContext();
  const signedIn = await theirs.newPage();
  await signIn(signedIn, 'demo', 'forgetful@demo.test', 'forgetful-password-2');
  await expect(signedIn.locator('#who')).toHaveAttribute('data-role', 'developer');
  await theirs.close();

  await page.reload();
  const sent = page.locator('#emails tr[data-to="forgetful@demo.test"]');
  await expect(sent).toHaveCount(2);
  await expect(sent.locator('.email-status')).toHaveText(['sent', 'sent']);
});

test('the audit log finds an invitation by actor and action, and links to what it is about', async ({ page }) => {
  await asAdmin(page);
  await page.locator('#invite-email').fill('audited@demo.test');
  await page.locator('#invite').click();
  await expect(page.locator('#invite-link')).toBeVisible();

  await page.locator('a[href="/audit"]').click();
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#audit-actor').fill('admin@demo');
  await page.locator('#audit-action').fill('user.invited');
  await page.locator('#audit-search').click();
  await expect(page).toHaveURL(/actor=admin%40demo&action=user.invited/);
  const rows = page.locator('#audit tbody tr');
  await expect(rows.first()).toHaveAttribute('data-action', 'user.invited');
  const invited = rows.filter({ hasText: 'audited@demo.test' });
  await expect(invited).toHaveCount(1);
  // The export takes the same filter.
  await expect(page.locator('#audit-csv')).toHaveAttribute('href', /format=csv.*action=user.invited/);

  // Everything about that person: the invitation, and nothing of anyone else.
  await invited.locator('.audit-target').click();
  await expect(page).toHaveURL(/\/audit\?target=/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('audited@demo.test');

  // A filter that matches nothing says so.
  await page.goto(`${server.url}/audit?actor=nobody-at-all`);
  await expect(page.locator('#audit-empty')).toBeVisible();
});

test('a bad invitation shows the reason and adds nobody', async ({ page }) => {
  await asAdmin(page);
  await page.locator('#invite-email').fill('admin@demo.test');
  await page.locator('#invite').click();
  await expect(page.locator('[role=alert]').first()).toContainText('already exists');
  await expect(page.locator('#users tr[data-email="admin@demo.test"]')).toHaveCount(1);
});

test('teams: an admin builds one; a manager sees the teams they manage', async ({ page, browser }) => {
  await signIn(page, 'demo', 'admin@demo.test', 'demo-admin-pass');
  await page.goto(`${server.url}/teams`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#team-name').fill('Mobile');
  await page.locator('#create-team').click();
  const mobile = page.locator('section.team[data-team="Mobile"]');
  await expect(mobile).toBeVisible();
  await mobile.locator('input[name=email]').fill('viewer@demo.test');
  await mobile.locator('button', { hasText: 'Add' }).click();
  await expect(mobile.locator('li[data-email="viewer@demo.test"]')).toBeVisible();

  const manager = await browser.newPage();
  await signIn(manager, 'demo', 'manager@demo.test', 'demo-manager-pass');
  await manager.goto(`${server.url}/teams`);
  await expect(manager.locator('section.team[data-team="Platform"]')).toBeVisible();
  await expect(manager.locator('section.team[data-team="Platform"] li[data-email="manager@demo.test"] .badge')).toHaveText('manager');
  await expect(manager.locator('section.team[data-team="Mobile"]')).toHaveCount(0);
  await expect(manager.locator('#create-team')).toHaveCount(0);
  await manager.close();

  await mobile.locator('li[data-email="viewer@demo.test"] button').click();
  await expect(mobile.locator('li[data-email="viewer@demo.test"]')).toHaveCount(0);
});

test('the profile page renames and changes the password', async ({ page, browser }) => {
  // A person of our own, so the demo accounts keep their passwords for other tests.
  // Unique per run so the test can repeat against one server (`--repeat-each`).
  const email = `profile-${Date.now()}@demo.test`;
  await asAdmin(page);
  await page.locator('#invite-email').fill(email);
  await page.locator('#invite').click();
  const link = (await page.locator('#invite-link').textContent())!;
  await setPasswordThroughLink(browser, link, 'profile-password-1');

  const context = await browser.newContext();
  const me = await context.newPage();
  await signIn(me, 'demo', email, 'profile-password-1');
  await me.goto(`${server.url}/profile`);
  await expect(me.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await me.locator('#profile-name').fill('Pro File');
  await me.locator('#save-name').click();
  await expect(me.locator('#name-saved')).toBeVisible();
  await me.reload();
  await expect(me.locator('#profile-name')).toHaveValue('Pro File');
  // The reloaded page's forms post through the WASM only once it has hydrated.
  await expect(me.locator('body')).toHaveAttribute('data-hydrated', 'true');

  await me.locator('#current-password').fill('not-the-password');
  await me.locator('#new-password').fill('profile-password-2');
  await me.locator('#change-password').click();
  // The refusal names its field and stands beside it; the input points at it for screen readers.
  await expect(me.locator('#current-password-error')).toContainText('Current password: is wrong');
  await expect(me.locator('#current-password')).toHaveAttribute('aria-describedby', 'current-password-error');
  await expect(me.locator('#new-password-error')).toHaveCount(0);
  await me.locator('#current-password').fill('profile-password-1');
  await me.locator('#change-password').click();
  await expect(me).toHaveURL(/\/login\?notice=password_changed/);
  await signIn(me, 'demo', email, 'profile-password-2');
  await expect(me.locator('#who')).toContainText(email);
  await context.close();
});
