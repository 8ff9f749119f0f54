// SAE training, part of the Features view: a small sparse autoencoder trained in the page on
// the reader's own prompts (loupe.trainSae), with its explained variance and L0 plotted as it
// trains; Stop keeps what was trained so far. Once trained it is the loaded SAE, and
// promptDashboard turns saeFeatures on each training prompt into the firing statistics and
// top-activating contexts a feature dashboard shows. Text is set with textContent only.

import { el, formatPercent } from './format.js';
import { createNumberInput, integerOf, field } from './inputs.js';
import { scaleLinear } from '../vendor/d3.js';
import { axis, chartRoot, frame, gridLines, linePath, minus } from './chart.js';
import { themeColour } from './colours.js';

/** Varied text, so the features have something to find: facts, dialogue, code, numbers, names. */
export const TRAINING_PROMPTS = Object.freeze([
  'The Eiffel Tower is located in the city of Paris, the capital of France.',
  'Water boils at 100 degrees Celsius at sea level.',
  'Mount Everest is the highest mountain on Earth, at 8,849 metres.',
  'Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.',
  'Alice: Are you coming to the party on Saturday?',
  'Bob: I wish I could, but I have to work all weekend.',
  '"Thank you so much!" she said with a big smile.',
  'Q: What is seven times eight? A: Fifty-six.',
  'def add(a, b): return a + b',
  'for (let i = 0; i < 10; i++) { console.log(i); }',
  'import numpy as np; x = np.zeros((3, 4))',
  '<div class="header">Welcome back, Sarah!</div>',
  'The meeting is at 3:30 pm on March 14, 2024.',
  'She paid $12.50 for two coffees and a muffin.',
  '1, 2, 3, 5, 8, 13, 21, 34, 55, 89',
  'Marie Curie won the Nobel Prize in Physics in 1903 and in Chemistry in 1911.',
  'William Shakespeare wrote Hamlet, Macbeth and Romeo and Juliet.',
  'Barack Obama was born in Honolulu, Hawaii, in 1961.',
  'Tokyo, Berlin, Nairobi and Buenos Aires are very large cities.',
  'The cat sat on the mat and watched the birds outside the window.',
  'I love this movie: it is funny, warm and wonderful.',
  'The quick brown fox jumps over the lazy dog.',
]);
/** The defaults of loupe.trainSae, as the form starts. */
const DEFAULTS = Object.freeze({ layer: 12, dSae: 256, steps: 400, l1: 0.03 });
/** What a context shows and how many per feature: as scripts/train_sae.py's dashboard.json. */
const CONTEXT = 12;
const CONTEXTS_PER_FEATURE = 5;
const BINS = 16;
const SERIES = Object.freeze({
  ev: { colour: themeColour('series-1'), name: 'explained variance (left axis)' },
  l0: { colour: themeColour('series-2'), name: 'L0, active features per token (right axis)' },
});
const PLOT = { width: 560, height: 150, top: 10, bottom: 34, left: 48, right: 44 };

/**
 * @param {{onTrain(): void, onStop(): void}} data
 * @returns the section's element and its controls (see the returned object)
 */
