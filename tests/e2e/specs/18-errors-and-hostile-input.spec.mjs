// Pages that must fail clearly: a truncated model, a missing model, ?sae= (fetched only when
// the Features tab opens) and a bad one, and a bad ?weights=. Each on its own page. Then
// HTML and script payloads in a prompt, on the main page: shown as text, never run.

import { test, check, bannerText, watchConsole, mainPage, uiRun, uiAnalysis, STEP_TIMEOUT_MS } from './fixtures.mjs';

test.describe.configure({ mode: 'serial' });

test('?model=truncated.gguf: clear error in the banner', async ({ app }) => {
  const { context, server } = app;
  const page = await context.newPage();
  watchConsole(page, app.failures);
  await page.goto(`${server.url}?model=truncated.gguf`);
  const message = await page.evaluate(() =>
    window.loupe.ready.then(
      () => null,
      (e) => (e instanceof Error ? e.message : `not an Error: ${String(e)}`),
    ),
  );
  check(typeof message === 'string' && message.length > 10, `ready should reject with a message, got ${JSON.stringify(message)}`);
  const banner = await bannerText(page);
  check(banner.length > 0 && banner.includes(message ?? '\u0000'), `banner ${JSON.stringify(banner)} does not show the error`);
  check(await page.isVisible('h1'), 'the page is blank');
  check(
    server.requests.some((r) => r.path.endsWith('/truncated.gguf') && r.status === 200),
    'truncated.gguf was never requested',
  );
  const cached = await page.evaluate(async () => {
    const cache = await caches.open('loupe-models-v1');
    return Boolean(await cache.match(new URL('truncated.gguf', document.baseURI).href));
  });
  check(!cached, 'the truncated file stayed in the Cache API after failing to parse');
  console.log(`    banner: ${JSON.stringify(banner)}`);
  await page.close();
});

test('?model=missing.gguf: HTTP status in the banner', async ({ app }) => {
  const { context, server } = app;
  const page = await context.newPage();
  await page.goto(`${server.url}?model=missing.gguf`);
  const message = await page.evaluate(() =>
    window.loupe.ready.then(
      () => null,
      (e) => e.message,
    ),
  );
  check(/404/.test(message ?? ''), `ready should reject mentioning HTTP 404, got ${JSON.stringify(message)}`);
  check((await bannerText(page)).includes('404'), 'banner does not show the HTTP status');
  await page.close();
});

test('?sae=tiny-sae/: fetched only once the Features tab is opened, then loaded; a bad ?sae= is reported', async ({ app }) => {
  const { context, server } = app;
  const page = await context.newPage();
  const fetched = () => server.requests.filter((r) => r.path.includes('/tiny-sae/')).length;
  const start = fetched(); // the main page's Features checks fetched it too
  await page.goto(`${server.url}?sae=tiny-sae/`);
  await page.evaluate(() => window.loupe.ready);
  const before = fetched() - start;
  await page.click('#tab-features');
  await page.waitForSelector('#features[data-state="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
  const status = await page.textContent('#sae-status');
  check(before === 0 && fetched() - start > 0, `SAE requests before / after opening the tab: ${before} / ${fetched() - start}`);
  check(/from tiny-sae\//.test(status), `?sae=tiny-sae/ gave ${JSON.stringify(status)}`);
  await page.goto(`${server.url}?sae=ftp://example.com/sae/`);
  const banner = await bannerText(page);
  check(/\?sae=/.test(banner), `a bad ?sae= gave the banner ${JSON.stringify(banner)}`);
  await page.close();
});

test('?weights=f64: reported, defaults used, page usable', async ({ app }) => {
  const { context, server } = app;
  const page = await context.newPage();
  await page.goto(`${server.url}?weights=f64`);
  const banner = await bannerText(page);
  check(/weights/.test(banner), `banner ${JSON.stringify(banner)} does not mention the bad weights value`);
  const info = await page.evaluate(() => window.loupe.ready);
  check(info?.weights === 'quantized', `fell back to weights ${JSON.stringify(info?.weights)}, expected the default 'quantized'`);
  await page.close();
});

test('HTML and script in a prompt stay text: token chips, lens grid and top-k show it, nothing runs', async ({ app }) => {
  const page = await mainPage(app);
  const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
  await uiRun(page, payload);
  await page.click('#tab-lens');
  await uiAnalysis(page, 'lens', '#lens-run');
  const r = await page.evaluate(() => ({
    xss: window.__xss,
    images: document.querySelectorAll('main img').length,
    scripts: document.querySelectorAll('main script').length,
    chips: [...document.querySelectorAll('#tokens .chip')].map((c) => c.textContent).join(''),
  }));
  check(r.xss === undefined && r.images === 0 && r.scripts === 0, `a payload ran or became markup: ${JSON.stringify(r)}`);
  check(r.chips.includes('<img') && r.chips.includes('script>'), `the token chips show the payload as text: ${JSON.stringify(r.chips)}`);
});
