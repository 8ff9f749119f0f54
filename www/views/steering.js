// Steering view (representation engineering): a direction in the residual stream — the mean
// difference of blocks.L.hook_resid_pre between two sets of prompts (CAA, Rimsky et al. 2023;
// ActAdd, Turner et al. 2023 for one pair), a pasted vector, or a linear probe's weights from
// the Probes tab — added to, clamped on or removed from the page prompt's run at chosen
// layers. Strengths are relative to the layer's typical residual norm, so a value means the
// same push at every depth. Shows the next-token shift and the steered and unsteered
// continuations side by side, streamed with the same seed.

import { el, visible, formatPercent } from './format.js';
import { renderTopK } from './topk.js';
import { renderTokenValues, signed } from './tokenvalues.js';
import { createSelect, createNumberInput, integerOf, field } from './inputs.js';
import { createDualGeneration } from './dualgen.js';
import { themeColour } from './colours.js';

const SOURCES = [
  ['contrastive', 'contrastive prompts (mean difference)'],
  ['vector', 'a vector (pasted, or a probe’s)'],
];
const REDUCE = [
  ['last', 'last token'],
  ['mean', 'mean over positions'],
];
const MODES = [
  ['add', 'add: + strength × ‖resid‖ along it'],
  ['clamp', 'clamp: projection set to value × ‖resid‖'],
  ['ablate', 'ablate: projection removed'],
];
/** Sentiment: the positive prompts minus the negative ones points towards "positive". */
export const SENTIMENT_EXAMPLE = Object.freeze({
  positive: ['I love this movie, it is wonderful', 'What a fantastic and happy day', 'This is the best meal I have ever had'],
  negative: ['I hate this movie, it is terrible', 'What an awful and sad day', 'This is the worst meal I have ever had'],
  layer: 12,
  // Minus: towards the negative prompts. On the film prompt, greedy, the q8 model: " a great
  // movie. I loved the way…" becomes " a pretty good one. I mean, I'm not sure…"; from about
  // −0.5 on the text falls apart.
  strength: -0.3,
});
const DEFAULT_STRENGTH = { add: SENTIMENT_EXAMPLE.strength, clamp: -0.2 };

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onStop(): void, onExample(): void, example: string}} data
 *   example: the prompt that "Use the film prompt" puts on the page
 */
