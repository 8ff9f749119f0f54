// Head detectors view (Olsson et al. 2022): three heads × layers maps of the mean attention
// each head pays to the key a mechanism predicts — the previous token (on the page prompt),
// an earlier copy of the same token, and the token after that copy (induction), both on a
// random sequence repeated twice. Clicking a head shows its pattern in the attention view.

import { el } from './format.js';
import { createHeatmap } from './heatmap.js';
import { createLegend, sequential } from './colours.js';

const DETECTORS = [
  { key: 'previousToken', id: 'heads-previous', title: 'Previous token', note: 'query → the token before it, on the page prompt' },
  { key: 'duplicateToken', id: 'heads-duplicate', title: 'Duplicate token', note: 'query → its earlier copy, on random tokens repeated' },
  {
    key: 'induction',
    id: 'heads-induction',
    title: 'Induction',
    note: 'query → the token after its earlier copy, on random tokens repeated',
  },
];
const TOP = 3;

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onSelect(layer: number, head: number): void}} data
 */
export function createHeadsView(container, { onRun, onSelect }) {
  const run = el('button', { type: 'button', id: 'heads-run', className: 'primary', disabled: true }, 'Detect heads');
  const summary = el(
    'div',
    { className: 'summary', id: 'heads-summary', 'aria-live': 'polite' },
    'Not run yet: “Detect heads” scores every head.',
  );
  const readout = el('div', { className: 'readout', id: 'heads-readout' });
  let result = null;
  const maps = DETECTORS.map((d) => {
    const heatmap = createHeatmap({
      label: `${d.title} scores per head and layer`,
      onHover: (cell) => hover(d, cell),
      onClick: ({ row, col }) => onSelect(col, row),
    });
    const best = el('div', { className: 'best' });
    const box = el(
      'figure',
      { className: 'detector', id: d.id },
      el('figcaption', {}, el('strong', {}, d.title), el('small', {}, ` ${d.note}`)),
      heatmap.element,
      best,
    );
    return { ...d, heatmap, best, box };
  });
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Each cell is one head’s mean attention on the key its mechanism predicts (0 to 1). Click a head to see its ' +
        'pattern on the page prompt in the attention view; put a repeated phrase in the prompt to watch induction heads work.',
    ),
    el(
      'div',
      { className: 'controls' },
      run,
      createLegend({ colour: sequential, low: '0', high: '1', title: 'mean attention on the predicted key' }),
    ),
    summary,
    el('div', { className: 'detectors' }, ...maps.map((m) => m.box)),
    readout,
  );
  run.onclick = () => onRun();

  return {
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Running the prompt and a repeated random sequence…';
    },
    show(detected, ms) {
      result = detected;
      for (const m of maps) {
        const scores = detected[m.key]; // [layer][head]
        m.heatmap.draw({
          rows: Array.from({ length: scores[0]?.length ?? 0 }, (_, h) => `H${h}`),
          cols: Array.from({ length: scores.length }, (_, l) => (l % 5 === 0 ? String(l) : '')),
          cellWidth: 12,
          cellHeight: 14,
          columnLabelWidth: 5 * 12,
          colour: (h, l) => sequential(scores[l][h]),
        });
        const ranked = scores.flatMap((row, l) => row.map((v, h) => ({ l, h, v }))).sort((a, b) => b.v - a.v);
        m.best.textContent = `strongest: ${ranked
          .slice(0, TOP)
          .map(({ l, h, v }) => `L${l} H${h} ${v.toFixed(2)}`)
          .join(', ')}`;
      }
      summary.textContent = `Random sequence: ${detected.randomIds.length} tokens, repeated once · ${(ms / 1000).toFixed(1)} s`;
      readout.textContent = 'Hover a head for its score; click to show its pattern.';
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };

  function hover(detector, cell) {
    if (!result) return;
    if (!cell) {
      readout.textContent = 'Hover a head for its score; click to show its pattern.';
      return;
    }
    const v = result[detector.key][cell.col][cell.row];
    readout.textContent = `${detector.title} · L${cell.col} H${cell.row}: ${v.toFixed(3)} — click to show its pattern`;
  }
}
