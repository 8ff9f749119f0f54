// An SAE's dashboard for the Features tab (each feature's firing statistics and top contexts):
// dashboard.json next to a loaded SAE, or one made from a trained SAE's training prompts.
// Each comes with a note saying where it came from, or why there is none.

import { FEATURES_PER_TOKEN } from './views/features.js';
import { promptDashboard } from './views/saetrain.js';

/** @typedef {{dashboard: any, note: string}} Dashboard */

/** dashboard.json in an SAE's folder, or null (with a note saying why) when there is none.
 *  @param {string} folder @returns {Promise<Dashboard>} */
export async function fetchDashboard(folder) {
  const url = new URL('dashboard.json', folder).href;
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    return { dashboard: null, note: `dashboard.json could not be fetched (${error.message}): no corpus statistics` };
  }
  if (!response.ok) return { dashboard: null, note: `no dashboard.json (HTTP ${response.status}): no corpus statistics or top contexts` };
  const text = await readCapped(response, MAX_DASHBOARD_BYTES);
  if (text === null) return { dashboard: null, note: `dashboard.json is larger than ${MAX_DASHBOARD_BYTES >> 20} MB: ignored` };
  return parseDashboard(text, url);
}

/** A dashboard.json for d_sae up to 2^16 features is a few MB; anything past this is not one
 *  (and would be parsed on the page's thread). */
const MAX_DASHBOARD_BYTES = 64 << 20;

/** The body as text, or null once it passes maxBytes (checked against Content-Length first,
 *  then as it streams in, so an endless or lying response stops there).
 *  @param {Response} response @param {number} maxBytes @returns {Promise<string | null>} */
async function readCapped(response, maxBytes) {
  const claimed = Number(response.headers.get('content-length') ?? 0);
  if (claimed > maxBytes || !response.body) {
    await response.body?.cancel().catch(() => {});
    return response.body ? null : '';
  }
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const decoder = new TextDecoder();
  return chunks.map((c) => decoder.decode(c, { stream: true })).join('') + decoder.decode();
}

/** @param {string | null | undefined} text @param {string} where @returns {Dashboard} */
export function parseDashboard(text, where) {
  if (text === null || text === undefined) return { dashboard: null, note: 'no dashboard.json: no corpus statistics or top contexts' };
  try {
    return { dashboard: JSON.parse(text), note: '' };
  } catch (error) {
    return { dashboard: null, note: `dashboard.json from ${where} is not JSON (${error.message}): ignored` };
  }
}

/** The dashboard if it describes this SAE's features; else null, and the note says why.
 *  @param {Dashboard} dash  its note is rewritten @param {{d_sae: number}} cfg */
export function checkDashboard(dash, cfg) {
  const features = dash.dashboard?.features;
  if (!dash.dashboard) return null;
  if (!Array.isArray(features) || features.length !== cfg.d_sae) {
    dash.note = `dashboard.json describes ${Array.isArray(features) ? features.length : 'no'} features but the SAE has ${cfg.d_sae}: ignored`;
    return null;
  }
  const n = dash.dashboard.n_tokens;
  dash.note = `dashboard: ${features.length.toLocaleString('en')} features${n ? ` over ${n.toLocaleString('en')} corpus tokens` : ''}`;
  return dash.dashboard;
}

/**
 * A trained SAE's firing statistics and top contexts, from saeFeatures on each training
 * prompt (one call each) until `signal` is aborted; {dashboard: null} with the reason if
 * that fails or no prompt was read.
 * @param {import('./api.js').Loupe} loupe
 * @param {{prompts: string[], prependBos: boolean, cfg: {d_sae: number}, signal: AbortSignal,
 *   onPrompt(done: number, total: number): void}} request  onPrompt: before each prompt
 * @returns {Promise<Dashboard>}
 */
export async function trainedDashboard(loupe, { prompts, prependBos, cfg, signal, onPrompt }) {
  const started = performance.now();
  try {
    const results = [];
    for (const prompt of prompts) {
      if (signal.aborted) break;
      onPrompt(results.length, prompts.length);
      results.push(await loupe.saeFeatures({ prompt, prependBos, topK: FEATURES_PER_TOKEN }));
    }
    if (!results.length) return { dashboard: null, note: 'top contexts skipped' };
    const dashboard = promptDashboard(results, cfg.d_sae);
    const which =
      results.length < prompts.length
        ? `the first ${results.length} of your ${prompts.length} prompts (stopped)`
        : `your ${prompts.length} prompts`;
    const partial = dashboard.partial
      ? ` (${dashboard.partial} tokens have over ${FEATURES_PER_TOKEN} active features: their weakest are left out)`
      : '';
    return { dashboard, note: `top contexts from ${which} in ${((performance.now() - started) / 1000).toFixed(1)} s${partial}` };
  } catch (error) {
    return { dashboard: null, note: `no top contexts: ${error.message}` };
  }
}