export function createSaeTraining({ onTrain, onStop }) {
  const prompts = el('textarea', {
    id: 'sae-train-prompts',
    name: 'sae-train-prompts',
    rows: 9,
    spellcheck: false,
    className: 'wide-input',
    value: TRAINING_PROMPTS.join('\n'),
    placeholder: 'one prompt per line',
  });
  const layer = createNumberInput('sae-train-layer', DEFAULTS.layer);
  layer.title = 'the SAE reads and rewrites blocks.L.hook_resid_pre, the residual stream entering block L';
  const dSae = createNumberInput('sae-train-dsae', DEFAULTS.dSae);
  dSae.title = 'how many features the SAE learns (8 to 8192)';
  const steps = createNumberInput('sae-train-steps', DEFAULTS.steps);
  steps.title = 'optimiser steps, each on a random batch of 128 training tokens';
  const l1 = el('input', {
    type: 'number',
    id: 'sae-train-l1',
    name: 'sae-train-l1',
    min: 0,
    step: 'any',
    value: String(DEFAULTS.l1),
    className: 'number-input',
    title: 'the sparsity penalty: larger λ, fewer active features per token and a worse reconstruction',
  });
  const train = el('button', { type: 'button', id: 'sae-train-run', className: 'primary', disabled: true }, 'Train SAE');
  const stop = el('button', { type: 'button', id: 'sae-train-stop', disabled: true }, 'Stop');
  const bar = el('progress', { id: 'sae-train-progress', max: 1, value: 0, 'aria-label': 'training steps done' });
  const count = el('span', { className: 'timing', id: 'sae-train-count' });
  const summary = el(
    'div',
    { className: 'summary', id: 'sae-train-summary', 'aria-live': 'polite' },
    'Not trained yet: “Train SAE” fits one on the prompts above; it then becomes the loaded SAE.',
  );
  const plot = el('div', { className: 'train-plot-frame', id: 'sae-train-plot' });
  const key = el(
    'div',
    { className: 'series-key' },
    ...Object.values(SERIES).map((s) => el('span', {}, el('span', { className: 'swatch', style: `background: ${s.colour}` }), s.name)),
  );

  const element = el(
    'details',
    { className: 'sae-train', id: 'sae-train' },
    el('summary', {}, 'Train an SAE on your own prompts'),
    el(
      'p',
      { className: 'method-note' },
      'A small ReLU SAE trained here, in the page, on the residual stream of these prompts at every token but each ' +
        'one’s first (the attention sink): loss ‖x − x̂‖² + λ Σ f_i ‖W_dec[i]‖, AdamW, 128 tokens a step. ' +
        'Explained variance is the share of the activations’ variance the SAE reconstructs, on these same tokens; L0 is ' +
        'how many features fire per token. A few hundred tokens make a toy, not a research SAE: its features describe ' +
        'these prompts. Once trained, each feature’s top contexts are found by reading every prompt again. ' +
        'It lives in this page only (a reload or a crash loses it).',
    ),
    el(
      'div',
      { className: 'side-by-side sae-train-body' },
      el('label', { className: 'field sae-train-prompts' }, el('span', {}, 'Training prompts, one per line'), prompts),
      el(
        'figure',
        { className: 'train-figure' },
        el('figcaption', {}, el('div', { className: 'chart-caption' }, el('span', {}, 'as it trains:'), key)),
        plot,
      ),
    ),
    el(
      'div',
      { className: 'controls' },
      field('Layer', layer),
      field('Features (d_sae)', dSae),
      field('Steps', steps),
      field('Sparsity λ', l1),
      train,
      stop,
    ),
    el('div', { className: 'run-status' }, bar, count, summary),
  );
  element.dataset.state = 'idle';

  let trained = ''; // what the last training that loaded its SAE said (with the note on its contexts)
  let phase = 'train'; // or 'contexts': what Stop ends
  train.onclick = () => onTrain();
  stop.onclick = () => {
    stop.disabled = true;
    summary.textContent =
      phase === 'train' ? 'Stopping after the steps in progress…' : `${trained} · skipping the other prompts’ top contexts…`;
    onStop();
  };
  drawPlot(null);

  return {
    element,
    /** The request from the form, without prependBos (the page's); throws on a malformed
     *  number or no prompts. */
    value() {
      const list = prompts.value
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter(Boolean);
      if (!list.length) throw new Error('give the training prompts, one per line');
      const n = integerOf(steps, 'steps');
      if (n < 1) throw new Error('steps must be at least 1');
      const lambda = Number(l1.value);
      if (l1.value.trim() === '' || !Number.isFinite(lambda) || lambda < 0)
        throw new Error(`sparsity λ must be a number ≥ 0, not ${JSON.stringify(l1.value)}`);
      return {
        prompts: list,
        hook: `blocks.${integerOf(layer, 'layer')}.hook_resid_pre`,
        dSae: integerOf(dSae, 'd_sae'),
        l1: lambda,
        steps: n,
      };
    },
    setEnabled(on) {
      train.disabled = !on;
    },
    /** Opens the section (a worked example, a test). */
    open() {
      element.open = true;
    },
    start(request) {
      element.open = true;
      element.dataset.state = 'running';
      bar.max = request.steps;
      bar.value = 0;
      count.textContent = '';
      summary.classList.remove('failed');
      summary.textContent = `Reading ${request.hook} on ${request.prompts.length} prompts…`;
      drawPlot(null, request.steps);
      phase = 'train';
      stop.disabled = false;
    },
    /** {tokens, step, steps, history, finished} after every 20 steps. */
    progress(p) {
      report(p);
      summary.textContent = `Training on ${p.tokens.toLocaleString('en')} tokens: step ${p.step} of ${p.steps}${measured(p)}…`;
    },
    /** Training is over ({cfg, progress, stopped}); the top contexts are found next, and Stop
     *  now skips the prompts not read yet. */
    trained({ progress: p, stopped }, ms, nPrompts) {
      report(p);
      phase = 'contexts';
      stop.disabled = false;
      const run = stopped ? `Stopped at step ${p.step} of ${p.steps}` : `Trained ${p.steps} steps`;
      trained = `${run} on ${p.tokens.toLocaleString('en')} tokens of ${nPrompts} prompts in ${(ms / 1000).toFixed(1)} s${measured(p)}`;
      element.dataset.stopped = String(stopped);
      summary.textContent = `${trained} · finding each feature’s top contexts in your prompts…`;
    },
    /** `done` of `total` prompts read for the top contexts. */
    contexts(done, total) {
      count.textContent = `${done} / ${total} prompts`;
      summary.textContent = `${trained} · finding each feature’s top contexts in your prompts: ${done} of ${total}…`;
    },
    /** All done: the SAE is loaded and the page prompt read with it; `note` says how the top
     *  contexts went. */
    finish(note) {
      stop.disabled = true;
      count.textContent = `${bar.value} / ${bar.max} steps`;
      trained = `${trained} · ${note}`;
      summary.textContent = `${trained} · now the loaded SAE`;
      element.dataset.state = element.dataset.stopped === 'true' ? 'stopped' : 'ready';
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      summary.classList.add('failed');
      stop.disabled = true;
      element.dataset.state = 'error';
    },
    /** Another SAE was loaded in place of the trained one. */
    replaced() {
      if (!trained || element.dataset.state === 'running') return;
      summary.textContent = `${trained} · replaced by the SAE loaded above`;
      trained = '';
    },
    /** The trained SAE died with the worker. */
    lost() {
      if (!trained) return;
      summary.textContent = `${trained} · lost when the model restarted: train again to use it`;
      summary.classList.add('failed');
      element.dataset.state = 'lost';
    },
  };

  function report(p) {
    bar.max = Math.max(1, p.steps);
    bar.value = p.step;
    count.textContent = `${p.step} / ${p.steps} steps`;
    drawPlot(p);
  }

  function drawPlot(p, total = DEFAULTS.steps) {
    plot.replaceChildren(
      trainPlot({
        label: 'explained variance and L0 of the SAE over the training steps',
        steps: p?.steps ?? total,
        history: p?.history ?? [],
      }),
    );
  }
}

