// Probes view (Alain & Bengio 2016; Belinkov 2022): is a concept linearly readable from the
// residual stream, and from which layer on? Two sets of labelled prompts, a logistic-regression
// probe on blocks.L.hook_resid_pre per layer, its accuracy on the training prompts and on
// held-out ones, against chance. Few prompts make a noisy held-out accuracy, and the summary
// says how noisy. A probe's weights are a direction: "Use this probe as a steering direction"
// sends it to the Steering tab.

import { el } from './format.js';
import { createSelect, createNumberInput, integerOf, field } from './inputs.js';
import { layerPlot } from './layerplot.js';
import { themeColour } from './colours.js';

/** Animals against vehicles, each named early in its sentence. */
export const PROBE_EXAMPLE = Object.freeze({
  positive: [
    'The cat sat on the mat',
    'A dog barked at the mailman',
    'The horse galloped across the field',
    'A bird sang in the tree',
    'The cow grazed in the meadow',
    'A rabbit hopped into its burrow',
    'The lion roared at the crowd',
    'A fish swam in the pond',
  ],
  negative: [
    'The car drove down the highway',
    'A bus stopped at the corner',
    'The train left the station',
    'A truck carried heavy boxes',
    'The plane landed at the airport',
    'A bicycle leaned against the wall',
    'The boat sailed across the lake',
    'A motorcycle roared down the street',
  ],
  // Each sentence names its subject first: the last token alone barely tells them apart in
  // this model, the mean over positions does from the middle layers on.
  reduce: 'mean',
});
const REDUCE = [
  ['mean', 'mean over positions'],
  ['last', 'last token'],
];
const SERIES = [
  { key: 'trainAccuracy', name: 'train', colour: themeColour('series-1'), hollow: true },
  { key: 'testAccuracy', name: 'held-out', colour: themeColour('series-2') },
];
const CHANCE = 0.5;
const HINT = 'Hover a layer for its accuracies; click one to pick its probe.';

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onUse(probe: {layer, direction, massMeanDirection, testAccuracy}, labels: {positive, negative}): void}} data
 */
