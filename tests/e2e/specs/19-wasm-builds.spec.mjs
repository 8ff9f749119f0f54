// The four wasm builds (scripts/build-variants.sh), as the worker picks them: relaxed SIMD
// where Chromium validates it, threads on a cross-origin isolated page, the plain simd128
// builds where the relaxed ones cannot load. All must give the same numbers (same
// algorithms; fused multiply-adds round once instead of twice, work split by rows).

import { test, check, watchConsole } from './fixtures.mjs';

test.describe.configure({ mode: 'serial' });

test('wasm builds: relaxed SIMD and threads where available, plain fallback; same top-5 and greedy tokens', async ({ app }) => {
  const { context, server, isolated, plain, plainIsolated } = app;
  const probe = async (url) => {
    const page = await context.newPage();
    watchConsole(page, app.failures);
    await page.goto(url);
    const out = await page.evaluate(async () => {
      const info = await window.loupe.ready;
      // 41 tokens: enough rows that the threaded build splits every matrix product.
      const run = await window.loupe.run({
        prompt:
          'In 1889 the engineer Gustave Eiffel finished a tower of iron for the World Fair. Today millions of tourists visit it every year. The Eiffel Tower is located in the city of',
        topK: 5,
      });
      const tokens = [];
      await window.loupe.generate(
        { prompt: 'The Eiffel Tower is located in the city of', maxTokens: 5, temperature: 0, stopAtEos: false },
        (t) => {
          tokens.push(t.id);
        },
      );
      const status = document.getElementById('status')?.textContent ?? '';
      return {
        threads: info.threads,
        simd: info.simd,
        isolated: self.crossOriginIsolated,
        top: run.top,
        tokens: JSON.stringify(tokens),
        status,
      };
    });
    await page.close();
    return out;
  };
  const cores = await context
    .pages()[0]
    ?.evaluate(() => navigator.hardwareConcurrency)
    .catch(() => 2);
  const pool = Math.min(cores ?? 2, 8);
  const builds = [
    { name: 'relaxed, 1 thread', url: server.url, threads: 1, simd: 'relaxed', isolated: false },
    { name: 'relaxed, threads', url: isolated.url, threads: pool, simd: 'relaxed', isolated: true },
    { name: 'plain, 1 thread', url: plain.url, threads: 1, simd: 'simd128', isolated: false },
    { name: 'plain, threads', url: plainIsolated.url, threads: pool, simd: 'simd128', isolated: true },
  ];
  const results = [];
  for (const b of builds) {
    const got = await probe(b.url);
    results.push(got);
    check(
      got.isolated === b.isolated && got.threads === b.threads && got.simd === b.simd,
      `${b.name}: got ${JSON.stringify({ threads: got.threads, simd: got.simd, isolated: got.isolated })}`,
    );
    const said = b.threads === 1 ? '1 thread' : `${b.threads} threads`;
    check(
      got.status.includes(`${said}, ${b.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'}`),
      `${b.name}: the status line does not say which build runs: ${got.status}`,
    );
    check(got.top[0]?.token === ' Paris', `${b.name}: top[0] ${JSON.stringify(got.top[0])}`);
  }
  const [first] = results;
  const worst = Math.max(...results.flatMap((r) => first.top.map((t, i) => Math.abs(t.prob - (r.top[i]?.prob ?? -1)))));
  check(worst < 1e-4, `top-5 probabilities differ between builds by ${worst}`);
  for (const [i, r] of results.entries())
    check(r.tokens === first.tokens, `greedy tokens differ: ${builds[i].name} ${r.tokens} vs ${first.tokens}`);
  console.log(`    ${builds.map((b) => b.name).join(' / ')}: top-5 probabilities within ${worst.toExponential(1)} of each other`);
});