/** " · EV 84.1% · L0 21.3" from the latest measured point, or nothing before the first. */
function measured(p) {
  const last = p.history.at(-1);
  return last ? ` · EV ${formatPercent(last.explainedVariance)} · L0 ${last.l0.toFixed(1)}` : '';
}

/**
 * Firing statistics and top-activating contexts of every feature of an SAE trained on some
 * prompts, from loupe.saeFeatures on each of them (topK 64), in dashboard.json's shape
 * (scripts/train_sae.py) — {n_tokens, features: [{fr, mx, he, hc, top}]} — except that each of
 * `top` is {tokens: string[], activations, imax}: a window of up to 12 tokens ending up to 3
 * after the strongest, best first, at most one per prompt. Position 0 of each prompt is left
 * out, as in training. `partial` counts tokens on which more features fired than saeFeatures
 * listed (there the counts miss the weakest).
 * @param {object[]} results  saeFeatures of each prompt
 */
export function promptDashboard(results, dSae) {
  const stats = Array.from({ length: dSae }, () => ({ count: 0, mx: 0, values: [], best: [] }));
  let nTokens = 0;
  let partial = 0;
  results.forEach((r, s) => {
    const strongest = new Map(); // feature → {p, a}: its strongest position in this prompt
    for (let p = 1; p < r.tokens.length; p++) {
      nTokens += 1;
      if (r.l0[p] > r.top[p].length) partial += 1;
      for (const { feature, activation } of r.top[p]) {
        const f = stats[feature];
        f.count += 1;
        f.values.push(activation);
        f.mx = Math.max(f.mx, activation);
        if (!(strongest.get(feature)?.a >= activation)) strongest.set(feature, { p, a: activation });
      }
    }
    for (const [feature, { p, a }] of strongest) stats[feature].best.push({ s, p, a });
  });
  const features = stats.map((f, j) => {
    if (!f.count) return { fr: 0, mx: 0, he: [], hc: [], top: [] };
    const he = Array.from({ length: BINS + 1 }, (_, k) => (f.mx * k) / BINS);
    const hc = new Array(BINS).fill(0);
    for (const v of f.values) hc[Math.min(BINS, Math.max(1, Math.ceil((v / f.mx) * BINS))) - 1] += 1;
    const top = f.best
      .sort((a, b) => b.a - a.a)
      .slice(0, CONTEXTS_PER_FEATURE)
      .map(({ s, p }) => context(results[s], j, p));
    return { fr: f.count / nTokens, mx: f.mx, he, hc, top };
  });
  return { source: 'prompts', n_tokens: nTokens, prompts: results.length, partial, features };
}

