import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// Benchmarks that need a browser: they print figures and assert nothing about speed.
//   DEVPULSE_SERVER_BIN=… npx playwright test -c end2end/bench.config.ts
export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '*.bench.ts',
  timeout: 600_000,
});
