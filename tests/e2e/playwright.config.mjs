// Playwright Test config of the end-to-end test of the built site (dist/) in headless Chromium:
//
//   cd tests/e2e && npx playwright test -c playwright.config.mjs     (LOUPE_DIST=… for another build)
//
// The specs (specs/*.spec.mjs, one per view or feature) run in their numbered order in one
// worker on one page of the explorer, served by server.mjs under /loupe/ (specs/fixtures.mjs).
// Screenshots go to tests/artifacts/.
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.mjs';

const STEP_TIMEOUT_MS = 3 * 60_000; // as specs/fixtures.mjs

export default defineConfig({
  testDir: 'specs',
  testMatch: '**/*.spec.mjs',
  // The machine has few cores and each page runs a 135M model: one worker, files in order.
  workers: 1,
  fullyParallel: false,
  // A test may take what one check of the old script could (two step timeouts); model loading
  // has its own 5-minute bound inside (READY_TIMEOUT_MS).
  timeout: 2 * STEP_TIMEOUT_MS,
  retries: 0,
  reporter: 'list',
  outputDir: 'test-results',
  use: {
    headless: true,
    viewport: { width: 1440, height: 1100 },
    launchOptions: {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    },
  },
});
