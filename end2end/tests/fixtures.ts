// Every spec's `test`: Playwright's own, plus a record of what the browser said while it ran
// (console errors, page errors, failed requests, server errors), printed when a test fails so
// that a failure seen only in CI says what the page went through.
import { test as base, expect, BrowserContext, Page } from '@playwright/test';

export { expect };

export const test = base.extend<{ browserLog: string[] }>({
  browserLog: [
    async ({ context, browser }, use, testInfo) => {
      const log: string[] = [];
      const started = Date.now();
      const note = (line: string) => log.push(`+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
      const watchPage = (page: Page) => {
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') note(`console.${m.type()} ${page.url()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => note(`pageerror ${page.url()}: ${e.message}`));
        page.on('requestfailed', (r) => note(`request failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
        page.on('response', (r) => {
          if (r.status() >= 500) note(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
        });
        page.on('load', () => note(`loaded ${page.url()}`));
      };
      const watchContext = (c: BrowserContext) => {
        c.pages().forEach(watchPage);
        c.on('page', watchPage);
      };
      watchContext(context);
      // Tests that open their own contexts (a second person, a browser without JavaScript).
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (...args: Parameters<typeof newContext>) => {
        const c = await newContext(...args);
        watchContext(c);
        return c;
      };
      await use(log);
      browser.newContext = newContext;
      if (testInfo.status !== testInfo.expectedStatus) {
        // Where the page stood: whether the WASM ran, and which server data it was given.
        for (const page of context.pages()) {
          const state = await page
            .evaluate(() => ({
              hydrated: document.body?.getAttribute('data-hydrated'),
              resources: Object.keys((window as any).__RESOLVED_RESOURCES ?? {}).join(','),
            }))
            .catch((e) => String(e));
          note(`at the end ${page.url()}: ${JSON.stringify(state)}`);
        }
        const text = log.join('\n');
        console.log(`--- browser log of "${testInfo.title}" ---\n${text}\n--- end of browser log ---`);
        await testInfo.attach('browser-log', { body: text, contentType: 'text/plain' });
      }
    },
    { auto: true },
  ],
});
