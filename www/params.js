// Which model to load, from the page URL: ?model=URL&weights=quantized|q8|f32; and which
// sparse autoencoder the Features tab loads: ?sae=URL (a folder).
// Bad values never break the page: they are reported and the default is used instead.

import { WEIGHTS } from './protocol.js';

export const DEFAULT_MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';
// quantized: the file's own Q4_1 blocks, run by our simd128 kernels (crates/model/src/qmatmul.rs):
// as fast as the Q8_0 re-encoding (q8) at 0.7× its wasm memory, and no re-encoding error
// (docs/BENCHMARKS.md, "Quantized kernels").
export const DEFAULT_WEIGHTS = 'quantized';
/** The SAE trained for the default model (scripts/train_sae.py): a folder in SAELens's format. */
export const DEFAULT_SAE = 'saes/smollm2-135m-instruct-l12-resid/';

/**
 * @param {string} search  location.search
 * @param {string} base    document.baseURI: relative model URLs resolve against the page,
 *                         so the site works under any sub-path
 * @returns {{url: string, weights: string, warnings: string[]}}
 */
export function modelFromParams(search, base) {
  const params = new URLSearchParams(search);
  const warnings = [];
  let url = new URL(DEFAULT_MODEL, base).href;
  let weights = DEFAULT_WEIGHTS;

  const model = params.get('model');
  if (model !== null) {
    const parsed = parseUrl(model.trim(), base);
    if (!model.trim()) {
      warnings.push('Ignoring ?model=: it is empty. Loading the default model.');
    } else if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
      warnings.push(`Ignoring ?model=${model}: expected an http(s) URL or a path relative to this page. Loading the default model.`);
    } else {
      url = parsed.href;
    }
  }

  const w = params.get('weights');
  if (w !== null) {
    if (WEIGHTS.includes(w)) weights = w;
    else warnings.push(`Ignoring ?weights=${w}: expected ${WEIGHTS.join(' or ')}. Using ${DEFAULT_WEIGHTS}.`);
  }
  return { url, weights, warnings };
}

/**
 * @param {string} search  location.search
 * @param {string} base    document.baseURI
 * @returns {{url: string, warnings: string[]}}  url: the SAE's folder, ending in '/'
 */
export function saeFromParams(search, base) {
  const warnings = [];
  let url = new URL(DEFAULT_SAE, base).href;
  const sae = new URLSearchParams(search).get('sae');
  if (sae !== null) {
    const parsed = parseUrl(sae.trim(), base);
    if (!sae.trim() || !parsed || !['http:', 'https:'].includes(parsed.protocol)) {
      warnings.push(
        `Ignoring ?sae=${sae}: expected an http(s) URL or a path relative to this page (a folder with cfg.json and sae_weights.safetensors). Using the default SAE.`,
      );
    } else {
      if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
      url = parsed.href;
    }
  }
  return { url, warnings };
}

function parseUrl(text, base) {
  try {
    return new URL(text, base);
  } catch {
    return null;
  }
}

/** The file name of a model URL, for display. */
export function modelName(url) {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop()) || url;
  } catch {
    return url;
  }
}