export function createSteeringView(container, { onRun, onStop, onExample, example }) {
  const source = createSelect('steer-source', SOURCES, 'contrastive');
  const positive = textarea('steer-positive', SENTIMENT_EXAMPLE.positive.join('\n'), 'one prompt per line');
  const negative = textarea('steer-negative', SENTIMENT_EXAMPLE.negative.join('\n'), 'one prompt per line');
  const layer = createNumberInput('steer-layer', SENTIMENT_EXAMPLE.layer);
  const reduce = createSelect('steer-reduce', REDUCE, 'last');
  const vector = textarea(
    'steer-vector',
    '',
    'a JSON array of d_model numbers (576 for SmolLM2-135M), e.g. from a probe: Probes tab → “Use this probe as a steering direction”',
  );
  const vectorNote = el(
    'p',
    { className: 'method-note', id: 'steer-vector-note' },
    'Paste a JSON array, or send a probe’s weights from the Probes tab.',
  );
  const directionNote = el('span', { className: 'timing', id: 'steer-direction' });
  const contrastive = el(
    'div',
    {},
    el(
      'div',
      { className: 'side-by-side steer-sets' },
      el('label', { className: 'field' }, el('span', {}, 'Positive prompts (one per line)'), positive),
      el('label', { className: 'field' }, el('span', {}, 'Negative prompts (one per line)'), negative),
    ),
    el('div', { className: 'controls' }, field('Direction from layer', layer), field('Read at', reduce), directionNote),
  );
  const pasted = el(
    'div',
    { hidden: true },
    el('label', { className: 'field' }, el('span', {}, 'Direction (JSON array)'), vector),
    vectorNote,
  );

  const layers = el('input', {
    type: 'text',
    id: 'steer-layers',
    name: 'steer-layers',
    value: String(SENTIMENT_EXAMPLE.layer),
    spellcheck: false,
    className: 'layers-input',
    title: 'the layers whose hook_resid_pre is steered: "12", or "10,11,12", or "10-12"',
  });
  const mode = createSelect('steer-mode', MODES, 'add');
  const strength = el('input', {
    type: 'range',
    id: 'steer-strength',
    name: 'steer-strength',
    min: -2,
    max: 2,
    step: 0.05,
    value: String(SENTIMENT_EXAMPLE.strength),
    className: 'slider',
  });
  const strengthValue = el('span', { className: 'slider-value', id: 'steer-strength-value' });
  const strengthLabel = el('span', {}, 'Strength');
  const scale = el('span', { className: 'timing', id: 'steer-scale' });
  const strengthField = el(
    'label',
    { className: 'field' },
    strengthLabel,
    el('span', { className: 'slider-field' }, strength, strengthValue),
  );
  const generation = createDualGeneration({ id: 'steer' });

  const run = el('button', { type: 'button', id: 'steer-run', className: 'primary', disabled: true }, 'Steer');
  const stop = el('button', { type: 'button', id: 'steer-stop', disabled: true }, 'Stop');
  const exampleButton = el('button', { type: 'button', id: 'steer-example', disabled: true, title: example }, 'Use the film prompt');
  const summary = el(
    'div',
    { className: 'summary', id: 'steer-summary', 'aria-live': 'polite' },
    'Not run yet: “Steer” finds the direction, then runs the page prompt with and without it. The film prompt shows the sentiment example best.',
  );
  const topBase = el('div', { className: 'side', id: 'steer-top-base' });
  const topSteered = el('div', { className: 'side', id: 'steer-top-steered' });
  const rose = el('div', { className: 'side', id: 'steer-rose' });
  const fell = el('div', { className: 'side', id: 'steer-fell' });
  const json = el('pre', {
    className: 'json',
    id: 'steer-interventions',
    title: 'the steering as interventions: pass them to loupe.run or loupe.generate as interventions',
  });
  const shift = el(
    'div',
    { hidden: true, id: 'steer-shift' },
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'unsteered: next tokens'), topBase),
      el('figure', {}, el('figcaption', {}, 'steered: next tokens'), topSteered),
    ),
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'rose most (p_steered − p_base)'), rose),
      el('figure', {}, el('figcaption', {}, 'fell most (p_steered − p_base)'), fell),
    ),
  );
  const details = el(
    'details',
    { className: 'json-details', hidden: true },
    el('summary', {}, 'the steering as intervention JSON (for loupe.run / loupe.generate)'),
    json,
  );

  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'Push the page prompt’s run along a direction in the residual stream. A contrastive direction is the mean of ' +
        'blocks.L.hook_resid_pre over the positive prompts minus its mean over the negative ones (CAA); it is added ' +
        'at every position, generated tokens included. Strengths are relative to the typical ‖resid‖ at each steered ' +
        'layer, so 0.3 is the same push at every depth: about −1…1 is useful, beyond that the text falls apart.',
    ),
    el('div', { className: 'controls' }, field('Direction', source), exampleButton),
    contrastive,
    pasted,
    el('div', { className: 'controls' }, field('Steer at layers', layers), field('Mode', mode), strengthField, scale),
    el('div', { className: 'controls' }, ...generation.fields, run, stop),
    summary,
    shift,
    generation.element,
    details,
  );

  let layersTyped = false; // the steered layers follow the direction's layer until typed
  let norms = new Map(); // layer → typical ‖resid‖ on the page prompt, from the last run
  const modeValues = { ...DEFAULT_STRENGTH };
  let asked = null; // the request of the run in progress or last run
  let kl = null; // KL(base ‖ steered) of that run's next token

  source.onchange = () => {
    contrastive.hidden = source.value !== 'contrastive';
    pasted.hidden = source.value !== 'vector';
  };
  layer.oninput = () => {
    if (!layersTyped) layers.value = layer.value;
    describeScale();
  };
  layers.oninput = () => {
    layersTyped = layers.value.trim() !== '';
    describeScale();
  };
  let lastMode = mode.value;
  mode.onchange = () => {
    if (lastMode !== 'ablate') modeValues[lastMode] = Number(strength.value);
    lastMode = mode.value;
    if (mode.value !== 'ablate') strength.value = String(modeValues[mode.value]);
    describeScale();
  };
  strength.oninput = () => describeScale();
  run.onclick = () => onRun();
  stop.onclick = () => {
    stop.disabled = true;
    summary.textContent = 'Stopping after the tokens in progress…';
    onStop();
  };
  exampleButton.onclick = () => onExample();
  source.onchange();
  describeScale();

  return {
    /** The request from the form; throws on a malformed field.
     *  {direction: {positive, negative, layer, reduce} | {vector, layer: null}, layers, mode, settings} */
    value() {
      const steered = parseLayers(layers.value);
      /** @type {import('../types/analyses').SteerMode} */
      const m =
        mode.value === 'add'
          ? { type: 'add', strength: Number(strength.value) }
          : mode.value === 'clamp'
            ? { type: 'clamp', value: Number(strength.value) }
            : { type: 'ablate' };
      /** @type {import('../types/analyses').DirectionRequest | {vector: number[], layer: null}} */
      const direction =
        source.value === 'contrastive'
          ? {
              positive: lines(positive.value, 'positive prompts'),
              negative: lines(negative.value, 'negative prompts'),
              layer: integerOf(layer, 'direction layer'),
              reduce: /** @type {import('../types/analyses').Reduce} */ (reduce.value),
            }
          : { vector: parseVector(vector.value), layer: null };
      asked = { direction, layers: steered, mode: m, settings: generation.settings() };
      return asked;
    },
    /** A direction from elsewhere (a probe): the vector source, its layer steered. */
    setVector({ vector: v, layer: l, note }) {
      source.value = 'vector';
      source.onchange();
      vector.value = JSON.stringify(v.map((x) => Number(x.toPrecision(6))));
      vectorNote.textContent = note;
      layers.value = String(l);
      layersTyped = true;
      describeScale();
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
      exampleButton.disabled = !enabled;
    },
    start() {
      kl = null;
      container.dataset.state = 'running';
      summary.textContent = asked?.direction.vector ? 'Steering the next token…' : 'Finding the direction…';
      stop.disabled = false;
    },
    /** The contrastive direction, once found. */
    direction(d) {
      const ratio =
        d.typicalNorm > 0
          ? ` = ${(d.norm / d.typicalNorm).toFixed(2)} × the typical ‖resid‖ ${d.typicalNorm.toFixed(1)} over these prompts`
          : '';
      directionNote.textContent = `${d.hook}: ‖v‖ = ${d.norm.toFixed(1)}${ratio}`;
      summary.textContent = 'Steering the next token…';
    },
    /** The next-token shift (loupe.steer's result). */
    shift(result) {
      norms = new Map(asked.layers.map((l, i) => [l, result.typicalNorms[i]]));
      describeScale();
      renderTopK(topBase, result.topBase.slice(0, 5));
      renderTopK(topSteered, result.topSteered.slice(0, 5));
      const points = (v) => `${v >= 0 ? '+' : '−'}${formatPercent(Math.abs(v))}`;
      renderTokenValues(rose, result.rose.slice(0, 5), {
        heading: 'token · change in probability',
        format: points,
        colour: themeColour('up'),
      });
      renderTokenValues(fell, result.fell.slice(0, 5), {
        heading: 'token · change in probability',
        format: points,
        colour: themeColour('down'),
      });
      shift.hidden = false;
      json.textContent = JSON.stringify(result.interventions);
      details.hidden = false;
      const top = (list) => `'${visible(list[0]?.token ?? '')}'`;
      kl = result.kl;
      summary.textContent =
        `${describe(asked)} · KL(base ‖ steered) ${kl.toFixed(3)} nats · ` +
        `top next token ${top(result.topBase)} → ${top(result.topSteered)} · generating both…`;
    },
    /** Both continuations begin. */
    generating(prompt) {
      generation.start(prompt, `steered: ${describe(asked)}`);
    },
    append(token, which) {
      generation.append(token, which);
    },
    /** result: loupe.steerGenerate's, or null when stopped before it began; ms: the whole
     *  run; generating: the generation's part of it. */
    finish(result, ms, generating) {
      if (result) generation.finish(result, generating);
      else generation.fail('Stopped before generating.');
      summary.textContent =
        `${describe(asked)} · KL(base ‖ steered) ${kl.toFixed(3)} nats · ${(ms / 1000).toFixed(1)} s` +
        `${!result || result.stopped ? ' · stopped' : ''}`;
      stop.disabled = true;
      container.dataset.state = !result || result.stopped ? 'stopped' : 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      stop.disabled = true;
      container.dataset.state = 'error';
    },
    /** The continuations on show. */
    texts: () => generation.texts(),
  };

  /** What the strength means in residual-stream units at the steered layers. */
  function describeScale() {
    const add = mode.value === 'add';
    strength.disabled = mode.value === 'ablate';
    strengthLabel.textContent = add ? 'Strength' : 'Value';
    strengthValue.textContent = mode.value === 'ablate' ? '—' : signed(Number(strength.value), 2);
    if (mode.value === 'ablate') {
      scale.textContent = 'the direction’s component is removed at every position';
      return;
    }
    let steered;
    try {
      steered = parseLayers(layers.value);
    } catch {
      scale.textContent = '';
      return;
    }
    const known = steered.map((l) => norms.get(l));
    const at = `at layer${steered.length > 1 ? 's' : ''} ${steered.join(', ')}`;
    scale.textContent =
      known.every((n) => n !== undefined) && known.length
        ? `× ${known.map((n) => n.toFixed(1)).join(', ')} = typical ‖resid‖ ${at}`
        : `× the typical ‖resid‖ ${at} on the page prompt (shown after a run)`;
  }
}

