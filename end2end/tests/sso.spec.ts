// Single sign-on in the browser, against a real OpenID Connect provider (npm oidc-provider,
// end2end/idp/oidc.mjs): "Continue with SSO" on the sign-in page, the provider's own login
// form, and back on the dashboard as a person made just in time with the role their group
// maps to. A second sign-in is the same account; a refusal is explained on the sign-in page.
import { test, expect } from './fixtures';
import type { Page, Browser, Request } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DemoSite } from './demo-site';
import { freePort } from './server';
import { Dns } from './dns';

let dns: Dns;
const site = new DemoSite('e2e-sso', async () => {
  dns = await Dns.start();
  return { DEVPULSE_DNS_SERVER: dns.addr };
});
let idp: ChildProcess;
let issuer = '';

/** Starts the provider on a free port (`host` names it in its issuer); resolves when ready. */
async function startIdp(host = '127.0.0.1'): Promise<{ process: ChildProcess; issuer: string }> {
  const port = await freePort();
  const child = spawn('node', [path.resolve(__dirname, '..', 'idp', 'oidc.mjs')], {
    env: {
      ...process.env,
      PORT: String(port),
      ISSUER_HOST: host,
      CLIENTS: JSON.stringify([
        {
          client_id: 'devpulse', client_secret: 's3cret',
          redirect_uris: [`${site.url}/auth/sso/callback`, `${site.url}/api/v1/auth/sso/callback`],
        },
      ]),
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d) => String(d).includes('READY') && ready());
    child.on('exit', (code) => fail(new Error(`the identity provider exited (${code})`)));
  });
  return { process: child, issuer: `http://${host}:${port}` };
}

test.beforeAll(async () => {
  ({ process: idp, issuer } = await startIdp());
  const admin = await site.token('admin@demo.test', 'demo-admin-pass');
  const r = await fetch(`${site.url}/api/v1/sso`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      issuer, client_id: 'devpulse', client_secret: 's3cret',
      group_roles: { admins: 'manager' },
    }),
  });
  expect(r.status, await r.text()).toBe(200);
});

test.afterAll(() => {
  idp?.kill();
  dns?.stop();
});

/** Signs in at the provider as `login`, from devpulse's sign-in page, where `typed` is what
 * the person enters in "Work e-mail or workspace". */
