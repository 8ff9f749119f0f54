// Neuron view: one MLP neuron (blocks.L.mlp.hook_post[…, n]) on the page prompt — its
// activation at every position, the tokens shaded by it (blue negative, red positive) — and
// what it writes: the tokens its output weights push up and down through the unembedding.

import { el, visible } from './format.js';
import { createNumberInput, integerOf, field } from './inputs.js';
import { createLegend, css, diverging, textOn, themeColour } from './colours.js';
import { renderTokenValues, signed } from './tokenvalues.js';

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void}} data
 */
export function createNeuronView(container, { onRun }) {
  const layer = createNumberInput('neuron-layer', 20);
  const neuron = createNumberInput('neuron-index', 100);
  const run = el('button', { type: 'button', id: 'neuron-run', className: 'primary', disabled: true }, 'Show neuron');
  const summary = el(
    'div',
    { className: 'summary', id: 'neuron-summary', 'aria-live': 'polite' },
    'Not run yet: “Show neuron” reads one neuron on the page prompt.',
  );
  const legend = el('div', { className: 'legend-slot' });
  const chips = el('div', { className: 'chips neuron-tokens', id: 'neuron-tokens' });
  const promoted = el('div', { className: 'side', id: 'neuron-promoted' });
  const suppressed = el('div', { className: 'side', id: 'neuron-suppressed' });
  const results = el(
    'div',
    { hidden: true },
    el('div', { className: 'chart-caption' }, el('span', {}, 'activation per token (hover for the value)'), legend),
    chips,
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'promoted: logit effect per unit of activation'), promoted),
      el('figure', {}, el('figcaption', {}, 'suppressed: logit effect per unit of activation'), suppressed),
    ),
  );
  let asked = null; // the neuron of the request in flight
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'One MLP neuron: how strongly it fires on each token of the page prompt, and which next tokens its output ' +
        'pushes up or down when it fires positively (its output weights read through the final norm and the unembedding).',
    ),
    el('div', { className: 'controls' }, field('Layer', layer), field('Neuron', neuron), run),
    summary,
    results,
  );
  run.onclick = () => onRun();

  return {
    /** Throws on a malformed number. */
    value() {
      asked = { layer: integerOf(layer, 'layer'), neuron: integerOf(neuron, 'neuron') };
      return asked;
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Running the prompt…';
    },
    show(view, ms) {
      const scale = Math.max(1e-6, ...view.activations.map(Math.abs));
      chips.replaceChildren(
        ...view.tokens.map(({ id, text }, position) => {
          const a = view.activations[position];
          const colour = diverging(a / scale);
          return el('span', {
            className: 'chip',
            textContent: visible(text),
            title: `position ${position} · id ${id} · activation ${signed(a)}`,
            style: `background: ${css(colour)}; color: ${textOn(colour)}; border-color: transparent`,
            dataset: { position: String(position), activation: String(a) },
          });
        }),
      );
      legend.replaceChildren(
        createLegend({
          colour: (x) => diverging(2 * x - 1),
          low: signed(-scale, 2),
          high: signed(scale, 2),
          title: 'activation: blue negative, white 0, red positive',
        }),
      );
      const logit = (v) => signed(v);
      renderTokenValues(promoted, view.promoted, { heading: 'token · logit effect', format: logit, colour: themeColour('up') });
      renderTokenValues(suppressed, view.suppressed, { heading: 'token · logit effect', format: logit, colour: themeColour('down') });
      results.hidden = false;
      let peak = 0;
      view.activations.forEach((a, i) => {
        if (Math.abs(a) > Math.abs(view.activations[peak])) peak = i;
      });
      summary.textContent =
        `L${asked?.layer} N${asked?.neuron}: strongest activation ${signed(view.activations[peak] ?? 0)} at position ${peak} ` +
        `'${visible(view.tokens[peak]?.text ?? '')}' · ${(ms / 1000).toFixed(1)} s`;
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };
}
