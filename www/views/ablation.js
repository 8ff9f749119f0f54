// Ablation view: knock out one component (a head, an MLP layer or one neuron) by zeroing it,
// replacing it with its mean over positions (of the prompt, or of every reference prompt), or
// resampling it from a reference prompt, and
// compare the metric and the next-token distribution with and without it. The intervention
// used is shown as JSON, ready for loupe.run / loupe.generate.

import { el } from './format.js';
import { renderTopK } from './topk.js';
import { createTokenInput, createSelect, createNumberInput as number, integerOf as integer, field } from './inputs.js';

const KINDS = [
  ['head', 'attention head'],
  ['mlp', 'MLP layer'],
  ['neuron', 'MLP neuron'],
];
const METHODS = [
  ['zero', 'zero'],
  ['mean', 'mean over positions'],
  ['resample', 'resample from a reference prompt'],
  ['mean_reference', 'mean over reference prompts'],
];
const METRICS = [
  ['logit_diff', 'logit difference'],
  ['logprob', 'log-probability'],
];

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void}} data
 */
export function createAblationView(container, { onRun }) {
  const kind = createSelect('ablate-kind', KINDS, 'head');
  const layer = number('ablate-layer', 0);
  const head = number('ablate-head', 0);
  const index = number('ablate-index', 0);
  const headField = field('Head', head);
  const indexField = field('Neuron', index);
  const method = createSelect('ablate-method', METHODS, 'zero');
  const reference = el('input', {
    type: 'text',
    id: 'ablate-reference',
    name: 'ablate-reference',
    spellcheck: false,
    className: 'wide-input',
    placeholder: 'a prompt with the same number of tokens, e.g. one name for another',
  });
  const referenceField = el(
    'label',
    { className: 'field grow' },
    el('span', {}, 'Reference prompt (resample: same number of tokens)'),
    reference,
  );
  const references = el('textarea', {
    id: 'ablate-references',
    name: 'ablate-references',
    spellcheck: false,
    rows: 4,
    className: 'wide-input',
    placeholder: 'one prompt per line, any length, e.g.\nThe cat sat on the mat.\nYesterday I went to the market and bought apples.',
  });
  const referencesField = el(
    'label',
    { className: 'field grow' },
    el('span', {}, 'Reference prompts (one per line: the component is set to its mean over all their positions)'),
    references,
  );
  const metric = createSelect('ablate-metric', METRICS, 'logit_diff');
  const token = createTokenInput({ id: 'ablate-token', label: 'Token', title: 'exact token text, leading space included (" Mary")' });
  const minus = createTokenInput({ id: 'ablate-minus', label: 'minus token', title: 'exact token text, leading space included (" John")' });
  const run = el('button', { type: 'button', id: 'ablate-run', className: 'primary', disabled: true }, 'Ablate');
  const summary = el(
    'div',
    { className: 'summary', id: 'ablate-summary', 'aria-live': 'polite' },
    'Not run yet: pick a component, then “Ablate”.',
  );
  const clean = el('div', { className: 'side', id: 'ablate-top-clean' });
  const ablated = el('div', { className: 'side', id: 'ablate-top-ablated' });
  const sides = el(
    'div',
    { className: 'side-by-side', hidden: true },
    el('figure', {}, el('figcaption', {}, 'clean: next tokens'), clean),
    el('figure', {}, el('figcaption', {}, 'ablated: next tokens'), ablated),
  );
  const json = el('pre', {
    className: 'json',
    id: 'ablate-intervention',
    hidden: true,
    title: 'the intervention used: pass it to loupe.run or loupe.generate as interventions: [it]',
  });
  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Runs the page prompt with one component knocked out and compares the metric and the next-token ' +
        'distribution at the last position with the clean run. KL(clean ‖ ablated) is in nats.',
    ),
    el('div', { className: 'controls' }, field('Component', kind), field('Layer', layer), headField, indexField, field('Method', method)),
    el('div', { className: 'controls' }, referenceField),
    el('div', { className: 'controls' }, referencesField),
    el('div', { className: 'controls' }, field('Metric', metric), token.element, minus.element, run),
    summary,
    sides,
    json,
  );
  run.onclick = () => onRun();
  kind.onchange = () => {
    headField.hidden = kind.value !== 'head';
    indexField.hidden = kind.value !== 'neuron';
  };
  method.onchange = () => {
    referenceField.hidden = method.value !== 'resample';
    referencesField.hidden = method.value !== 'mean_reference';
  };
  metric.onchange = () => {
    minus.element.hidden = metric.value !== 'logit_diff';
  };
  kind.onchange();
  method.onchange();

  return {
    /** The request, without the prompt (the page's); throws on a malformed number. */
    value() {
      const l = integer(layer, 'layer');
      /** @type {import('../types/analyses').Component} */
      const component =
        kind.value === 'head'
          ? { kind: 'head', layer: l, head: integer(head, 'head') }
          : kind.value === 'mlp'
            ? { kind: 'mlp', layer: l }
            : { kind: 'neuron', layer: l, index: integer(index, 'neuron') };
      /** @type {import('../types/analyses').Metric} */
      const m =
        metric.value === 'logit_diff'
          ? { type: 'logit_diff', token: token.value(), minus: minus.value() }
          : { type: 'logprob', token: token.value() };
      const extra =
        method.value === 'resample'
          ? { reference: reference.value }
          : method.value === 'mean_reference'
            ? {
                references: references.value
                  .split(/\r?\n/)
                  .map((line) => line.trim())
                  .filter(Boolean),
              }
            : {};
      return { component, method: /** @type {import('../types/analyses').AblationMethod} */ (method.value), metric: m, ...extra };
    },
    suggest(t, m) {
      token.suggest(t);
      minus.suggest(m);
    },
    /** Fills the form with a worked example (the prompt goes to the page). */
    setExample(example) {
      kind.value = example.component.kind;
      kind.onchange();
      layer.value = String(example.component.layer);
      head.value = String(example.component.head ?? 0);
      index.value = String(example.component.index ?? 0);
      method.value = example.method;
      method.onchange();
      reference.value = example.reference ?? '';
      if (example.references) references.value = example.references.join('\n');
      metric.value = example.metric.type;
      metric.onchange();
      token.set(example.metric.token);
      minus.set(example.metric.minus ?? '');
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    running() {
      container.dataset.state = 'running';
      summary.textContent = 'Running the clean and ablated prompts…';
    },
    show(result, ms) {
      const f = (v) => v.toFixed(3).replace('-', '−');
      const delta = result.ablatedMetric - result.cleanMetric;
      summary.textContent =
        `metric clean ${f(result.cleanMetric)} → ablated ${f(result.ablatedMetric)} ` +
        `(${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(3)}) · KL(clean ‖ ablated) ${result.kl.toFixed(4)} nats · ` +
        `${(ms / 1000).toFixed(1)} s`;
      renderTopK(clean, result.topClean.slice(0, 5));
      renderTopK(ablated, result.topAblated.slice(0, 5));
      sides.hidden = false;
      json.textContent = JSON.stringify(result.intervention, null, 2);
      json.hidden = false;
      container.dataset.state = 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      container.dataset.state = 'error';
    },
  };
}
