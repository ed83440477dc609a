// One devpulse with its demo workspace for a spec file: started before its tests, stopped
// after, signed into as the demo's people. A panic in a page's WASM (a hydration mismatch,
// say) fails the test it happened in, whatever else passes.
import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { DevpulseServer, freePort } from './server';

const root = path.resolve(__dirname, '..', '..');

export class DemoSite {
  private server?: DevpulseServer;
  private readonly crashes: string[] = [];
  private readonly panics: string[] = [];

  /** `name` is the data directory under `.data/`, fresh for every run; `env`, settings of the
   * server's own, made when it starts (a helper server's address, say). */
  constructor(name: string, env: () => Promise<Record<string, string>> = async () => ({})) {
    test.beforeAll(async () => {
      test.setTimeout(120_000);
      const dir = path.join(root, '.data', name);
      rmSync(dir, { recursive: true, force: true });
      this.server = new DevpulseServer(await freePort(), dir, await env());
      await this.server.start();
    });
    test.afterAll(async () => {
      await this.server?.stop();
    });
    test.afterEach(() => {
      this.panics.splice(0);
      expect(this.crashes.splice(0)).toEqual([]);
    });
  }

  get url(): string {
    return this.server!.url;
  }

  /** Signs in through the login form at 1280 px and waits for the page to hydrate. */
  async signIn(page: Page, email = 'dev@demo.test', password = 'demo-developer-pass') {
    await page.setViewportSize({ width: 1280, height: 900 });
    // Which page, and the panic's own words (the hook prints them to the console first).
    page.on('console', (m) => {
      if (m.type() === 'error' && m.text().includes('panicked')) this.panics.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.crashes.push(`${page.url()}: ${e.message}\n${e.stack}\n${this.panics.join('\n')}`));
    await page.goto(`${this.url}/login?next=${encodeURIComponent('/')}`);
    await page.locator('#tenant').fill('demo');
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.locator('#sign-in').click();
    await page.waitForURL((u) => u.pathname === '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }

  /** A bearer token for the API, as `email`. */
  async token(email: string, password: string): Promise<string> {
    const r = await fetch(`${this.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'demo', email, password }),
    });
    return (await r.json()).access_token;
  }
}
