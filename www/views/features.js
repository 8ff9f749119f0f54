// Features view: a sparse autoencoder (SAE, SAELens format) read on the page prompt. Per
// token: its strongest active features (click one for its dashboard), how many are active
// (L0) and how much of the residual stream the SAE fails to reconstruct. The SAE comes from a
// folder URL (the page's default, or ?sae=URL) or from local files, and is loaded only once
// this tab is used; or it is trained in the page on the reader's own prompts (./saetrain.js).
// The feature dashboard itself is ./featuredash.js.

import { el, visible, formatMB, formatPercent } from './format.js';
import { css, sequential, textOn } from './colours.js';
import { createNumberInput, integerOf, field } from './inputs.js';
import { createFeatureDashboard } from './featuredash.js';
import { createSaeTraining } from './saetrain.js';

/** What the explorer asks saeFeatures for: the most it gives, so a feature's activation on
 *  every token is known exactly wherever fewer features than this are active. */
export const FEATURES_PER_TOKEN = 64;
const SHOWN_PER_TOKEN = 8;

/**
 * @param {HTMLElement} container
 * @param {{saeUrl: string, onLoadUrl(url: string): void, onLoadFiles(files: File[]): void,
 *          onRun(): void, onSelect(feature: number): void, onClamp(): void, onAblate(): void, onToSteer(): void,
 *          onStop(): void, onTrain(): void, onTrainStop(): void}} data
 */