async function throughProvider(page: Page, login: string, typed = 'demo') {
  // The provider's development pages load web fonts, which are not reachable offline.
  await page.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${site.url}/login?next=%2F`);
  await page.locator('#sso-workspace').fill(typed);
  await page.locator('#sso-continue').click();
  await page.waitForURL((u) => u.href.startsWith(issuer), { waitUntil: 'domcontentloaded' });
  if (typed.includes('@')) {
    // The address goes along as login_hint; this provider's form fills it in.
    await expect(page.locator('input[name="login"]')).toHaveValue(typed);
  }
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
}

async function me(page: Page): Promise<any> {
  const r = await page.request.get(`${site.url}/api/v1/profile`);
  expect(r.status()).toBe(200);
  return r.json();
}

test('Continue with SSO signs a new person in at their provider and lands them on the dashboard', async ({ browser }) => {
  const first = await browser.newContext();
  const page = await first.newPage();
  await throughProvider(page, 'admin.grace@demo.test');
  await page.waitForURL((u) => u.href === `${site.url}/`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#board')).toBeVisible();
  const made = await me(page);
  expect(made.email).toBe('admin.grace@demo.test');
  expect(made.role).toBe('manager');
  await page.screenshot({ path: test.info().outputPath('sso-landed.png') });
  await first.close();

  // Again from a fresh browser: the same account, not a second one.
  const second = await browser.newContext();
  const again = await second.newPage();
  await throughProvider(again, 'admin.grace@demo.test');
  await again.waitForURL((u) => u.href === `${site.url}/`);
  expect((await me(again)).id).toBe(made.id);
  await second.close();
});

test('a refusal is explained on the sign-in page', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await throughProvider(page, 'unverified.hal@demo.test');
  await page.waitForURL((u) => u.pathname === '/login');
  await expect(page.locator('#sso-error')).toContainText('has not verified unverified.hal@demo.test');
  await expect(page.locator('#sso-workspace')).toHaveValue('demo');
  await context.close();
});

test('a tenant admin edits single sign-on on /sso, and SSO-only refuses passwords but the break-glass admin', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await site.signIn(page, 'admin@demo.test', 'demo-admin-pass');
  await page.goto(`${site.url}/users`);
  await page.locator('#sso-link').click();
  await page.waitForURL((u) => u.pathname === '/sso');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#sso-issuer')).toHaveValue(issuer);
  await expect(page.locator('#sso-redirect')).toHaveText(`${site.url}/auth/sso/callback`);
  await expect(page.locator('#sso-groups')).toHaveValue('admins = manager');
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`)).toEqual([]);
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'no sideways scroll at 375 px').toBeLessThanOrEqual(0);
  await page.screenshot({ path: test.info().outputPath('sso-settings-375.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // SSO-only needs someone who can still get in when the provider is down.
  await page.locator('#sso-only').check();
  await page.locator('#sso-save').click();
  await expect(page.locator('#sso-break-glass-error')).toContainText('name the tenant admin');
  // A refusal leaves the form as the admin filled it (it is not fetched again and redrawn).
  await page.waitForLoadState('networkidle');
  await expect(page.locator('#sso-only')).toBeChecked();
  await page.locator('#sso-break-glass').fill('admin@demo.test');
  await page.locator('#sso-groups').fill('admins = manager\nleads = manager');
  await page.locator('#sso-save').click();
  await expect(page.locator('#sso-saved')).toBeVisible();
  await page.reload();
  await expect(page.locator('#sso-only')).toBeChecked();
  await expect(page.locator('#sso-groups')).toHaveValue('admins = manager\nleads = manager');

  // Passwords are refused now, with the way in named; the break-glass admin still gets in.
  const other = await browser.newContext();
  const dev = await other.newPage();
  await dev.goto(`${site.url}/login`);
  await dev.locator('#tenant').fill('demo');
  await dev.locator('#email').fill('dev@demo.test');
  await dev.locator('#password').fill('demo-developer-pass');
  await dev.locator('#sign-in').click();
  await expect(dev.locator('.error[role="alert"]')).toContainText('use Continue with SSO');
  expect(await site.token('admin@demo.test', 'demo-admin-pass')).toBeTruthy();

  await page.locator('#sso-only').uncheck();
  await page.locator('#sso-save').click();
  await expect(page.locator('#sso-saved')).toBeVisible();
  expect(await site.token('dev@demo.test', 'demo-developer-pass')).toBeTruthy();
  await other.close();
  await context.close();
});

test('a work address finds its workspace by domain (home-realm discovery)', async ({ browser }) => {
  const admin = await site.token('admin@demo.test', 'demo-admin-pass');
  const r = await fetch(`${site.url}/api/v1/sso`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      issuer, client_id: 'devpulse', client_secret: '',
      email_domains: ['demo.test'], group_roles: { admins: 'manager' },
    }),
  });
  const saved = await r.json();
  expect(r.status, JSON.stringify(saved)).toBe(200);
  // The workspace proves it controls the domain: the TXT record /sso asks for, then Check now.
  const [proof] = saved.domains;
  dns.set(proof.record_name, [proof.record_value]);
  const adminContext = await browser.newContext();
  const adminPage = await adminContext.newPage();
  await site.signIn(adminPage, 'admin@demo.test', 'demo-admin-pass');
  await adminPage.goto(`${site.url}/sso`);
  await expect(adminPage.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const row = adminPage.locator('#sso-domains tr[data-domain="demo.test"]');
  await expect(row).toContainText(proof.record_value);
  await expect(row.locator('.domain-status')).toHaveText('Not checked yet');
  await row.getByRole('button', { name: 'Check demo.test now' }).click();
  await expect(row.locator('.domain-status')).toContainText('Proven');
  const axe = await new AxeBuilder({ page: adminPage }).analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
  await adminContext.close();

  const context = await browser.newContext();
  const page = await context.newPage();
  await throughProvider(page, 'new.ida@demo.test', 'new.ida@demo.test');
  await page.waitForURL((u) => u.href === `${site.url}/`);
  expect((await me(page)).email).toBe('new.ida@demo.test');

  // An address no workspace's provider names is explained, and stays typed in.
  await page.goto(`${site.url}/login`);
  await page.locator('#sso-workspace').fill('ida@elsewhere.test');
  await page.locator('#sso-continue').click();
  await page.waitForURL((u) => u.pathname === '/login');
  await expect(page.locator('#sso-error')).toContainText('no workspace signs in elsewhere.test addresses');
  await expect(page.locator('#sso-workspace')).toHaveValue('ida@elsewhere.test');
  await context.close();
});

