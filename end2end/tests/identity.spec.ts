import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import path from 'node:path';
import { DevpulseServer, freePort } from './server';

// The embedded server seeds the demo workspace on its first start.
const people = [
  { role: 'tenant_admin', tenant: 'demo', email: 'admin@demo.test', password: 'demo-admin-pass', keys: true, users: true, tenants: false },
  { role: 'manager', tenant: 'demo', email: 'manager@demo.test', password: 'demo-manager-pass', keys: true, users: false, tenants: false },
  { role: 'developer', tenant: 'demo', email: 'dev@demo.test', password: 'demo-developer-pass', keys: true, users: false, tenants: false },
  { role: 'viewer', tenant: 'demo', email: 'viewer@demo.test', password: 'demo-viewer-pass', keys: true, users: false, tenants: false },
  { role: 'super_admin', tenant: '', email: 'root@devpulse.test', password: 'demo-superadmin-pass', keys: false, users: false, tenants: true },
];

let server: DevpulseServer;

test.beforeAll(async () => {
  const dataDir = path.resolve(__dirname, '..', '..', '.data', 'e2e-identity');
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

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('signing in works with a plain form post', async ({ page }) => {
    await signIn(page, 'demo', 'dev@demo.test', 'demo-developer-pass');
    await expect(page.locator('#who')).toHaveAttribute('data-role', 'developer');
  });

  test('a wrong password says so next to the field and keeps what was typed', async ({ page }) => {
    await signIn(page, 'demo', 'dev@demo.test', 'not-my-password');
    await expect(page.locator('#password-error')).toHaveText('Wrong workspace, e-mail or password.');
    await expect(page.locator('#email')).toHaveValue('dev@demo.test');
    await expect(page.locator('#password')).toHaveValue('');
  });
});

for (const p of people) {
  test(`${p.role} sees what the role may see, and signs out`, async ({ page, request }) => {
    await signIn(page, p.tenant, p.email, p.password);
    await expect(page.locator('#who')).toHaveAttribute('data-role', p.role);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    const nav = page.locator('header nav');
    await expect(nav.getByRole('link', { name: 'API keys' })).toHaveCount(p.keys ? 1 : 0);
    await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(p.users ? 1 : 0);
    await expect(nav.getByRole('link', { name: 'System' })).toHaveCount(p.tenants ? 1 : 0);

    // Pages check on the server too, not just by hiding links.
    await page.goto(`${server.url}/users`);
    if (p.users) {
      await expect(page.locator('#users')).toContainText('viewer@demo.test');
    } else if (p.tenant) {
      await expect(page.locator('#page-error')).toContainText('lacks the user.manage permission');
    } else {
      await expect(page.locator('#page-error')).toContainText('people belong to a workspace');
    }
    await page.goto(`${server.url}/system/tenants`);
    if (p.tenants) {
      await expect(page.locator('#tenants')).toContainText('demo');
    } else {
      await expect(page.locator('#page-error')).toContainText('lacks the tenants.manage permission');
    }
    await page.goto(`${server.url}/profile`);
    await expect(page.locator('#profile-role')).toHaveText(p.role);

    const refresh = (await page.context().cookies()).find((c) => c.name === 'devpulse_refresh');
    expect(refresh?.path).toBe('/api/v1/auth');
    await page.locator('#sign-out').click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.locator('#who')).toHaveCount(0);
    // A protected page sends a signed-out visitor to sign in, to come back afterwards.
    await page.goto(`${server.url}/profile`);
    await expect(page).toHaveURL(/\/login\?next=%2Fprofile$/);
    await expect(page.locator('#login-form input[name="next"]')).toHaveValue('/profile');
    // Signing out ended the session on the server, not only in this browser.
    const again = await request.post(`${server.url}/api/v1/auth/refresh`, {
      data: { refresh_token: refresh!.value },
    });
    expect(again.status()).toBe(401);
  });
}

test('the API keys page creates a key that authenticates, and revokes it', async ({ page, request }) => {
  await signIn(page, 'demo', 'dev@demo.test', 'demo-developer-pass');
  await page.goto(`${server.url}/api-keys`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#key-name').fill('e2e laptop');
  await page.locator('#create-key').click();
  const key = (await page.locator('#new-key').textContent())!.trim();
  expect(key).toMatch(/^dpk_demo_[0-9a-f]{8}_[0-9a-f]{48}$/);
  const prefix = key.split('_')[2];
  await expect(page.locator(`#keys tr[data-prefix="${prefix}"]`)).toContainText('e2e laptop');

  // The key is recognised (403: keys may not use session-only routes) while a forged one is not (401).
  const withKey = await request.get(`${server.url}/api/v1/profile`, { headers: { 'x-api-key': key } });
  expect(withKey.status()).toBe(403);
  const forged = await request.get(`${server.url}/api/v1/profile`, { headers: { 'x-api-key': key.slice(0, -4) + '0000' } });
  expect(forged.status()).toBe(401);

  await page.locator(`#keys tr[data-prefix="${prefix}"] button`).click();
  await expect(page.locator(`#keys tr[data-prefix="${prefix}"]`)).toContainText('revoked');
  const revoked = await request.get(`${server.url}/api/v1/profile`, { headers: { 'x-api-key': key } });
  expect(revoked.status()).toBe(401);
});