/** The window of prompt `r` around position p, with the feature's activation on each token. */
function context(r, feature, p) {
  let end = Math.min(r.tokens.length, p + 4);
  const start = Math.max(1, end - CONTEXT);
  end = Math.min(r.tokens.length, start + CONTEXT);
  const activations = [];
  for (let q = start; q < end; q++) activations.push(r.top[q].find((a) => a.feature === feature)?.activation ?? 0);
  return { tokens: r.tokens.slice(start, end).map((t) => t.text), activations, imax: p - start };
}

/**
 * Explained variance (left axis, as a share) and L0 (right axis) over the training steps, as
 * SVG; the x axis spans every step asked for, so a run's progress shows as the lines grow.
 * Each measured point has a tooltip with its numbers.
 * @param {{label: string, steps: number, history: {step, explainedVariance, l0}[]}} spec
 * @returns {SVGSVGElement}
 */
export function trainPlot({ label, steps, history }) {
  const { width, height, top, bottom, left, right } = PLOT;
  const plotW = width - left - right;
  const root = chartRoot({ width, height: top + height + bottom, label, className: 'train-plot' });
  const x = scaleLinear([0, Math.max(1, steps)], [left, left + plotW]);
  // Explained variance can start below 0 (a random SAE reconstructs worse than the mean).
  const lowest = Math.min(0, ...history.map((h) => h.explainedVariance));
  const evLo = Math.max(-1, Math.floor(lowest * 4) / 4);
  const yEv = scaleLinear([evLo, 1], [top + height, top]).clamp(true);
  const yL0 = scaleLinear([0, Math.max(1, ...history.map((h) => h.l0))], [top + height, top]).nice(4);
  const quarters = Array.from({ length: Math.round((1 - evLo) * 4) + 1 }, (_, k) => evLo + k / 4);

  frame(root, { x: left, y: top, width: plotW, height });
  gridLines(root, yEv, quarters.slice(1, -1), { x0: left, x1: left + plotW });
  axis(root, 'left', yEv, { at: left, values: quarters, format: (v) => minus(`${Math.round(v * 100)}%`), colour: SERIES.ev.colour });
  // The L0 scale follows the measured points: none yet, no scale.
  if (history.length) axis(root, 'right', yL0, { at: left + plotW, ticks: 3, colour: SERIES.l0.colour });
  axis(root, 'bottom', x, {
    at: top + height,
    values: [0, 0.25, 0.5, 0.75, 1].map((q) => Math.round(q * steps)),
    format: String,
    title: 'step',
  });
  if (!history.length) {
    root
      .append('text')
      .attr('class', 'plot-placeholder')
      .attr('x', left + plotW / 2)
      .attr('y', top + height / 2 + 4)
      .attr('text-anchor', 'middle')
      .text('explained variance and L0 appear here as the SAE trains');
    return root.node();
  }
  for (const [series, y, value] of /** @type {[string, (v: number) => number, (h) => number][]} */ ([
    ['l0', yL0, (h) => h.l0],
    ['ev', yEv, (h) => h.explainedVariance],
  ])) {
    const { colour } = SERIES[series];
    root
      .append('path')
      .attr(
        'd',
        linePath(
          history,
          (h) => x(h.step),
          (h) => y(value(h)),
        ),
      )
      .attr('fill', 'none')
      .attr('stroke', colour)
      .attr('stroke-width', 1.5)
      .attr('stroke-opacity', 0.85);
    root
      .append('g')
      .selectAll('circle')
      .data(history)
      .join('circle')
      .attr('cx', (h) => x(h.step))
      .attr('cy', (h) => y(value(h)))
      .attr('r', history.length > 40 ? 1.8 : 2.6)
      .attr('fill', colour)
      .attr('class', 'plot-point')
      .attr('data-series', series)
      .attr('data-step', (h) => h.step)
      .attr('data-value', (h) => value(h))
      .append('title')
      .text((h) => `step ${h.step}: explained variance ${formatPercent(h.explainedVariance)}, L0 ${h.l0.toFixed(1)}`);
  }
  return root.node();
}