test('Try sign-in shows an admin what the provider sent, and signs nobody in', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await context.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());
  await site.signIn(page, 'admin@demo.test', 'demo-admin-pass');
  await page.goto(`${site.url}/sso`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const [tab] = await Promise.all([context.waitForEvent('page'), page.locator('#sso-try').click()]);
  await tab.waitForURL((u) => u.href.startsWith(issuer), { waitUntil: 'domcontentloaded' });
  await tab.locator('input[name="login"]').fill('tried.tess@demo.test');
  await tab.locator('input[name="password"]').fill('anything');
  await tab.locator('button[type="submit"]').click();
  await tab.waitForURL((u) => u.pathname === '/sso/try');
  await expect(tab.locator('#try-email')).toHaveText('tried.tess@demo.test');
  await expect(tab.locator('#try-verified')).toHaveText('yes');
  await expect(tab.locator('#try-outcome')).toContainText(
    'would create an account for tried.tess@demo.test with the role developer',
  );
  // Still the admin in both tabs; the person tried was not made.
  expect((await me(tab)).email).toBe('admin@demo.test');
  const admin = await site.token('admin@demo.test', 'demo-admin-pass');
  const users = await (await fetch(`${site.url}/api/v1/users`, { headers: { authorization: `Bearer ${admin}` } })).text();
  expect(users).not.toContain('tried.tess@demo.test');
  const results = await new AxeBuilder({ page: tab }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`)).toEqual([]);
  await tab.screenshot({ path: test.info().outputPath('sso-try.png'), fullPage: true });
  await context.close();
});

test('a provider that posts its answer (form_post) from another site signs people in through the relay page', async ({ browser }) => {
  // A provider on another site than devpulse (localhost against 127.0.0.1): the browser sends
  // its post without devpulse's SameSite cookies, as a real provider's would be.
  const other = await startIdp('localhost');
  const admin = await site.token('admin@demo.test', 'demo-admin-pass');
  const configure = (body: object) =>
    fetch(`${site.url}/api/v1/sso`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'devpulse', group_roles: { admins: 'manager' }, ...body }),
    });
  try {
    let r = await configure({ issuer: other.issuer, client_secret: 's3cret' });
    expect(r.status, await r.text()).toBe(200);

    // The admin switches the answer to a form post on /sso; the address to register follows.
    const adminContext = await browser.newContext();
    const settings = await adminContext.newPage();
    await site.signIn(settings, 'admin@demo.test', 'demo-admin-pass');
    await settings.goto(`${site.url}/sso`);
    await expect(settings.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(settings.locator('#sso-response-mode')).toHaveValue('query');
    await settings.locator('#sso-response-mode').selectOption('form_post');
    await settings.locator('#sso-save').click();
    await expect(settings.locator('#sso-saved')).toBeVisible();
    await settings.reload();
    await expect(settings.locator('#sso-response-mode')).toHaveValue('form_post');
    await expect(settings.locator('#sso-redirect')).toHaveText(`${site.url}/api/v1/auth/sso/callback`);
    await adminContext.close();

    const context = await browser.newContext();
    const page = await context.newPage();
    await context.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());
    const posts: Request[] = [];
    page.on('request', (req) => {
      if (req.method() === 'POST' && req.url() === `${site.url}/api/v1/auth/sso/callback`) {
        posts.push(req);
      }
    });
    await page.goto(`${site.url}/login?next=%2F`);
    await page.locator('#sso-workspace').fill('demo');
    await page.locator('#sso-continue').click();
    await page.waitForURL((u) => u.href.startsWith(other.issuer), { waitUntil: 'domcontentloaded' });
    await page.locator('input[name="login"]').fill('admin.posy@demo.test');
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((u) => u.href === `${site.url}/`);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    const person = await me(page);
    expect(person.email).toBe('admin.posy@demo.test');
    expect(person.role).toBe('manager');
    // The provider's post came from its site, so Chromium sent it without the cookie that
    // binds the sign-in; the relay page's post came from ours, with it.
    const bound = await Promise.all(
      posts.map(async (p) => /(^|; )devpulse_sso=/.test((await p.allHeaders())['cookie'] ?? '')),
    );
    expect(bound).toEqual([false, true]);
    await context.close();
  } finally {
    const r = await configure({ issuer, client_secret: 's3cret', response_mode: 'query' });
    expect(r.status).toBe(200);
    other.process.kill();
  }
});
