// Two-step verification in the browser: setting up an authenticator app from the profile
// (codes computed from the key the page shows, as an app would), signing in with a code and
// then with a recovery code that then stops working; a workspace that requires it making a
// person set it up at sign-in; an admin's reset. axe finds nothing serious on the new pages.
import { test, expect } from './fixtures';
import type { Page, BrowserContext } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { createHmac } from 'node:crypto';
import { DemoSite } from './demo-site';

const site = new DemoSite('e2e-mfa');

function base32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with SHA-1, 6 digits, 30 s: what an authenticator app shows `ahead` steps on. */
function totp(secret: string, ahead = 0): string {
  const counter = Math.floor(Date.now() / 1000 / 30) + ahead;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', base32(secret)).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const n = (((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1_000_000;
  return String(n).padStart(6, '0');
}

async function noSeriousViolations(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), what).toEqual([]);
}

/** The password form; the caller goes on from where it lands. */
async function password(page: Page, email: string, pass: string) {
  await page.goto(`${site.url}/login?next=%2F`);
  await page.locator('#tenant').fill('demo');
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(pass);
  await page.locator('#sign-in').click();
}

async function signOut(page: Page) {
  await page.goto(`${site.url}/profile`);
  await page.locator('#sign-out').click();
  await expect(page).toHaveURL(/\/login$/);
}

test('an authenticator app set up from the profile: sign in with a code, then with a recovery code that then stops working', async ({ page }) => {
  await site.signIn(page, 'dev@demo.test', 'demo-developer-pass');
  await page.goto(`${site.url}/profile`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#mfa-state')).toContainText('Off');
  await page.locator('#mfa-begin').click();
  await expect(page.locator('#mfa-qr svg')).toBeVisible();
  const secret = (await page.locator('#mfa-secret').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);

  await page.locator('#confirm-code').fill('000000');
  await page.locator('#confirm-code').evaluate((el) => { el.dataset.typedIn = 'yes'; });
  await page.locator('#mfa-confirm').click();
  await expect(page.locator('#confirm-code-error')).toContainText('Is not the code');
  // A wrong code leaves the form where it is: redrawn, it would swallow what is typed next.
  await page.waitForLoadState('networkidle');
  await expect(page.locator('#confirm-code[data-typed-in="yes"]')).toHaveValue('000000');
  await page.locator('#confirm-code').fill(totp(secret));
  await page.locator('#mfa-confirm').click();
  const codes = page.locator('#recovery-codes li');
  await expect(codes).toHaveCount(10);
  const recovery = (await codes.allTextContents()).map((c) => c.trim());
  expect(recovery[0]).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await noSeriousViolations(page, 'profile with recovery codes');
  await page.locator('#codes-saved').click();
  await expect(page.locator('#recovery-codes')).toHaveCount(0);
  await expect(page.locator('#mfa-state')).toContainText('10 of 10 recovery codes left');

  // Signing in now asks for a code after the password; the session starts only then.
  await signOut(page);
  await password(page, 'dev@demo.test', 'demo-developer-pass');
  await page.waitForURL((u) => u.pathname === '/login/mfa');
  expect((await page.context().cookies()).some((c) => c.name === 'devpulse_access')).toBe(false);
  await expect(page.locator('h1')).toHaveText('Two-step verification');
  await noSeriousViolations(page, '/login/mfa');
  await page.locator('#mfa-code').fill('123456');
  await page.locator('#mfa-verify').click();
  await expect(page.locator('#code-error')).toContainText('did not work');
  // The confirming code's half minute is spent; the app's next code is good.
  await page.locator('#mfa-code').fill(totp(secret, 1));
  await page.locator('#mfa-verify').click();
  await page.waitForURL((u) => u.pathname === '/');
  await expect(page.locator('#who')).toBeVisible();

  // A recovery code in place of the app's, once.
  await signOut(page);
  await password(page, 'dev@demo.test', 'demo-developer-pass');
  await page.waitForURL((u) => u.pathname === '/login/mfa');
  await page.locator('#mfa-code').fill(recovery[0]);
  await page.locator('#mfa-verify').click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.goto(`${site.url}/profile`);
  await expect(page.locator('#mfa-state')).toContainText('9 of 10 recovery codes left');

  await signOut(page);
  await password(page, 'dev@demo.test', 'demo-developer-pass');
  await page.waitForURL((u) => u.pathname === '/login/mfa');
  await page.locator('#mfa-code').fill(recovery[0]);
  await page.locator('#mfa-verify').click();
  await expect(page.locator('#code-error')).toContainText('did not work');
  await expect(page).toHaveURL(/\/login\/mfa\?error=code/);
  await page.setViewportSize({ width: 375, height: 800 });
  await page.screenshot({ path: test.info().outputPath('mfa-code-375.png') });
});

test('a workspace that requires it makes a person set up an app at sign-in; an admin can reset it', async ({ browser }) => {
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await site.signIn(admin, 'admin@demo.test', 'demo-admin-pass');
  await admin.goto(`${site.url}/users`);
  await expect(admin.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await admin.locator('#mfa-rule').selectOption('everyone');
  await admin.locator('#save-mfa-rule').click();
  await expect(admin.locator('#mfa-rule-saved')).toContainText('Required for everyone');

  const personContext: BrowserContext = await browser.newContext();
  await personContext.addCookies([{ name: 'theme', value: 'dark', url: site.url }]);
  const page = await personContext.newPage();
  await page.setViewportSize({ width: 375, height: 800 });
  await password(page, 'manager@demo.test', 'demo-manager-pass');
  await page.waitForURL((u) => u.pathname === '/login/mfa');
  await expect(page.locator('h1')).toHaveText('Set up two-step verification');
  await expect(page.locator('#mfa-qr svg')).toBeVisible();
  await noSeriousViolations(page, '/login/mfa enrolling, dark, 375 px');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: test.info().outputPath('mfa-enrol-dark-375.png'), fullPage: true });
  const secret = (await page.locator('#mfa-secret').textContent())!.trim();
  await page.locator('#mfa-code').fill(totp(secret));
  await page.locator('#mfa-verify').click();

  // Signed in, on the profile, asked to make recovery codes.
  await page.waitForURL((u) => u.pathname === '/profile');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#mfa-make-codes')).toBeVisible();
  await expect(page.locator('#mfa-required')).toBeVisible();
  await expect(page.locator('#mfa-off')).toHaveCount(0);
  await page.locator('#renew-code').fill(totp(secret, 1));
  await page.locator('#mfa-renew').click();
  await expect(page.locator('#recovery-codes li')).toHaveCount(10);

  // The admin sees it on, and resets it: the person's session ends.
  await admin.reload();
  const row = admin.locator('#users tr[data-email="manager@demo.test"]');
  await expect(row.locator('.mfa-cell')).toHaveText('on');
  await expect(admin.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await row.locator('.reset-mfa').click();
  await expect(admin.locator('#mfa-reset-notice')).toContainText('manager@demo.test');
  await expect(row.locator('.mfa-cell')).toHaveText('off');
  const r = await page.request.get(`${site.url}/api/v1/profile`);
  expect(r.status()).toBe(401);
  await adminContext.close();
  await personContext.close();
});
