// Logit lens view (nostalgebraist 2020): what the model would predict if the residual stream
// stopped early. Rows are the stream entering each block (blocks.L.hook_resid_pre) and
// leaving the last (hook_resid_post), columns the prompt's positions; each cell shows its
// top-1 token and is coloured by the target's probability (the top-1's without a target).

import { el, visible, formatPercent } from './format.js';
import { createHeatmap } from './heatmap.js';
import { createLegend, sequential } from './colours.js';
import { createTokenInput } from './inputs.js';

const CELL_HEIGHT = 18;
const MIN_CELL_WIDTH = 48;
const MAX_CELL_WIDTH = 84;

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void}} data
 * @returns {{value(): {target: string}, suggestTarget(text): void, setTarget(text): void, setEnabled(boolean): void,
 *            running(): void, show(result, ms): void, fail(message): void}}
 */
export function createLensView(container, { onRun }) {
  const target = createTokenInput({
    id: 'lens-target',
    label: 'Target token',
    title: 'exact token text, leading space included (" Paris"); empty: colour by the top-1 probability',
  });
  const run = el('button', { type: 'button', id: 'lens-run', className: 'primary', disabled: true }, 'Show logit lens');
  const legend = el('div', { className: 'legend-slot' });
  const summary = el(
    'div',
    { className: 'summary', id: 'lens-summary', 'aria-live': 'polite' },
    'Not run yet: “Show logit lens” reads the page prompt at every layer.',
  );
  const readout = el('div', { className: 'readout', id: 'lens-readout' });
  let result = null;
  const heatmap = createHeatmap({ label: 'logit lens: top-1 token per layer and position', onHover: hover });
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Each row reads the residual stream at one depth through the final norm and the unembedding, as if the ' +
        'model ended there. A cell shows the top-1 prediction at that position, coloured by the target’s probability ' +
        '(the top-1’s when no target is given).',
    ),
    el('div', { className: 'controls' }, target.element, run, legend),
    summary,
    heatmap.element,
    readout,
  );
  run.onclick = () => onRun();

  return {
    value: () => ({ target: target.value() }),
    suggestTarget: (text) => target.suggest(text),
    setTarget: (text) => target.set(text),
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Reading every layer through the unembedding…';
    },
    show(lens, ms) {
      result = lens;
      const hasTarget = Boolean(lens.target);
      const probability = (cell) => (hasTarget ? Math.exp(cell.targetLogprob) : (cell.top[0]?.prob ?? 0));
      const n = lens.tokens.length;
      const available = Math.max(320, container.clientWidth - 120);
      const cellWidth = Math.max(MIN_CELL_WIDTH, Math.min(MAX_CELL_WIDTH, Math.floor(available / Math.max(1, n))));
      heatmap.draw({
        rows: lens.rows.map(rowLabel),
        cols: lens.tokens.map((t, i) => `${visible(t.text)} ${i}`),
        cellWidth,
        cellHeight: CELL_HEIGHT,
        gap: 1,
        colour: (r, c) => sequential(probability(lens.cells[r][c])),
        text: (r, c) => visible(lens.cells[r][c].top[0]?.token ?? ''),
      });
      const what = hasTarget ? `p('${visible(lens.target.text)}')` : 'top-1 probability';
      legend.replaceChildren(createLegend({ colour: sequential, low: '0', high: '1', title: `cell colour: ${what}` }));
      const last = lens.cells.at(-1)?.at(-1);
      const final =
        hasTarget && last
          ? `Final layer, last position: '${visible(lens.target.text)}' ${formatPercent(Math.exp(last.targetLogprob))}, rank ${last.targetRank + 1}. `
          : '';
      summary.textContent = `${final}Colour: ${what}. ${lens.rows.length} rows × ${n} positions · ${(ms / 1000).toFixed(1)} s`;
      readout.textContent = 'Hover a cell for its top-5.';
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };

  function hover(cell) {
    if (!cell || !result) {
      readout.textContent = result ? 'Hover a cell for its top-5.' : '';
      return;
    }
    const { row, col } = cell;
    const c = result.cells[row][col];
    const top = c.top.map((t, i) => `${i + 1}. '${visible(t.token)}' ${formatPercent(t.prob)}`).join('   ');
    const target = result.target
      ? `\ntarget '${visible(result.target.text)}': ${formatPercent(Math.exp(c.targetLogprob))}, rank ${c.targetRank + 1}`
      : '';
    readout.textContent = `${result.rows[row]} · position ${col} '${visible(result.tokens[col].text)}'\n${top}${target}`;
  }
}

/** 'blocks.12.hook_resid_pre' → 'L12 pre'; 'blocks.29.hook_resid_post' → 'L29 post'. */
function rowLabel(name) {
  const match = /^blocks\.(\d+)\.hook_resid_(pre|post)$/.exec(name);
  return match ? `L${match[1]} ${match[2]}` : name;
}
