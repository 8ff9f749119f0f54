// Direct logit attribution view (Elhage et al. 2021): how much the embedding, each layer's
// attention (the sum of its heads) and MLP, and each single head write directly towards
// logit(token) − logit(minus) at the last position. A bar chart per layer sits above a
// heads × layers heatmap with the same columns.

import { el, visible } from './format.js';
import { createHeatmap } from './heatmap.js';
import { createBarChart } from './bars.js';
import { createLegend, diverging, themeColour } from './colours.js';
import { createTokenInput } from './inputs.js';

const SERIES = [
  { key: 'attention', name: 'attention (Σ heads)', colour: themeColour('series-4') },
  { key: 'mlp', name: 'MLP', colour: themeColour('series-3') },
  { key: 'embed', name: 'embedding', colour: themeColour('series-muted') },
];
const AXIS_PX = 48; // room for the bar chart's value labels left of the embedding column

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void}} data
 * @returns {{value(): {token, minus}, suggest(token, minus): void, set(token, minus): void,
 *            setEnabled(boolean): void, running(): void, show(result, ms): void, fail(message): void}}
 */
export function createDlaView(container, { onRun }) {
  const token = createTokenInput({ id: 'dla-token', label: 'Token', title: 'exact token text, leading space included (" Mary")' });
  const minus = createTokenInput({
    id: 'dla-minus',
    label: 'minus token (optional)',
    title: 'exact token text; empty: explain the logit of the token alone',
  });
  const run = el('button', { type: 'button', id: 'dla-run', className: 'primary', disabled: true }, 'Attribute');
  const legend = el('div', { className: 'legend-slot' });
  const summary = el(
    'div',
    { className: 'summary', id: 'dla-summary', 'aria-live': 'polite' },
    'Not run yet: “Attribute” explains the page prompt’s last prediction.',
  );
  const readout = el('div', { className: 'readout', id: 'dla-readout' });
  const key = el(
    'div',
    { className: 'series-key' },
    ...SERIES.map((s) => el('span', {}, el('span', { className: 'swatch', style: `background: ${s.colour}` }), s.name)),
  );
  let result = null;
  const bars = createBarChart({ label: 'direct logit attribution per layer', onHover: hoverBar });
  const heatmap = createHeatmap({ label: 'direct logit attribution per head', onHover: hoverHead });
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'What each part writes straight into the logit (difference) at the last position, read through the final ' +
        'norm with its scale frozen: the parts add up to the model’s own value. Red pushes towards the token, blue away.',
    ),
    el('div', { className: 'controls' }, token.element, minus.element, run),
    summary,
    el('div', { className: 'chart-caption' }, key),
    bars.element,
    el('div', { className: 'chart-caption' }, el('span', {}, 'per head (rows) and layer (columns)'), legend),
    heatmap.element,
    readout,
  );
  run.onclick = () => onRun();

  return {
    value: () => ({ token: token.value(), minus: minus.value() }),
    suggest(t, m) {
      token.suggest(t);
      minus.suggest(m);
    },
    /** Sets both tokens, even over what the reader typed (a worked example). */
    set(t, m) {
      token.set(t);
      minus.set(m);
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Attributing…';
    },
    show(dla, ms) {
      result = dla;
      const nLayers = dla.heads.length;
      const nHeads = dla.heads[0]?.length ?? 0;
      const scale = Math.max(1e-6, ...dla.heads.flat().map(Math.abs));
      const cellWidth = Math.max(20, Math.min(34, Math.floor((container.clientWidth - 140) / (nLayers + 1))));
      const grid = heatmap.draw({
        rows: Array.from({ length: nHeads }, (_, h) => `H${h}`),
        cols: Array.from({ length: nLayers }, (_, l) => String(l)),
        cellWidth,
        cellHeight: 20,
        minLeft: AXIS_PX + cellWidth,
        colour: (h, l) => diverging(dla.heads[l][h] / scale),
      });
      const none = () => Array(nLayers + 1).fill(null);
      const values = { attention: none(), mlp: none(), embed: none() };
      values.embed[0] = dla.embed;
      for (let l = 0; l < nLayers; l++) {
        values.attention[l + 1] = dla.heads[l].reduce((a, b) => a + b, 0);
        values.mlp[l + 1] = dla.mlp[l];
      }
      bars.draw({
        categories: ['emb', ...Array(nLayers).fill('')],
        series: SERIES.map((s) => ({ ...s, values: values[s.key] })),
        x0: grid.left - cellWidth,
        columnWidth: cellWidth,
        width: grid.width,
      });
      legend.replaceChildren(
        createLegend({
          colour: (x) => diverging(2 * x - 1),
          low: signed(-scale),
          high: signed(scale),
          title: 'direct logit attribution of one head: blue against the token, white 0, red for it',
        }),
      );
      const what = dla.minus
        ? `logit('${visible(dla.token.text)}') − logit('${visible(dla.minus.text)}')`
        : `logit('${visible(dla.token.text)}')`;
      const at = `position ${dla.position} '${visible(dla.tokens[dla.position]?.text ?? '')}'`;
      summary.textContent =
        `${what} at ${at}: ${fixed(dla.total)} = sum of parts ${fixed(dla.sumOfParts)} ` +
        `(the model's own logits give ${fixed(dla.modelTotal)}; quantized weights round the unembedding's input) ` +
        `(embedding ${signed(dla.embed)}, heads ${signed(dla.heads.flat().reduce((a, b) => a + b, 0))}, ` +
        `MLPs ${signed(dla.mlp.reduce((a, b) => a + b, 0))}) · ${(ms / 1000).toFixed(1)} s`;
      readout.textContent = 'Hover a bar or a head for its value.';
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };

  function hoverHead(cell) {
    if (!result) return;
    if (!cell) {
      readout.textContent = 'Hover a bar or a head for its value.';
      return;
    }
    const v = result.heads[cell.col][cell.row];
    readout.textContent = `L${cell.col} H${cell.row}: ${signed(v)} (${share(v)} of the model’s ${fixed(result.total)})`;
  }

  function hoverBar(i) {
    if (!result) return;
    if (i === null) {
      readout.textContent = 'Hover a bar or a head for its value.';
    } else if (i === 0) {
      readout.textContent = `embedding: ${signed(result.embed)} (${share(result.embed)})`;
    } else {
      const attention = result.heads[i - 1].reduce((a, b) => a + b, 0);
      readout.textContent = `layer ${i - 1}: attention ${signed(attention)} (${share(attention)}), MLP ${signed(result.mlp[i - 1])} (${share(result.mlp[i - 1])})`;
    }
  }

  function share(v) {
    return Math.abs(result.total) > 1e-9 ? `${((100 * v) / result.total).toFixed(0)}%` : '–';
  }
}

function fixed(v) {
  return v.toFixed(3).replace('-', '−');
}

function signed(v) {
  return v >= 0 ? `+${v.toFixed(3)}` : `−${(-v).toFixed(3)}`;
}
