// Activation patching view (Meng et al. 2022; Wang et al. 2022): run the corrupted prompt,
// put back one clean activation at a time, and see how much of the clean behaviour returns.
// 1 = fully clean, 0 = no effect. Rows are positions (or heads), columns layers; for
// head_z_pos rows are layer·head and columns positions. The sweep fills the grid one layer
// at a time and can be stopped.

import { el, visible } from './format.js';
import { createHeatmap } from './heatmap.js';
import { createLegend, diverging } from './colours.js';
import { createTokenInput, createSelect, field } from './inputs.js';

const SITES = [
  ['resid_pre', 'residual stream (resid_pre), per position'],
  ['attn_out', 'attention output (attn_out), per position'],
  ['mlp_out', 'MLP output (mlp_out), per position'],
  ['head_z', 'each head (attn.hook_z), all positions'],
  ['head_z_pos', 'each head at each position (attn.hook_z)'],
];
/** Row height (CSS px) of the head × position grid: 270 rows for the default model. */
const HEAD_POS_ROW = 7;
const METRICS = [
  ['logit_diff', 'logit difference'],
  ['logprob', 'log-probability'],
];
const AXIS_HINT = 'Hover a cell: the share of the clean − corrupted difference it restores.';

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onStop(): void}} data
 */
export function createPatchingView(container, { onRun, onStop }) {
  const corrupted = el('input', {
    type: 'text',
    id: 'patch-corrupted',
    name: 'patch-corrupted',
    spellcheck: false,
    className: 'wide-input',
    placeholder: 'the page prompt with a few tokens changed, e.g. one name for another',
  });
  const metric = createSelect('patch-metric', METRICS, 'logit_diff');
  const token = createTokenInput({ id: 'patch-token', label: 'Token', title: 'exact token text, leading space included (" Mary")' });
  const minus = createTokenInput({ id: 'patch-minus', label: 'minus token', title: 'exact token text, leading space included (" John")' });
  const site = createSelect('patch-site', SITES, 'resid_pre');
  const run = el('button', { type: 'button', id: 'patch-run', className: 'primary', disabled: true }, 'Patch');
  const stop = el('button', { type: 'button', id: 'patch-stop', disabled: true }, 'Stop');
  const bar = el('progress', { id: 'patch-progress', max: 1, value: 0, 'aria-label': 'layers patched' });
  const count = el('span', { className: 'timing', id: 'patch-count' });
  const legend = el('div', { className: 'legend-slot' });
  const summary = el('div', { className: 'summary', id: 'patch-summary', 'aria-live': 'polite' }, 'Not run yet: try the IOI example, then “Patch”.');
  const readout = el('div', { className: 'readout', id: 'patch-readout' });
  const heatmap = createHeatmap({ label: 'activation patching: share of the clean behaviour restored', onHover: hover });
  let shown = null; // the (partial) result on the grid
  container.dataset.state = 'idle';
  container.replaceChildren(
    el('p', { className: 'explain' },
      'The page prompt is the clean run. Patching copies one clean activation into the corrupted run and measures ' +
        'the metric at the last position: 1 (red) restores the clean value, 0 (white) changes nothing.'),
    el('div', { className: 'controls' }, el('label', { className: 'field grow' }, el('span', {}, 'Corrupted prompt (same number of tokens)'), corrupted)),
    el('div', { className: 'controls' }, field('Metric', metric), token.element, minus.element, field('Patch', site), run, stop),
    el('div', { className: 'run-status' }, bar, count, summary),
    el('div', { className: 'chart-caption' }, el('span', { id: 'patch-axes' }), legend),
    heatmap.element,
    readout,
  );
  legend.replaceChildren(createLegend({
    colour: (x) => diverging(2 * x - 1),
    low: '−1',
    high: '+1',
    title: 'share of the clean − corrupted metric difference restored: 1 = clean, 0 = corrupted, below 0 = further from clean',
  }));
  run.onclick = () => onRun();
  stop.onclick = () => {
    stop.disabled = true;
    summary.textContent = 'Stopping after the layer being patched…';
    onStop();
  };
  metric.onchange = () => {
    minus.element.hidden = metric.value !== 'logit_diff';
  };

  return {
    /** The request, without the clean prompt (the page's). */
    value() {
      const m = metric.value === 'logit_diff'
        ? { type: 'logit_diff', token: token.value(), minus: minus.value() }
        : { type: 'logprob', token: token.value() };
      return { corrupted: corrupted.value, metric: m, site: site.value };
    },
    suggest(t, m) {
      token.suggest(t);
      minus.suggest(m);
    },
    /** Fills the form with a worked example (the clean prompt goes to the page). */
    setExample(example) {
      corrupted.value = example.corrupted;
      metric.value = example.metric.type;
      metric.onchange();
      token.set(example.metric.token);
      minus.set(example.metric.minus ?? '');
      site.value = example.site;
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    start() {
      container.dataset.state = 'running';
      summary.textContent = 'Running the clean and corrupted prompts…';
      bar.value = 0;
      count.textContent = '';
      readout.textContent = '';
      shown = null;
      heatmap.clear();
      stop.disabled = false;
    },
    progress(partial) {
      draw(partial);
      bar.max = partial.nLayers;
      bar.value = partial.layersDone;
      count.textContent = `${partial.layersDone} / ${partial.nLayers} layers`;
      summary.textContent = `${metrics(partial)} · patching layer ${Math.min(partial.layersDone, partial.nLayers - 1)}…`;
    },
    finish(result, ms) {
      draw(result);
      bar.max = result.nLayers;
      bar.value = result.layersDone;
      count.textContent = `${result.layersDone} / ${result.nLayers} layers`;
      const stopped = result.stopped ? ` · stopped after ${result.layersDone} of ${result.nLayers} layers` : '';
      summary.textContent = `${metrics(result)} · ${(ms / 1000).toFixed(1)} s${stopped}`;
      readout.textContent = AXIS_HINT;
      stop.disabled = true;
      container.dataset.state = result.stopped ? 'stopped' : 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      stop.disabled = true;
      container.dataset.state = 'error';
    },
  };

  function draw(result) {
    shown = result;
    if (result.site === 'head_z_pos') {
      drawHeadPositions(result);
      return;
    }
    const heads = result.site === 'head_z';
    const clean = result.cleanTokens;
    const units = heads ? (result.values[0]?.length ?? 0) : clean.length;
    const changed = changedPositions(result);
    const cellWidth = Math.max(18, Math.min(34, Math.floor((container.clientWidth - 160) / result.nLayers)));
    container.querySelector('#patch-axes').textContent = heads
      ? 'rows: heads · columns: layers'
      : 'rows: positions (changed tokens in orange) · columns: layers';
    if (heads && units === 0) return; // the first layer tells how many heads there are
    heatmap.draw({
      rows: heads ? Array.from({ length: units }, (_, h) => `H${h}`) : clean.map((t, i) => `${visible(t.text)} ${i}`),
      cols: Array.from({ length: result.nLayers }, (_, l) => String(l)),
      cellWidth,
      cellHeight: 20,
      markRows: heads ? new Set() : changed,
      colour: (r, l) => (l < result.values.length ? diverging(result.values[l][r]) : null),
    });
  }

  /** head_z_pos: rows layer·head (L0 H0, L0 H1, …), columns clean positions;
   *  values[layer][h * positions + p]. Only each layer's first head is labelled (rows are
   *  thin); the hover readout names every cell. */
  function drawHeadPositions(result) {
    const clean = result.cleanTokens;
    const positions = clean.length;
    const nHeads = headsOf(result);
    container.querySelector('#patch-axes').textContent =
      'rows: layer · head (each layer from H0) · columns: positions (changed tokens in orange)';
    if (nHeads === 0) return; // the first layer tells how many heads there are
    const cellWidth = Math.max(14, Math.min(40, Math.floor((container.clientWidth - 160) / Math.max(1, positions))));
    heatmap.draw({
      rows: Array.from({ length: result.nLayers * nHeads }, (_, r) => (r % nHeads === 0 ? `L${r / nHeads} H0` : '')),
      cols: clean.map((t, i) => `${visible(t.text)} ${i}`),
      cellWidth,
      cellHeight: HEAD_POS_ROW,
      rotateColumnLabels: true,
      markCols: changedPositions(result),
      colour: (r, p) => {
        const layer = Math.floor(r / nHeads);
        return layer < result.values.length ? diverging(result.values[layer][(r % nHeads) * positions + p]) : null;
      },
    });
  }

  function hover(cell) {
    if (!cell || !shown) {
      readout.textContent = shown ? AXIS_HINT : '';
      return;
    }
    if (shown.site === 'head_z_pos') {
      const nHeads = headsOf(shown);
      const positions = shown.cleanTokens.length;
      const layer = Math.floor(cell.row / nHeads);
      const h = cell.row % nHeads;
      const p = cell.col;
      const c = shown.cleanTokens[p];
      const k = shown.corruptedTokens[p];
      const swap = c.id === k?.id ? '' : ` (corrupted '${visible(k?.text ?? '')}')`;
      if (layer >= shown.values.length) {
        readout.textContent = `L${layer} H${h} at '${visible(c.text)}' ${p}: not patched yet`;
        return;
      }
      const v = shown.values[layer][h * positions + p];
      readout.textContent = `L${layer} H${h} at '${visible(c.text)}' ${p}${swap}: ${v.toFixed(3)} of the clean value restored`;
      return;
    }
    const { row, col: layer } = cell;
    if (layer >= shown.values.length) {
      readout.textContent = `layer ${layer}: not patched yet`;
      return;
    }
    const v = shown.values[layer][row];
    if (shown.site === 'head_z') {
      readout.textContent = `L${layer} H${row}: ${v.toFixed(3)} of the clean value restored`;
      return;
    }
    const c = shown.cleanTokens[row];
    const k = shown.corruptedTokens[row];
    const swap = c.id === k.id ? '' : ` (corrupted '${visible(k.text)}')`;
    readout.textContent = `L${layer} · position ${row} '${visible(c.text)}'${swap}: ${v.toFixed(3)} of the clean value restored`;
  }
}

/** Positions where the clean and corrupted tokens differ. */
function changedPositions(result) {
  return new Set(result.cleanTokens.flatMap((t, i) => (t.id !== result.corruptedTokens[i]?.id ? [i] : [])));
}

/** head_z_pos: heads per layer, from the first finished layer (0 before it). */
function headsOf(result) {
  const positions = result.cleanTokens.length;
  return positions > 0 && result.values.length > 0 ? Math.round(result.values[0].length / positions) : 0;
}

function metrics(r) {
  const f = (v) => v.toFixed(3).replace('-', '−');
  return `clean metric ${f(r.cleanMetric)} · corrupted ${f(r.corruptedMetric)}`;
}