export function createProbesView(container, { onRun, onUse }) {
  const positive = textarea('probe-positive', PROBE_EXAMPLE.positive.join('\n'));
  const negative = textarea('probe-negative', PROBE_EXAMPLE.negative.join('\n'));
  const positiveName = el('input', {
    type: 'text',
    id: 'probe-positive-name',
    value: 'animals',
    className: 'label-input',
    spellcheck: false,
  });
  const negativeName = el('input', {
    type: 'text',
    id: 'probe-negative-name',
    value: 'vehicles',
    className: 'label-input',
    spellcheck: false,
  });
  const reduce = createSelect('probe-reduce', REDUCE, PROBE_EXAMPLE.reduce);
  const seed = createNumberInput('probe-seed', 0);
  seed.title = 'which prompts are held out: another seed, another split';
  const run = el('button', { type: 'button', id: 'probe-run', className: 'primary', disabled: true }, 'Train probes on every layer');
  const summary = el(
    'div',
    { className: 'summary', id: 'probe-summary', 'aria-live': 'polite' },
    'Not run yet: “Train probes on every layer” fits one probe per layer.',
  );
  const key = el(
    'div',
    { className: 'series-key' },
    ...SERIES.map((s) =>
      el(
        'span',
        {},
        el('span', {
          className: 'swatch',
          style: s.hollow ? `border: 2px solid ${s.colour}; background: var(--panel)` : `background: ${s.colour}`,
        }),
        `${s.name} accuracy`,
      ),
    ),
    el('span', {}, el('span', { className: 'swatch chance-swatch' }), 'chance (50%)'),
  );
  const plot = el('figure', { className: 'layer-figure', id: 'probe-plot' });
  const readout = el('div', { className: 'readout', id: 'probe-readout' });
  const layer = createNumberInput('probe-layer', 12);
  const use = el(
    'button',
    {
      type: 'button',
      id: 'probe-use',
      disabled: true,
      title: 'the probe’s weights as a steering direction: + pushes towards the first set',
    },
    'Use this probe as a steering direction',
  );
  const results = el(
    'div',
    { hidden: true },
    el('div', { className: 'chart-caption' }, el('span', {}, 'accuracy per layer:'), key),
    plot,
    readout,
    el('div', { className: 'controls' }, field('Probe of layer', layer), use),
  );
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Is a concept linearly readable from the residual stream, and from which layer on? A logistic regression per ' +
        'layer on blocks.L.hook_resid_pre (at the last token, or averaged over the prompt) learns to tell the two ' +
        'sets apart; a quarter of each set is held out to test it. With a handful of prompts a held-out accuracy moves ' +
        'in big steps and a lucky split looks perfect: compare layers, try another seed. At layer 0 the stream is ' +
        'only the token embeddings, so a probe there reads words, not concepts.',
    ),
    el(
      'div',
      { className: 'side-by-side steer-sets' },
      el(
        'div',
        { className: 'field' },
        el('span', { className: 'set-name' }, 'First set (label 1), one prompt per line: ', positiveName),
        positive,
      ),
      el(
        'div',
        { className: 'field' },
        el('span', { className: 'set-name' }, 'Second set (label 0), one prompt per line: ', negativeName),
        negative,
      ),
    ),
    el('div', { className: 'controls' }, field('Read at', reduce), field('Split seed', seed), run),
    summary,
    results,
  );

  let shown = null; // the last result
  let asked = null; // the request of the run in progress or last run
  let selected = null;
  run.onclick = () => onRun();
  layer.oninput = () => {
    const l = Number(layer.value);
    if (shown && Number.isInteger(l) && l >= 0 && l < shown.layers.length) select(l);
  };
  use.onclick = () => {
    const probe = shown?.layers.find((p) => String(p.layer) === layer.value.trim());
    if (!probe) {
      readout.textContent = `No probe for layer ${JSON.stringify(layer.value)}: pick a layer from 0 to ${(shown?.layers.length ?? 1) - 1}.`;
      return;
    }
    onUse(probe, { positive: positiveName.value.trim() || 'the first set', negative: negativeName.value.trim() || 'the second set' });
  };

  return {
    /** The request; throws unless both sets have at least two prompts. */
    value() {
      asked = {
        positive: lines(positive.value, 'first'),
        negative: lines(negative.value, 'second'),
        reduce: reduce.value,
        seed: integerOf(seed, 'seed'),
      };
      return asked;
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
      use.disabled = !enabled || !shown;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Reading the residual stream of every prompt and fitting 30 probes…';
    },
    show(result, ms) {
      shown = result;
      const perClass = countHeldOut(result.testIndices, asked.positive.length);
      const best = result.layers.reduce((a, p) => (p.testAccuracy > a.testAccuracy ? p : a), result.layers[0]);
      const first = result.layers.find((p) => p.testAccuracy === 1);
      const step = 100 / Math.max(1, result.testSize);
      summary.textContent =
        `${result.trainSize} training prompts, ${result.testSize} held out (${perClass.positive} + ${perClass.negative}): ` +
        `each held-out prompt is ${step.toFixed(0)} points of accuracy, so this is noisy · best held-out ` +
        `${pct(best.testAccuracy)} at layer ${best.layer}` +
        `${first ? ` · first perfect held-out score at layer ${first.layer}` : ''} · ${(ms / 1000).toFixed(1)} s`;
      results.hidden = false;
      container.dataset.state = 'ready';
      select(selected ?? best.layer);
      use.disabled = false;
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };

  function select(l) {
    selected = l;
    layer.value = String(l);
    draw();
    readout.textContent = describeLayer(l);
  }

  function draw() {
    plot.replaceChildren(
      layerPlot({
        label: 'probe accuracy per layer, on the training prompts and the held-out ones',
        layers: shown.layers.length,
        series: SERIES.map((s) => ({ ...s, values: shown.layers.map((p) => p[s.key]) })),
        chance: CHANCE,
        selected,
        onHover: (l) => {
          readout.textContent = l === null ? (selected === null ? HINT : describeLayer(selected)) : describeLayer(l);
        },
        onClick: (l) => select(l),
      }),
    );
  }

  function describeLayer(l) {
    const p = shown.layers[l];
    return `layer ${p.layer}: train ${pct(p.trainAccuracy)}, held-out ${pct(p.testAccuracy)}` + `${l === selected ? ' · selected' : ''}`;
  }
}

/** How many of the held-out prompts come from each set (positive prompts come first). */
function countHeldOut(indices, nPositive) {
  const positive = indices.filter((i) => i < nPositive).length;
  return { positive, negative: indices.length - positive };
}

function pct(v) {
  return `${Math.round(v * 100)}%`;
}

function lines(text, which) {
  const out = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (out.length < 2) throw new Error(`the ${which} set needs at least two prompts (one to train on, one to hold out)`);
  return out;
}

function textarea(id, value) {
  return el('textarea', { id, name: id, rows: 8, spellcheck: false, value, className: 'wide-input', placeholder: 'one prompt per line' });
}
