// The header's status area: model name, a load progress bar with phase and MB, and the
// banner (role=alert) that carries every error. A failure is never shown as a blank banner.

import { el, formatMB } from './format.js';

const PHASE_TEXT = {
  compile: 'Compiling WebAssembly…',
  cache: 'Reading the model from the browser cache…',
  download: 'Downloading the model…',
  parse: 'Parsing the model…',
};

/**
 * @param {HTMLElement} container
 * @param {{modelName: string}} data
 */
export function createStatus(container, { modelName }) {
  const name = el('span', { className: 'model-name' }, modelName);
  const details = el('span', { className: 'model-details' });
  const phase = el('span', { className: 'phase' }, 'Starting…');
  const bar = el('progress', { className: 'load-progress', max: 1, 'aria-label': 'model loading progress' });
  const amount = el('span', { className: 'amount' });
  const progress = el('div', { className: 'progress' }, phase, bar, amount);
  const banner = el('div', { className: 'banner', role: 'alert', hidden: true });
  container.replaceChildren(el('div', { className: 'model' }, name, details), progress, banner);

  return {
    /** @param {{phase: string, loaded: number, total: number}} p */
    progress({ phase: p, loaded, total }) {
      progress.hidden = false;
      phase.textContent = PHASE_TEXT[p] ?? `${p}…`;
      if (total > 0) {
        bar.max = total;
        bar.value = Math.min(loaded, total);
        amount.textContent = `${formatMB(loaded)} / ${formatMB(total)}`;
      } else {
        bar.removeAttribute('value'); // indeterminate
        amount.textContent = loaded > 0 ? formatMB(loaded) : '';
      }
      container.dataset.phase = p;
    },
    /** The model is ready: hide the bar, show what was loaded. */
    loaded({ info, source, bytes, ms, weights }) {
      progress.hidden = true;
      container.dataset.phase = 'ready';
      const c = info?.config ?? {};
      details.textContent =
        ` · ${c.n_layers} layers · ${c.n_heads} heads · d_model ${c.d_model} · ${info?.weights ?? weights}` +
        ` · ${formatMB(bytes)} from ${source === 'cache' ? 'cache' : 'network'} in ${(ms / 1000).toFixed(1)} s` +
        // Which wasm build runs (www/worker.js picks it): speed differs by about 1.5× between them.
        (info?.threads
          ? ` · ${info.threads === 1 ? '1 thread' : `${info.threads} threads`}, ${info.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'}`
          : '');
    },
    loadFailed() {
      progress.hidden = true;
      container.dataset.phase = 'failed';
    },
    error(message) {
      show('error', message || 'Something went wrong, and no error message was given.');
    },
    notice(message) {
      show('notice', message);
    },
    clear() {
      banner.hidden = true;
      banner.textContent = '';
      banner.className = 'banner';
    },
  };

  function show(kind, message) {
    banner.className = `banner ${kind}`;
    banner.textContent = message;
    banner.hidden = false;
  }
}