export function createFeaturesView(
  container,
  { saeUrl, onLoadUrl, onLoadFiles, onRun, onSelect, onClamp, onAblate, onStop, onToSteer, onTrain, onTrainStop },
) {
  const url = el('input', {
    type: 'text',
    id: 'sae-url',
    name: 'sae-url',
    spellcheck: false,
    className: 'wide-input',
    value: relative(saeUrl),
    title: 'a folder holding cfg.json and sae_weights.safetensors (SAELens format), and optionally dashboard.json',
  });
  const load = el('button', { type: 'button', id: 'sae-load', disabled: true }, 'Load SAE');
  const files = el('input', {
    type: 'file',
    id: 'sae-files',
    name: 'sae-files',
    multiple: true,
    accept: '.json,.safetensors',
    disabled: true,
  });
  const bar = el('progress', { id: 'sae-progress', max: 1, value: 0, hidden: true, 'aria-label': 'SAE download' });
  const saeStatus = el('span', { className: 'timing', id: 'sae-status' }, 'No SAE loaded yet: it loads when this tab is first used.');
  const topK = createNumberInput('feat-topk', SHOWN_PER_TOKEN);
  const run = el('button', { type: 'button', id: 'feat-run', className: 'primary', disabled: true }, 'Show features');
  const summary = el(
    'div',
    { className: 'summary', id: 'feat-summary', 'aria-live': 'polite' },
    'Not run yet: once the SAE is loaded, its features on the page prompt appear here.',
  );
  const rows = el('tbody', {});
  const table = el(
    'table',
    { className: 'feature-table', id: 'feat-table', hidden: true },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { title: 'position' }, '#'),
        el('th', {}, 'token'),
        el('th', { title: 'how many features are active on this token' }, 'L0'),
        el('th', { title: 'reconstruction error ‖x − x̂‖² / ‖x‖²: the share of the residual stream the SAE misses' }, 'error'),
        el('th', {}, 'strongest features (activation) — click one for its dashboard'),
      ),
    ),
    rows,
  );
  const dashElement = el('div', { className: 'feature-dash', id: 'feature-dash' });
  const dashboard = createFeatureDashboard(dashElement, { onClamp, onAblate, onStop, onToSteer });
  const training = createSaeTraining({ onTrain, onStop: onTrainStop });
  container.dataset.state = 'idle';
  container.dataset.sae = 'none';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'A sparse autoencoder rewrites the residual stream at one hook as a sparse sum of learned features. For each ' +
        'token of the page prompt: its strongest features, how many fire (L0) and how much the SAE fails to ' +
        'reconstruct. Click a feature for its dashboard: where it fires in the SAE’s corpus, what it writes, and ' +
        'what the text becomes with the feature clamped. No SAE for the layer you care about? Train a small one on ' +
        'your own prompts, below.',
    ),
    el(
      'div',
      { className: 'controls' },
      el('label', { className: 'field grow' }, el('span', {}, 'SAE folder (cfg.json, sae_weights.safetensors, dashboard.json)'), url),
      load,
      el('label', { className: 'field' }, el('span', {}, 'or local files'), files),
    ),
    el('div', { className: 'run-status' }, bar, saeStatus),
    training.element,
    el('div', { className: 'controls' }, field('Features per token', topK), run),
    summary,
    table,
    dashElement,
  );

  let enabled = false;
  let sae = null; // {cfg, dashboard, trained} once loaded or trained
  let shown = null; // the last saeFeatures result
  let selected = null;
  load.onclick = () => {
    let href;
    try {
      href = new URL(url.value.trim(), document.baseURI).href;
    } catch {
      saeStatus.classList.add('failed');
      saeStatus.textContent = `Not a URL: ${JSON.stringify(url.value)}`;
      return;
    }
    onLoadUrl(href);
  };
  files.onchange = () => {
    const chosen = [...files.files];
    files.value = ''; // so choosing the same files again loads them again
    if (chosen.length) onLoadFiles(chosen);
  };
  run.onclick = () => onRun();
  topK.oninput = () => {
    try {
      if (shown) drawTable(perToken());
    } catch {
      // a malformed number: "Show features" says so
    }
  };

  return {
    setEnabled(on) {
      enabled = on;
      load.disabled = !on;
      files.disabled = !on;
      run.disabled = !on || !sae;
      dashboard.setEnabled(on);
      training.setEnabled(on);
    },
    hasSae: () => sae !== null,
    /** The folder URL in the page's default or ?sae=, absolute. */
    saeUrl: () => saeUrl,
    saeLoading(what) {
      container.dataset.sae = 'loading';
      saeStatus.classList.remove('failed');
      bar.hidden = false;
      bar.removeAttribute('value');
      saeStatus.textContent = `Loading the SAE from ${relative(what)}…`;
    },
    /** {file, loaded, total} while downloading. */
    saeProgress({ file, loaded, total }) {
      if (total > 0) {
        bar.max = total;
        bar.value = Math.min(loaded, total);
      }
      saeStatus.textContent = `Downloading ${file}: ${total > 0 ? `${formatMB(loaded)} / ${formatMB(total)}` : formatMB(loaded)}…`;
    },
    /** @param {{cfg, bytes, ms, source}} loaded
     *  @param {{dashboard: object | null, note: string}} dash */
    saeLoaded(loaded, { dashboard: d, note }) {
      const { cfg } = loaded;
      sae = { cfg, dashboard: d };
      bar.hidden = true;
      saeStatus.classList.remove('failed');
      container.dataset.sae = 'ready';
      const from = loaded.source === 'files' ? 'local files' : relative(loaded.source);
      saeStatus.textContent =
        `${cfg.d_sae.toLocaleString('en')} features on ${cfg.hook_name} (${cfg.architecture}, d_in ${cfg.d_in}) · ` +
        `${formatMB(loaded.bytes)} from ${from} in ${(loaded.ms / 1000).toFixed(1)} s · ${note}`;
      fresh();
      training.replaced();
    },
    /** An SAE trained in the page is the loaded one.
     *  @param {{cfg, progress, stopped}} trained
     *  @param {{ms: number, dashboard: object | null, note: string}} data  dashboard: statistics
     *    from the training prompts, or null */
    saeTrained({ cfg, progress, stopped }, { ms, dashboard: d, note }) {
      sae = { cfg, dashboard: d, trained: true };
      bar.hidden = true;
      saeStatus.classList.remove('failed');
      container.dataset.sae = 'ready';
      const last = progress.history.at(-1);
      const quality = last ? `, EV ${formatPercent(last.explainedVariance)}, L0 ${last.l0.toFixed(1)}` : '';
      const steps = stopped ? `stopped at step ${progress.step} of ${progress.steps}` : `${progress.steps} steps`;
      saeStatus.textContent =
        `SAE trained in the page on ${progress.tokens.toLocaleString('en')} tokens of your prompts (d_sae ${cfg.d_sae}${quality}) · ` +
        `${cfg.hook_name} · ${steps} in ${(ms / 1000).toFixed(1)} s · ${note} · kept until the page is reloaded`;
      fresh();
    },
    /** The SAE is gone (it was trained in the page, and the worker restarted). */
    saeLost(message) {
      sae = null;
      fresh();
      container.dataset.sae = 'none';
      container.dataset.state = 'idle';
      saeStatus.classList.add('failed');
      saeStatus.textContent = `${message} No SAE is loaded now: train it again below, or load one.`;
      summary.textContent = 'No SAE is loaded.';
      run.disabled = true;
      training.lost();
    },
    saeFailed(message) {
      bar.hidden = true;
      container.dataset.sae = sae ? 'ready' : 'error';
      saeStatus.classList.add('failed');
      saeStatus.textContent = sae
        ? `The previous SAE stays loaded. ${message}`
        : `${message} — give another folder above, or choose the SAE’s files.`;
    },
    /** Features to show per token. */
    value: () => ({ shown: perToken() }),
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Running the prompt through the SAE…';
    },
    show(result, ms) {
      shown = result;
      drawTable(perToken());
      const n = result.tokens.length;
      const rest = result.l0.slice(1);
      const meanL0 = rest.length ? rest.reduce((a, b) => a + b, 0) / rest.length : result.l0[0];
      const errors = result.relativeError.slice(1);
      const meanError = errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : result.relativeError[0];
      summary.textContent =
        `${n} tokens on ${result.hook} · mean L0 ${meanL0.toFixed(1)} · mean reconstruction error ${percent(meanError)} ` +
        `(both without position 0, the attention sink) · ${(ms / 1000).toFixed(1)} s`;
      table.hidden = false;
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
    /** The dashboard of a feature: {feature, info, entry, contexts}. */
    showFeature({ feature, info, entry, contexts }) {
      selected = feature;
      markSelected();
      dashboard.show({
        feature,
        info,
        entry,
        contexts,
        prompt: promptActivations(feature),
        hook: sae.cfg.hook_name,
        nTokens: sae.dashboard?.n_tokens,
        trained: sae.trained,
      });
    },
    dashboardEntry: (feature) => sae?.dashboard?.features?.[feature] ?? null,
    dashboard,
    training,
  };

  /** A new SAE: nothing read with the old one stays on show. */
  function fresh() {
    shown = null;
    selected = null;
    table.hidden = true;
    dashboard.hide();
    run.disabled = !enabled;
  }

  function perToken() {
    const k = integerOf(topK, 'features per token');
    if (k < 1) throw new Error('features per token must be at least 1');
    return Math.min(k, FEATURES_PER_TOKEN);
  }

  /** The feature's activation at every position of the last result: null where it is not
   *  among the FEATURES_PER_TOKEN strongest and more are active (then it is below `floor`). */
  function promptActivations(feature) {
    if (!shown) return { tokens: [], activations: [], floor: [] };
    const activations = shown.top.map((list, p) => {
      const hit = list.find((a) => a.feature === feature);
      if (hit) return hit.activation;
      return shown.l0[p] <= list.length ? 0 : null;
    });
    const floor = shown.top.map((list) => list.at(-1)?.activation ?? 0);
    return { tokens: shown.tokens, activations, floor };
  }

  function drawTable(k) {
    const scaleOf = (feature) => sae.dashboard?.features?.[feature]?.mx || fallbackScale();
    rows.replaceChildren(
      ...shown.tokens.map(({ id, text }, p) => {
        const sink = p === 0 && shown.tokens.length > 1;
        const chips = shown.top[p].slice(0, k).map(({ feature, activation }) => {
          const colour = sequential(activation / scaleOf(feature));
          const chip = el(
            'button',
            {
              type: 'button',
              className: 'feature-chip',
              title:
                `feature ${feature} · activation ${activation.toFixed(3)}` +
                `${sae.dashboard ? ` (its max over ${sae.trained ? 'your prompts' : 'the corpus'}: ${scaleOf(feature).toFixed(2)})` : ''} · click for its dashboard`,
              style: `background: ${css(colour)}; color: ${textOn(colour)}`,
              dataset: { feature: String(feature), activation: String(activation) },
            },
            el('span', { className: 'feature-id' }, `#${feature}`),
            ` ${activation.toFixed(2)}`,
          );
          chip.onclick = () => onSelect(feature);
          return chip;
        });
        const more = shown.l0[p] > k ? el('span', { className: 'more' }, `+${shown.l0[p] - Math.min(k, shown.top[p].length)} more`) : null;
        return el(
          'tr',
          {
            className: sink ? 'sink' : '',
            dataset: { position: String(p) },
            title: sink
              ? 'position 0: the attention sink — its residual norm dwarfs the others and SAEs are usually trained without it, so its features mean little'
              : '',
          },
          el('td', { className: 'pos' }, String(p)),
          el('td', {}, el('span', { className: 'chip', textContent: visible(text), title: `position ${p} · id ${id}` })),
          el('td', { className: 'num' }, String(shown.l0[p])),
          el('td', { className: 'num' }, percent(shown.relativeError[p])),
          el('td', { className: 'feats' }, ...(chips.length ? chips : [el('span', { className: 'more' }, 'no active feature')]), more),
        );
      }),
    );
    markSelected();
  }

  /** Without a dashboard: the largest activation in the table, position 0 left out. */
  function fallbackScale() {
    const all = shown.top
      .slice(1)
      .flat()
      .map((a) => a.activation);
    return Math.max(1e-6, ...all);
  }

  function markSelected() {
    for (const chip of rows.querySelectorAll('.feature-chip')) chip.classList.toggle('selected', Number(chip.dataset.feature) === selected);
  }
}

/** Reads an SAE chosen as local files: cfg.json, the .safetensors weights, and dashboard.json
 *  if it is among them. Throws, saying what is missing. */
export async function readSaeFiles(files) {
  const weights = files.find((f) => f.name.endsWith('.safetensors'));
  const jsons = files.filter((f) => f.name.endsWith('.json'));
  const dashboard = jsons.find((f) => /dashboard/i.test(f.name));
  const cfg = jsons.find((f) => f.name === 'cfg.json') ?? jsons.find((f) => f !== dashboard);
  if (!cfg || !weights) {
    throw new Error(
      `choose the SAE’s cfg.json and its .safetensors weights together (and dashboard.json if it has one); got ${files.map((f) => f.name).join(', ')}`,
    );
  }
  return {
    cfgText: await cfg.text(),
    weights: await weights.arrayBuffer(),
    dashboardText: dashboard ? await dashboard.text() : null,
  };
}

/** A URL under the page's folder, as a relative path; others as they are. */
function relative(href) {
  const base = new URL('.', document.baseURI).href;
  return href.startsWith(base) ? href.slice(base.length) || './' : href;
}

function percent(x) {
  const p = x * 100;
  return `${p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}
