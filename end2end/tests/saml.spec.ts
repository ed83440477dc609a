// SAML 2.0 single sign-on in the browser, against a real identity provider (npm samlify,
// end2end/idp/saml.mjs) on another site: a tenant admin sets it up on /sso from the IdP's
// metadata address, then "Continue with SSO" leaves for the IdP's login form, whose answer
// the browser posts back across sites; the relay page re-posts it with the sign-in's cookie
// and the person lands on the dashboard, made just in time with the role their group maps to.
import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DemoSite } from './demo-site';
import { freePort } from './server';

const site = new DemoSite('e2e-saml');
let idp: ChildProcess;
let idpUrl = '';

test.beforeAll(async () => {
  const port = await freePort();
  // localhost: another site than devpulse on 127.0.0.1, so the IdP's post is cross-site.
  idp = spawn('node', [path.resolve(__dirname, '..', 'idp', 'saml.mjs')], {
    env: { ...process.env, PORT: String(port), ISSUER_HOST: 'localhost' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((ready, fail) => {
    idp.stdout!.on('data', (d) => String(d).includes('READY') && ready());
    idp.on('exit', (code) => fail(new Error(`the identity provider exited (${code})`)));
  });
  idpUrl = `http://localhost:${port}`;
});

test.afterAll(() => {
  idp?.kill();
});

/** Signs in at the IdP as `email` (in `groups`), from devpulse's sign-in page. */
async function throughIdp(page: Page, email: string, groups = '') {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${site.url}/login?next=%2F`);
  await page.locator('#sso-workspace').fill('demo');
  await page.locator('#sso-continue').click();
  await page.waitForURL((u) => u.href.startsWith(`${idpUrl}/sso?SAMLRequest=`), { waitUntil: 'domcontentloaded' });
  await page.locator('#email').fill(email);
  await page.locator('#name').fill('Sam S');
  await page.locator('#groups').fill(groups);
  await page.locator('#sign-in').click();
}

async function me(page: Page): Promise<any> {
  const r = await page.request.get(`${site.url}/api/v1/profile`);
  expect(r.status()).toBe(200);
  return r.json();
}

test('a tenant admin sets up SAML on /sso from the IdP metadata address', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await site.signIn(page, 'admin@demo.test', 'demo-admin-pass');
  await page.goto(`${site.url}/sso`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  // Only the chosen protocol's fields show.
  await expect(page.locator('#sso-saml')).toBeHidden();
  await page.locator('#sso-protocol-choice').selectOption('saml');
  await expect(page.locator('#sso-oidc')).toBeHidden();
  await expect(page.locator('#sso-saml')).toBeVisible();
  // Devpulse's own metadata, for the IdP's administrator.
  const spMetadata = await page.request.get(`${site.url}${await page.locator('#sso-sp-metadata').getAttribute('href')}`);
  expect(spMetadata.status()).toBe(200);
  expect(await spMetadata.text()).toContain(`${site.url}/auth/saml/acs`);

  // Metadata nobody serves is refused by field, in words.
  await page.locator('#sso-saml-metadata-url').fill(`${idpUrl}/nothing-here`);
  await page.locator('#sso-save').click();
  await expect(page.locator('#sso-saml-metadata-url-error')).toContainText('could not be fetched');

  await page.locator('#sso-saml-metadata-url').fill(`${idpUrl}/metadata`);
  await page.locator('#sso-groups').fill('admins = manager');
  await page.locator('#sso-save').click();
  await expect(page.locator('#sso-saved')).toBeVisible();
  await expect(page.locator('#sso-protocol')).toHaveText('SAML 2.0');
  await expect(page.locator('#sso-idp-entity')).toHaveText(`${idpUrl}/metadata`);
  await expect(page.locator('#sso-sp-entity')).toHaveText(`${site.url}/auth/saml/demo/metadata`);
  await expect(page.locator('#sso-acs')).toHaveText(`${site.url}/auth/saml/acs`);
  const axe = await new AxeBuilder({ page }).analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);

  // Reloaded, the page shows the saved protocol's fields before any script runs.
  const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
  const noScript = await plain.newPage();
  await noScript.goto(`${site.url}/sso`);
  await expect(noScript.locator('#sso-saml')).toBeVisible();
  await expect(noScript.locator('#sso-saml-metadata-url')).toHaveValue(`${idpUrl}/metadata`);
  await plain.close();
  await context.close();
});

test('Continue with SSO signs a new person in through the SAML IdP and lands them on the dashboard', async ({ browser }) => {
  const first = await browser.newContext();
  const page = await first.newPage();
  // The IdP's answer arrives by a cross-site post, which carries no SameSite=Lax cookie:
  // the relay page posts it again from devpulse's own page, with the sign-in's cookie.
  const acsPosts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${site.url}/auth/saml/acs`) acsPosts.push(r.postData() ?? '');
  });
  await throughIdp(page, 'sam.saml@demo.test', 'admins');
  await page.waitForURL((u) => u.href === `${site.url}/`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#board')).toBeVisible();
  expect(acsPosts.length).toBe(2);
  expect(acsPosts[1]).toContain('relayed=1');
  const made = await me(page);
  expect(made.email).toBe('sam.saml@demo.test');
  expect(made.name).toBe('Sam S');
  expect(made.role).toBe('manager');
  await first.close();

  // Again from a fresh browser: the same account.
  const second = await browser.newContext();
  const again = await second.newPage();
  await throughIdp(again, 'sam.saml@demo.test');
  await again.waitForURL((u) => u.href === `${site.url}/`);
  expect((await me(again)).id).toBe(made.id);
  await second.close();
});