/** "add −0.30 × ‖resid‖ at layer 12" */
function describe(request) {
  if (!request) return '';
  const at = `at layer${request.layers.length > 1 ? 's' : ''} ${request.layers.join(', ')}`;
  const m = request.mode;
  if (m.type === 'add') return `add ${signed(m.strength, 2)} × ‖resid‖ ${at}`;
  if (m.type === 'clamp') return `clamp to ${signed(m.value, 2)} × ‖resid‖ ${at}`;
  return `ablate the direction ${at}`;
}

/** "12", "10,11,12", "10-12" → [layers]; throws on anything else. */
export function parseLayers(text) {
  const out = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const range = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a) throw new Error(`layers: the range ${part} runs backwards`);
      for (let l = a; l <= b; l++) out.push(l);
    } else if (/^\d+$/.test(part)) {
      out.push(Number(part));
    } else {
      throw new Error(`layers must be whole numbers separated by commas (or a range like 10-12), not ${JSON.stringify(part)}`);
    }
  }
  if (!out.length) throw new Error('choose at least one layer to steer');
  return [...new Set(out)];
}

function parseVector(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (error) {
    throw new Error(`the direction is not a JSON array: ${error.message}`, { cause: error });
  }
  if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new Error('the direction must be a JSON array of finite numbers');
  }
  return v;
}

function lines(text, what) {
  const out = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (!out.length) throw new Error(`give at least one of the ${what}`);
  return out;
}

function textarea(id, value, placeholder) {
  return el('textarea', { id, name: id, rows: 4, spellcheck: false, value, placeholder, className: 'wide-input' });
}
