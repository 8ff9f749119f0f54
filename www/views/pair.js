// Minimal pair view: the page prompt (A) against a second prompt (B) that differs in a word or
// two: both next-token distributions side by side, the tokens that rose and fell most from A
// to B, KL both ways, and per layer how far apart the two residual streams are at the last
// position (relative distance and cosine similarity of blocks.L.hook_resid_post).

import { el, formatPercent } from './format.js';
import { renderTopK } from './topk.js';
import { renderTokenValues } from './tokenvalues.js';
import { createBarChart } from './bars.js';
import { themeColour } from './colours.js';

const SERIES = [
  { key: 'relDiff', name: '‖B − A‖ / ‖A‖', colour: themeColour('series-2') },
  { key: 'cosine', name: 'cosine(A, B)', colour: themeColour('series-3') },
];
const AXIS_PX = 48;
const COLUMN_PX = 22;
const HINT = 'Hover a layer for its values.';

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void}} data
 */
export function createPairView(container, { onRun }) {
  const b = el('input', {
    type: 'text',
    id: 'pair-b',
    name: 'pair-b',
    spellcheck: false,
    className: 'wide-input',
    placeholder: 'the page prompt with a word or two changed',
  });
  let typed = false;
  b.oninput = () => {
    typed = b.value !== '';
  };
  const run = el('button', { type: 'button', id: 'pair-run', className: 'primary', disabled: true }, 'Compare');
  const summary = el(
    'div',
    { className: 'summary', id: 'pair-summary', 'aria-live': 'polite' },
    'Not run yet: “Compare” sets the page prompt (A) against prompt B.',
  );
  const topA = el('div', { className: 'side', id: 'pair-top-a' });
  const topB = el('div', { className: 'side', id: 'pair-top-b' });
  const rose = el('div', { className: 'side', id: 'pair-rose' });
  const fell = el('div', { className: 'side', id: 'pair-fell' });
  const results = el(
    'div',
    { hidden: true },
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'A (the page prompt): next tokens'), topA),
      el('figure', {}, el('figcaption', {}, 'B: next tokens'), topB),
    ),
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'rose most from A to B (p_B − p_A)'), rose),
      el('figure', {}, el('figcaption', {}, 'fell most from A to B (p_B − p_A)'), fell),
    ),
    el(
      'div',
      { className: 'chart-caption' },
      el('span', {}, 'per layer, the residual stream at the last position:'),
      el(
        'div',
        { className: 'series-key' },
        ...SERIES.map((s) => el('span', {}, el('span', { className: 'swatch', style: `background: ${s.colour}` }), s.name)),
      ),
    ),
  );
  const readout = el('div', { className: 'readout', id: 'pair-readout' });
  let result = null;
  const bars = createBarChart({ label: 'per layer: relative distance and cosine similarity of the two residual streams', onHover: hover });
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Two prompts that differ in a word or two: how the prediction moves from A to B, and from which layer on ' +
        'the residual streams at the last position part ways.',
    ),
    el('div', { className: 'controls' }, el('label', { className: 'field grow' }, el('span', {}, 'Prompt B'), b), run),
    summary,
    results,
    bars.element,
    readout,
  );
  run.onclick = () => onRun();

  return {
    value: () => ({ b: b.value }),
    /** Sets prompt B unless the reader typed one. */
    suggest(text) {
      if (typed) return;
      b.value = text;
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Running both prompts…';
    },
    show(pair, ms) {
      result = pair;
      renderTopK(topA, pair.topA);
      renderTopK(topB, pair.topB);
      const points = (v) => `${v >= 0 ? '+' : '−'}${formatPercent(Math.abs(v))}`;
      renderTokenValues(rose, pair.rose, { heading: 'token · change in probability', format: points, colour: themeColour('up') });
      renderTokenValues(fell, pair.fell, { heading: 'token · change in probability', format: points, colour: themeColour('down') });
      results.hidden = false;
      const n = pair.relDiff.length;
      bars.draw({
        categories: Array.from({ length: n }, (_, l) => (l % 5 === 0 ? String(l) : '')),
        series: SERIES.map((s) => ({ ...s, values: pair[s.key] })),
        x0: AXIS_PX,
        columnWidth: COLUMN_PX,
        width: AXIS_PX + n * COLUMN_PX + 8,
      });
      summary.textContent =
        `A: ${pair.tokensA.length} tokens, B: ${pair.tokensB.length} · KL(A ‖ B) ${pair.klAb.toFixed(3)} nats · ` +
        `KL(B ‖ A) ${pair.klBa.toFixed(3)} nats · ${(ms / 1000).toFixed(1)} s`;
      readout.textContent = HINT;
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };

  function hover(layer) {
    if (!result) return;
    readout.textContent =
      layer === null
        ? HINT
        : `layer ${layer}: ‖B − A‖ / ‖A‖ = ${result.relDiff[layer].toFixed(3)}, cosine = ${result.cosine[layer].toFixed(3)}`;
  }
}
