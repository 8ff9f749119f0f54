// Activation patching view (Meng et al. 2022; Wang et al. 2022): run the corrupted prompt,
// put back one clean activation at a time, and see how much of the clean behaviour returns.
// 1 = fully clean, 0 = no effect. Rows are positions (or heads), columns layers; for
// head_z_pos rows are layer·head and columns positions. The sweep fills the grid one layer
// at a time and can be stopped.
//
// Beside it, attribution patching (Nanda 2023): the linear estimate (clean − corrupted) ·
// ∂metric/∂a of every cell at once from one backward pass, with how well the two agree
// (Pearson r over the cells, and the cell where they differ most), so a reader sees where the
// linear approximation holds.

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
/** The attribution-patching result's field for each site; head_z_pos has no estimate. */
const ESTIMATE_FIELD = { resid_pre: 'residPre', attn_out: 'attnOut', mlp_out: 'mlpOut', head_z: 'headZ' };

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onEstimate(): void, onStop(): void}} data
 */
export function createPatchingView(container, { onRun, onEstimate, onStop }) {
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
  const estimateRun = el(
    'button',
    {
      type: 'button',
      id: 'patch-estimate',
      disabled: true,
      title: 'the first-order estimate of every cell at once: (clean − corrupted) · gradient, from one backward pass on the corrupted run',
    },
    'Attribution patching (gradient estimate)',
  );
  const bar = el('progress', { id: 'patch-progress', max: 1, value: 0, 'aria-label': 'layers patched' });
  const count = el('span', { className: 'timing', id: 'patch-count' });
  const legend = el('div', { className: 'legend-slot' });
  const summary = el(
    'div',
    { className: 'summary', id: 'patch-summary', 'aria-live': 'polite' },
    'Not run yet: try the IOI example, then “Patch”.',
  );
  const readout = el('div', { className: 'readout', id: 'patch-readout' });
  const heatmap = createHeatmap({ label: 'activation patching: share of the clean behaviour restored', onHover: hover });
  const realCaption = el('figcaption', { hidden: true }, 'activation patching: one corrupted run per cell');
  const estimateMap = createHeatmap({ label: 'attribution patching: gradient estimate of the share restored', onHover: hoverEstimate });
  const estimateNote = el('div', { className: 'estimate-note', id: 'patch-estimate-note' });
  const estimateFigure = el(
    'figure',
    { className: 'patch-map', id: 'patch-estimate-map', hidden: true },
    el('figcaption', {}, 'attribution patching: (clean − corrupted) · ∂metric/∂a, one backward pass'),
    estimateMap.element,
    estimateNote,
  );
  const agreement = el('div', { className: 'summary', id: 'patch-agreement', hidden: true });
  let shown = null; // the (partial) result on the grid
  let shownMetric = null; // the metric of the sweep on the grid, as JSON
  let estimate = null; // the attribution-patching result
  let estimateMetric = null; // its metric, as JSON
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'The page prompt is the clean run. Patching copies one clean activation into the corrupted run and measures ' +
        'the metric at the last position: 1 (red) restores the clean value, 0 (white) changes nothing.',
    ),
    el(
      'div',
      { className: 'controls' },
      el('label', { className: 'field grow' }, el('span', {}, 'Corrupted prompt (same number of tokens)'), corrupted),
    ),
    el(
      'div',
      { className: 'controls' },
      field('Metric', metric),
      token.element,
      minus.element,
      field('Patch', site),
      run,
      stop,
      estimateRun,
    ),
    el('div', { className: 'run-status' }, bar, count, summary),
    el('div', { className: 'chart-caption' }, el('span', { id: 'patch-axes' }), legend),
    el('div', { className: 'patch-maps' }, el('figure', { className: 'patch-map' }, realCaption, heatmap.element), estimateFigure),
    agreement,
    readout,
  );
  legend.replaceChildren(
    createLegend({
      colour: (x) => diverging(2 * x - 1),
      low: '−1',
      high: '+1',
      title: 'share of the clean − corrupted metric difference restored: 1 = clean, 0 = corrupted, below 0 = further from clean',
    }),
  );
  run.onclick = () => onRun();
  estimateRun.onclick = () => onEstimate();
  site.onchange = () => drawEstimate();
  stop.onclick = () => {
    stop.disabled = true;
    summary.textContent = 'Stopping after the layer being patched…';
    onStop();
  };
  metric.onchange = () => {
    minus.element.hidden = metric.value !== 'logit_diff';
  };

  /** The request, without the clean prompt (the page's).
   *  @returns {{corrupted: string, metric: import('../types/analyses').Metric, site: import('../types/analyses').PatchSite}} */
  const value = () => {
    /** @type {import('../types/analyses').Metric} */
    const m =
      metric.value === 'logit_diff'
        ? { type: 'logit_diff', token: token.value(), minus: minus.value() }
        : { type: 'logprob', token: token.value() };
    return { corrupted: corrupted.value, metric: m, site: /** @type {import('../types/analyses').PatchSite} */ (site.value) };
  };

  return {
    value,
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
      drawEstimate();
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
      estimateRun.disabled = !enabled;
    },
    start() {
      shownMetric = JSON.stringify(value().metric);
      container.dataset.state = 'running';
      summary.textContent = 'Running the clean and corrupted prompts…';
      bar.value = 0;
      count.textContent = '';
      readout.textContent = '';
      shown = null;
      heatmap.clear();
      compare();
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
    estimateStart() {
      estimateMetric = JSON.stringify(value().metric);
      estimate = null;
      estimateMap.clear();
      estimateFigure.hidden = false;
      estimateFigure.dataset.state = 'running';
      estimateNote.textContent = 'Running the clean prompt, then the corrupted one forward and backward…';
      compare();
    },
    /** The first gradient request builds the f32 model. */
    estimatePreparing() {
      estimateNote.textContent = 'Preparing the f32 model for gradients (once: about 650 MB, a few seconds)…';
    },
    estimateFinish(result, ms) {
      estimate = { ...result, ms };
      estimateFigure.dataset.state = 'ready';
      if (shown) draw(shown); // both maps now share the width
      drawEstimate();
    },
    estimateFail(message) {
      estimateNote.textContent = `Failed: ${message}`;
      estimateFigure.dataset.state = 'error';
    },
  };

  /** The estimate for the site chosen in the form; head_z_pos has none. */
  function drawEstimate() {
    if (!estimate) return;
    const s = site.value;
    const values = estimate[ESTIMATE_FIELD[s]];
    const f = (v) => v.toFixed(3).replace('-', '−');
    realCaption.hidden = false;
    if (!values) {
      estimateMap.clear();
      estimateNote.textContent =
        'No gradient estimate for one head at one position (head_z_pos): choose “each head (attn.hook_z), all positions” for the per-head estimate.';
      compare();
      return;
    }
    estimateNote.textContent =
      `${SITES.find(([v]) => v === s)[1]} · clean metric ${f(estimate.cleanMetric)} · corrupted ${f(estimate.corruptedMetric)} ` +
      `(f32 model) · ${(estimate.ms / 1000).toFixed(1)} s`;
    const heads = s === 'head_z';
    const nLayers = values.length;
    estimateMap.draw({
      rows: heads
        ? Array.from({ length: values[0]?.length ?? 0 }, (_, h) => `H${h}`)
        : estimate.cleanTokens.map((t, i) => `${visible(t.text)} ${i}`),
      cols: Array.from({ length: nLayers }, (_, l) => String(l)),
      cellWidth: cellWidthFor(nLayers),
      cellHeight: 20,
      markRows: heads ? new Set() : changedPositions(estimate),
      colour: (r, l) => diverging(values[l][r]),
    });
    compare();
  }

  /** Pearson r between the sweep and the estimate over the cells both have, and the cell
   *  where they differ most; or why they cannot be compared. */
  function compare() {
    agreement.hidden = !estimate;
    if (!estimate) return;
    const values = estimate[ESTIMATE_FIELD[site.value]];
    if (!values) {
      agreement.textContent = '';
      return;
    }
    if (!shown || shown.values.length === 0) {
      agreement.textContent = 'Run the patching sweep for this site (“Patch”) to compare the estimate with the real thing.';
      return;
    }
    if (shown.site !== site.value) {
      agreement.textContent = `The sweep shown patched ${shown.site}: patch ${site.value} to compare it with this estimate.`;
      return;
    }
    const same = (a, b) => a.length === b.length && a.every((t, i) => t.id === b[i].id);
    if (
      !same(shown.cleanTokens, estimate.cleanTokens) ||
      !same(shown.corruptedTokens, estimate.corruptedTokens) ||
      shownMetric !== estimateMetric
    ) {
      agreement.textContent = 'The sweep and the estimate are of different prompts or metrics: run both again to compare them.';
      return;
    }
    const real = [];
    const guess = [];
    const cells = [];
    shown.values.forEach((row, l) =>
      row.forEach((v, r) => {
        real.push(v);
        guess.push(values[l][r]);
        cells.push([l, r]);
      }),
    );
    let worst = 0;
    real.forEach((v, i) => {
      if (Math.abs(v - guess[i]) > Math.abs(real[worst] - guess[worst])) worst = i;
    });
    const r = pearson(real, guess);
    const f = (v) => v.toFixed(3).replace('-', '−');
    const layers = shown.values.length < shown.nLayers ? ` (the ${shown.values.length} layers patched so far)` : '';
    agreement.textContent =
      `Patching vs gradient estimate over ${real.length} cells${layers}: Pearson r = ${Number.isFinite(r) ? f(r) : 'undefined (a constant map)'} · ` +
      `largest disagreement at ${cellName(site.value, ...cells[worst])}: patching ${f(real[worst])}, estimate ${f(guess[worst])}`;
    agreement.dataset.r = String(r);
  }

  /** "L23 H3" or "L4 · position 5 '·John'". */
  function cellName(s, layer, row) {
    if (s === 'head_z') return `L${layer} H${row}`;
    return `L${layer} · position ${row} '${visible(estimate.cleanTokens[row]?.text ?? '')}'`;
  }

  function hoverEstimate(cell) {
    const values = estimate?.[ESTIMATE_FIELD[site.value]];
    if (!cell || !values) {
      readout.textContent = shown ? AXIS_HINT : '';
      return;
    }
    const { row, col: layer } = cell;
    const v = values[layer][row].toFixed(3);
    const real = shown?.site === site.value && layer < shown.values.length ? ` (patching: ${shown.values[layer][row].toFixed(3)})` : '';
    readout.textContent = `estimate ${cellName(site.value, layer, row)}: ${v} of the clean value restored${real}`;
  }

  /** Column width for a map of `nLayers` columns: half the room when the estimate is beside it. */
  function cellWidthFor(nLayers) {
    const room = estimate ? container.clientWidth / 2 - 150 : container.clientWidth - 160;
    return Math.max(estimate ? 14 : 18, Math.min(34, Math.floor(room / nLayers)));
  }

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
    const cellWidth = cellWidthFor(result.nLayers);
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
    compare();
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

/** Pearson's correlation of two equally long lists (NaN when either is constant). */
function pearson(xs, ys) {
  const n = xs.length;
  const mean = (v) => v.reduce((a, b) => a + b, 0) / n;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
