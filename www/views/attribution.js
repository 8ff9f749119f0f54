// Input attribution view: how much each token of the page prompt matters to a target read
// from the logits (a log-probability, a logit or a logit difference at one position), by
// saliency (Simonyan et al. 2014), gradient × input (Shrikumar et al. 2016), Integrated
// Gradients (Sundararajan et al. 2017), SmoothGrad (Smilkov et al. 2017) or occlusion
// (Zeiler & Fergus 2014). The tokens are shaded by their attribution; for Integrated
// Gradients the completeness check is put in words and the path is plotted, so a reader
// sees where the straight-line path is too sharp for the quadrature. "Compare methods" runs
// them all on the same target, one row each. Runs stream progress and can be stopped.

import { el, visible } from './format.js';
import { createLegend, css, diverging, sequential, textOn, themeColour } from './colours.js';
import { createTokenInput, createSelect, field } from './inputs.js';
import { pathPlot } from './pathplot.js';

const METHODS = [
  ['saliency', 'saliency'],
  ['grad_x_input', 'gradient × input'],
  ['integrated_gradients', 'Integrated Gradients'],
  ['smoothgrad', 'SmoothGrad'],
  ['occlusion', 'occlusion'],
];
const METHOD_NAME = Object.fromEntries(METHODS);
const METHOD_NOTE = {
  saliency: 'One backward pass: the gradient ∂f/∂x at each token’s embedding.',
  grad_x_input: 'One backward pass: each embedding times its gradient, x ⊙ ∂f/∂x.',
  integrated_gradients:
    'The gradient averaged along the straight path from a baseline x′ to x, times (x − x′): the attributions ' +
    'should add up to f(x) − f(x′) (completeness), which the quadrature only approximates.',
  smoothgrad: 'The gradient averaged over noisy copies of x; the noise’s σ is the noise level × the range of the embedding values.',
  occlusion:
    'Forward passes only: f(x) − f(x with a window of tokens replaced by the baseline or removed), averaged over the windows covering each token.',
};
const TARGETS = [
  ['logprob', 'log-probability'],
  ['logit', 'logit'],
  ['logit_diff', 'logit difference'],
];
const BASELINES = [
  ['token', 'a token’s embedding'],
  ['zero', 'zero embedding'],
];
const OCCLUSION = [
  ['replace', 'replace by the baseline'],
  ['remove', 'remove the tokens'],
];
const DEFAULT_BASELINE_TOKEN = '<|endoftext|>';
/** Completeness errors up to this count as "the attributions account for the whole change". */
const COMPLETE = 0.01;
const PLOT_WIDTH = 620;

/**
 * @param {HTMLElement} container
 * @param {{onRun(): void, onCompare(): void, onStop(): void}} data
 */
export function createAttributionView(container, { onRun, onCompare, onStop }) {
  const method = createSelect('attr-method', METHODS, 'integrated_gradients');
  const kind = createSelect('attr-target', TARGETS, 'logprob');
  const token = createTokenInput({ id: 'attr-token', label: 'Token', title: 'exact token text, leading space included (" Paris")' });
  const minus = createTokenInput({ id: 'attr-minus', label: 'minus token', title: 'exact token text, leading space included (" London")' });
  const position = numberInput('attr-position', -1, {
    step: 1,
    title: 'where the target is read: −1 = the last position (the next-token prediction); negative counts from the end',
  });

  const steps = numberInput('attr-steps', 32, { min: 1, step: 1 });
  // The API's default baseline: the zero embedding is degenerate under RMSNorm.
  const baseline = createSelect('attr-baseline', BASELINES, 'token');
  const baselineToken = createTokenInput({
    id: 'attr-baseline-token',
    label: 'Baseline token',
    title: 'the token whose embedding fills every position of the baseline',
  });
  baselineToken.set(DEFAULT_BASELINE_TOKEN);
  const keepFirst = checkbox(
    'attr-keep-first',
    'keep first token',
    'the baseline keeps the first token as it is (e.g. a BOS token), so it gets no attribution',
  );
  const adaptive = checkbox(
    'attr-adaptive',
    'adaptive',
    'refine the path where the integrand changes fastest, until the completeness error is within the tolerance or the budget is spent',
  );
  const tolerance = numberInput('attr-tolerance', 1, {
    min: 0,
    step: 'any',
    title: 'adaptive: the completeness error to reach, in percent',
  });
  const budget = numberInput('attr-budget', 256, { min: 1, step: 1, title: 'adaptive: the most forward + backward passes to spend' });
  const samples = numberInput('attr-samples', 16, { min: 1, step: 1 });
  const noise = numberInput('attr-noise', 0.02, {
    min: 0,
    step: 'any',
    title: 'σ of the noise as a share of the range of the embedding values',
  });
  const seed = numberInput('attr-seed', 0, { min: 0, step: 1 });
  const windowSize = numberInput('attr-window', 1, { min: 1, step: 1, title: 'tokens occluded at once' });
  const occlusion = createSelect('attr-occlusion', OCCLUSION, 'replace');

  const fields = {
    steps: field('Steps', steps),
    baseline: field('Baseline', baseline),
    baselineToken: baselineToken.element,
    keepFirst: keepFirst.element,
    adaptive: adaptive.element,
    tolerance: field('Tolerance (%)', tolerance),
    budget: field('Budget (passes)', budget),
    samples: field('Samples', samples),
    noise: field('Noise level', noise),
    seed: field('Seed', seed),
    window: field('Window', windowSize),
    occlusion: field('Occluded tokens', occlusion),
  };
  const signedRadio = el('input', { type: 'radio', name: 'attr-show', id: 'attr-show-signed', value: 'signed', checked: true });
  const l2Radio = el('input', { type: 'radio', name: 'attr-show', id: 'attr-show-l2', value: 'l2' });
  const show = el(
    'div',
    { className: 'field' },
    el('span', {}, 'Show'),
    el(
      'span',
      { className: 'toggle', role: 'radiogroup', 'aria-label': 'attribution shown' },
      el('label', { title: 'the sum over the embedding dimensions: signed, what adds up to f(x) − f(x′) for IG' }, signedRadio, 'signed'),
      el('label', { title: 'the L2 norm over the embedding dimensions: size only' }, l2Radio, 'L2 norm'),
    ),
  );

  const run = el('button', { type: 'button', id: 'attr-run', className: 'primary', disabled: true }, 'Attribute');
  const compare = el(
    'button',
    { type: 'button', id: 'attr-compare', disabled: true, title: 'run every method on the same prompt and target, one row each' },
    'Compare methods',
  );
  const stop = el('button', { type: 'button', id: 'attr-stop', disabled: true }, 'Stop');
  const bar = el('progress', { id: 'attr-progress', max: 1, value: 0, 'aria-label': 'passes done' });
  const count = el('span', { className: 'timing', id: 'attr-count' });
  const paramsRow = el('div', { className: 'controls attr-params' }, ...Object.values(fields));
  const note = el('p', { className: 'method-note', id: 'attr-note' });
  const summary = el(
    'div',
    { className: 'summary', id: 'attr-summary', 'aria-live': 'polite' },
    'Not run yet: “Attribute” explains the page prompt’s prediction token by token.',
  );

  const legend = el('div', { className: 'legend-slot' });
  const caption = el('span', {});
  const chips = el('div', { className: 'chips attr-tokens', id: 'attr-tokens' });
  const completeness = el('p', { className: 'completeness', id: 'attr-completeness', hidden: true });
  const plot = el('figure', { className: 'path-figure', id: 'attr-plot', hidden: true });
  const single = el(
    'div',
    { hidden: true, id: 'attr-result' },
    el('div', { className: 'chart-caption' }, caption, legend),
    chips,
    completeness,
    plot,
  );
  const rows = el('tbody', {});
  const compareCaption = el('div', { className: 'chart-caption' });
  const comparison = el(
    'div',
    { hidden: true, id: 'attr-comparison' },
    compareCaption,
    el('table', { className: 'attr-compare', id: 'attr-compare-table' }, rows),
  );

  container.dataset.state = 'idle';
  container.replaceChildren(
    el(
      'p',
      { className: 'explain' },
      'How much each token of the page prompt matters to the target f at one position: red tokens push f up, ' +
        'blue ones down. Gradient methods differentiate an f32 copy of the model, built on the first run; ' +
        'occlusion only reruns it. Hover a token for its exact value.',
    ),
    el(
      'div',
      { className: 'controls' },
      field('Method', method),
      field('Target f', kind),
      token.element,
      minus.element,
      field('Position', position),
    ),
    paramsRow,
    note,
    el('div', { className: 'controls' }, show, run, compare, stop),
    el('div', { className: 'run-status' }, bar, count, summary),
    single,
    comparison,
  );

  let shown = null; // {kind: 'single', result} | {kind: 'compare', results, requests}: on show
  let asked = null; // the request of the run in progress or last run (single)
  let comparing = null; // the compare requests, while or after they run

  const refresh = () => {
    const m = method.value;
    const ig = m === 'integrated_gradients';
    const occ = m === 'occlusion';
    const replacing = ig || (occ && occlusion.value === 'replace');
    fields.steps.hidden = !ig || adaptive.input.checked;
    fields.baseline.hidden = !replacing;
    fields.baselineToken.hidden = !replacing || baseline.value !== 'token';
    fields.keepFirst.hidden = !ig;
    fields.adaptive.hidden = !ig;
    fields.tolerance.hidden = !ig || !adaptive.input.checked;
    fields.budget.hidden = !ig || !adaptive.input.checked;
    for (const key of ['samples', 'noise', 'seed']) fields[key].hidden = m !== 'smoothgrad';
    fields.window.hidden = !occ;
    fields.occlusion.hidden = !occ;
    minus.element.hidden = kind.value !== 'logit_diff';
    paramsRow.hidden = Object.values(fields).every((f) => f.hidden);
    note.textContent = METHOD_NOTE[m];
  };
  for (const control of [method, baseline, occlusion, kind]) control.addEventListener('change', refresh);
  adaptive.input.addEventListener('change', refresh);
  refresh();
  signedRadio.onchange = l2Radio.onchange = () => redraw();
  run.onclick = () => onRun();
  compare.onclick = () => onCompare();
  stop.onclick = () => {
    stop.disabled = true;
    summary.textContent = 'Stopping after the batch of passes in progress…';
    onStop();
  };

  return {
    /** The request for the chosen method, without the prompt (the page's); throws on a
     *  malformed number. */
    value() {
      return requestFor(method.value);
    },
    /** One request per method, with the same target and the form's parameters. */
    compareRequests() {
      return METHODS.map(([m]) => requestFor(m));
    },
    suggest(t, m) {
      token.suggest(t);
      minus.suggest(m);
    },
    /** Sets the target, even over what the reader typed (a worked example). */
    setTarget({ type, token: t, minus: m }) {
      kind.value = type;
      token.set(t);
      minus.set(m ?? '');
      refresh();
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
      compare.disabled = !enabled;
    },
    start(request) {
      asked = request;
      begin('Running the prompt…');
    },
    /** {phase: 'prepare'} or {phase: 'attribute', done, total, partial}. */
    progress(p) {
      if (p.phase === 'prepare') {
        summary.textContent = 'Preparing the f32 model for gradients (once: about 650 MB, a few seconds)…';
        return;
      }
      passes(p);
      summary.textContent = `${targetText(p.partial)} · ${METHOD_NAME[p.partial.method]}: ${p.done} of ${p.total} passes…`;
      drawSingle(p.partial);
    },
    finish(result, ms) {
      passes(result);
      drawSingle(result);
      const passesText = result.stopped ? `stopped after ${result.done} of ${result.total} passes` : `${result.passes} passes`;
      summary.textContent = `${targetText(result)} · ${describe(asked, result)} · ${passesText} · ${(ms / 1000).toFixed(1)} s`;
      end(result.stopped ? 'stopped' : 'ready');
    },
    /** Compare methods: rows wait for their method's turn. */
    startCompare(requests) {
      comparing = requests;
      begin('Running every method in turn…');
      shown = { kind: 'compare', results: [], requests };
      drawRows();
    },
    compareProgress(index, p) {
      const name = METHOD_NAME[comparing[index].method];
      if (p.phase === 'prepare') {
        summary.textContent = 'Preparing the f32 model for gradients (once: about 650 MB, a few seconds)…';
        return;
      }
      passes(p);
      count.textContent = `${name} (${index + 1} of ${comparing.length}): ${p.done} / ${p.total} passes`;
      summary.textContent = `${targetText(p.partial)} · ${name}…`;
      shown.results[index] = p.partial;
      drawRows();
    },
    compareRow(index, result) {
      shown.results[index] = result;
      drawRows();
    },
    finishCompare(ms, stopped) {
      const done = shown.results.filter((r) => r?.finished).length;
      const first = shown.results.find(Boolean);
      const what = first ? `${targetText(first)} · ` : '';
      summary.textContent = `${what}${done} of ${comparing.length} methods · ${(ms / 1000).toFixed(1)} s${stopped ? ' · stopped' : ''}`;
      count.textContent = `${done} of ${comparing.length} methods`;
      end(stopped ? 'stopped' : 'ready');
      drawRows();
    },
    fail(message) {
      summary.textContent = `Failed: ${message}`;
      stop.disabled = true;
      container.dataset.state = 'error';
      if (shown?.kind === 'compare') drawRows();
    },
  };

  function begin(text) {
    shown = null;
    single.hidden = true;
    comparison.hidden = true;
    container.dataset.state = 'running';
    summary.textContent = text;
    bar.value = 0;
    bar.max = 1;
    count.textContent = '';
    stop.disabled = false;
  }

  function end(state) {
    stop.disabled = true;
    container.dataset.state = state;
  }

  function passes({ done, total }) {
    bar.max = Math.max(1, total);
    bar.value = done;
    count.textContent = `${done} / ${total} passes`;
  }

  function mode() {
    return l2Radio.checked ? 'l2' : 'signed';
  }

  function redraw() {
    if (shown?.kind === 'single') drawSingle(shown.result);
    if (shown?.kind === 'compare') drawRows();
  }

  /** One method's result: shaded tokens, the legend, and for IG the completeness check and the path. */
  function drawSingle(result) {
    shown = { kind: 'single', result };
    comparison.hidden = true;
    single.hidden = false;
    const { chips: shaded, scale } = shade(result, mode());
    chips.replaceChildren(...shaded);
    legend.replaceChildren(legendFor(mode(), scale));
    caption.textContent = captionFor(result.method, mode());
    const ig = result.integratedGradients;
    completeness.hidden = !ig || (!result.finished && !result.stopped);
    plot.hidden = !ig || !result.finished;
    if (!ig) return;
    completeness.textContent = completenessText(result);
    completeness.dataset.error = String(ig.completenessError);
    if (result.finished) drawPlot(result);
  }

  function drawPlot(result) {
    const ig = result.integratedGradients;
    const f = (v) => num(v);
    const points = ig.alphas.map((a, i) => ({
      x: a,
      y: ig.pathValues[i],
      tip: `α = ${a.toFixed(4)}: f = ${f(ig.pathValues[i])}, integrand ${num(ig.integrand[i], true)}`,
    }));
    const ends = [
      { x: 0, y: ig.baselineValue, hollow: true, tip: `α = 0, the baseline: f(x′) = ${f(ig.baselineValue)}` },
      { x: 1, y: result.value, hollow: true, tip: `α = 1, the prompt: f(x) = ${f(result.value)}` },
    ];
    const haveEnds = new Set(ig.alphas);
    const width = Math.max(360, Math.min(PLOT_WIDTH, container.clientWidth - 8));
    plot.replaceChildren(
      pathPlot({
        label: 'the target along the path from the baseline to the prompt, and the integrand',
        width,
        panels: [
          {
            title: `f(α): ${targetName(result)} at x′ + α(x − x′)`,
            colour: themeColour('series-1'),
            points: [...ends.filter((p) => !haveEnds.has(p.x)), ...points],
          },
          {
            title: 'integrand ∂f/∂x · (x − x′) at each evaluated α: its area is Σ attributions',
            colour: themeColour('series-2'),
            zero: true,
            points: ig.alphas.map((a, i) => ({ x: a, y: ig.integrand[i], tip: points[i].tip })),
          },
        ],
      }),
      el(
        'figcaption',
        {},
        `${ig.alphas.length} points (${ig.rule === 'midpoint' ? 'midpoint rule' : 'adaptive trapezoid rule'}); ` +
          'hollow points are the ends, f(x′) and f(x). Hover a point for its numbers.',
      ),
    );
  }

  /** The compare rows: one per method, each shaded by its own largest value. */
  function drawRows() {
    single.hidden = true;
    comparison.hidden = false;
    const m = mode();
    compareCaption.replaceChildren(
      el(
        'span',
        {},
        `${m === 'signed' ? 'Signed' : 'L2 norm'}: each row is shaded by its own largest value, its scale on the right; hover a token for its value.`,
      ),
      m === 'signed'
        ? createLegend({
            colour: (x) => diverging(2 * x - 1),
            low: '−max',
            high: '+max',
            title: 'each row: blue lowers the target, white 0, red raises it, relative to the row’s largest |value|',
          })
        : createLegend({ colour: sequential, low: '0', high: 'max', title: 'each row: the L2 norm relative to the row’s largest value' }),
    );
    rows.replaceChildren(
      ...shown.requests.map((request, i) => {
        const result = shown.results[i];
        const name = METHOD_NAME[request.method];
        if (!result) {
          const waiting = container.dataset.state === 'running';
          return el(
            'tr',
            { dataset: { method: request.method, state: waiting ? 'waiting' : 'not-run' } },
            el('th', {}, name),
            el('td', { className: 'waiting' }, waiting ? 'waiting…' : 'not run'),
            el('td', {}),
          );
        }
        const { chips: shaded, scale } = shade(result, m);
        const ig = result.integratedGradients;
        const error = ig && result.finished ? ` · completeness error ${percent(ig.completenessError)}` : '';
        const state = result.finished ? 'done' : result.stopped ? 'stopped' : 'running';
        const scaleText = `${m === 'signed' ? 'max |a|' : 'max'} ${num(scale)}${error}${state === 'done' ? '' : ` · ${result.done} / ${result.total} passes`}`;
        return el(
          'tr',
          { dataset: { method: request.method, state } },
          el('th', {}, name),
          el('td', {}, el('div', { className: 'chips attr-tokens' }, ...shaded)),
          el('td', { className: 'attr-scale' }, scaleText),
        );
      }),
    );
  }

  /** A request from the form, for method `m`; throws on a malformed number. */
  function requestFor(m) {
    const target = { type: kind.value, token: token.value(), position: numberOf(position, 'position', { integer: true }) };
    if (kind.value === 'logit_diff') target.minus = minus.value();
    const base = baseline.value === 'token' ? { type: 'token', token: baselineToken.value() } : { type: 'zero' };
    const params = {
      saliency: () => ({}),
      grad_x_input: () => ({}),
      integrated_gradients: () =>
        adaptive.input.checked
          ? {
              baseline: base,
              keepFirst: keepFirst.input.checked,
              adaptive: true,
              tolerance: numberOf(tolerance, 'tolerance', { min: 0 }) / 100,
              maxPasses: numberOf(budget, 'budget', { integer: true, min: 1 }),
            }
          : { baseline: base, keepFirst: keepFirst.input.checked, steps: numberOf(steps, 'steps', { integer: true, min: 1 }) },
      smoothgrad: () => ({
        samples: numberOf(samples, 'samples', { integer: true, min: 1 }),
        noise: numberOf(noise, 'noise level', { min: 0 }),
        seed: numberOf(seed, 'seed', { integer: true, min: 0 }),
      }),
      occlusion: () =>
        occlusion.value === 'remove'
          ? { window: numberOf(windowSize, 'window', { integer: true, min: 1 }), remove: true }
          : { window: numberOf(windowSize, 'window', { integer: true, min: 1 }), remove: false, baseline: base },
    }[m]();
    return { method: m, target, params };
  }
}

/** Token chips shaded by their attribution (signed: diverging around 0; L2: sequential),
 *  scaled to the largest magnitude; the title has the exact values. */
function shade(result, mode) {
  const values = mode === 'signed' ? result.signed : result.l2;
  const scale = Math.max(1e-12, ...values.map((v) => Math.abs(v)).filter(Number.isFinite));
  const chips = result.tokens.map(({ id, text }, position) => {
    const v = values[position];
    const colour = mode === 'signed' ? diverging(v / scale) : sequential(v / scale);
    const marked = position === result.target.position;
    return el('span', {
      className: marked ? 'chip target-position' : 'chip',
      textContent: visible(text),
      title:
        `position ${position} · id ${id}${marked ? ' · the target is read here' : ''}\n` +
        `signed ${num(result.signed[position], true)} · L2 ${num(result.l2[position])}`,
      style: `background: ${css(colour)}; color: ${textOn(colour)}; border-color: transparent`,
      dataset: { position: String(position), value: String(v) },
    });
  });
  return { chips, scale };
}

/** What a shaded token shows, for a method and the signed / L2 toggle. */
function captionFor(method, mode) {
  if (method === 'occlusion') {
    return mode === 'signed'
      ? 'occlusion: f(x) − f(x occluded), averaged over the windows covering each token'
      : 'occlusion: its size, |f(x) − f(x occluded)|';
  }
  return mode === 'signed'
    ? `${METHOD_NAME[method]}, signed: the sum over each embedding’s dimensions`
    : `${METHOD_NAME[method]}: the L2 norm over each embedding’s dimensions`;
}

function legendFor(mode, scale) {
  return mode === 'signed'
    ? createLegend({
        colour: (x) => diverging(2 * x - 1),
        low: num(-scale),
        high: num(scale, true),
        title: 'signed attribution: blue lowers the target, white 0, red raises it',
      })
    : createLegend({ colour: sequential, low: '0', high: num(scale), title: 'L2 norm of the attribution: size only' });
}

/** The completeness check of Integrated Gradients, in words. */
function completenessText(result) {
  const ig = result.integratedGradients;
  const change = `the target changed by ${num(ig.delta, true)} from the baseline (f(x′) = ${num(ig.baselineValue)} → f(x) = ${num(result.value)})`;
  if (!result.finished) {
    return (
      `Stopped after ${result.done} of ${result.total} passes: the path integral is unfinished, so completeness is not ` +
      `checked (the partial attributions add up to ${num(ig.sum, true)}; ${change}).`
    );
  }
  const error = ig.completenessError;
  const limit = ig.adaptive ? ig.adaptive.tolerance : COMPLETE;
  let text =
    error <= limit
      ? `Attributions add up to ${num(ig.sum, true)} and ${change}: within ${percent(limit)} ` +
        `(error ${percent(error)}), so the attributions account for the whole change.`
      : `Attributions add up to ${num(ig.sum, true)} but ${change}: ${percent(error)} completeness error. ` +
        `The straight-line path is not smooth here — see the plot; ${ig.adaptive ? 'try a larger budget' : 'try adaptive mode or more steps'}.`;
  if (ig.adaptive) {
    text += ig.adaptive.converged
      ? ` Adaptive: converged to ≤ ${percent(ig.adaptive.tolerance)} after ${result.done} passes.`
      : ` Adaptive: stopped: budget of ${ig.adaptive.budget} passes spent, error ${percent(error)}.`;
  }
  return text;
}

/** "log p('·Paris')", "logit('·Mary') − logit('·John')". */
function targetName(result) {
  const t = result.target;
  const q = (token) => `'${visible(token.text)}'`;
  if (t.kind === 'logprob') return `log p(${q(t.token)})`;
  if (t.kind === 'logit') return `logit(${q(t.token)})`;
  return `logit(${q(t.token)}) − logit(${q(t.minus)})`;
}

/** "log p('·Paris') after position 9 '·of' = −0.354". */
function targetText(result) {
  const p = result.target.position;
  return `${targetName(result)} after position ${p} '${visible(result.tokens[p]?.text ?? '')}' = ${num(result.value)}`;
}

/** The method and its parameters as run. */
function describe(request, result) {
  const name = METHOD_NAME[result.method];
  const p = request?.params ?? {};
  const token = p.baseline?.type === 'token' ? `'${visible(p.baseline.token)}'` : null;
  switch (result.method) {
    case 'integrated_gradients': {
      const rule = p.adaptive ? `adaptive to ${percent(p.tolerance)} within ${p.maxPasses} passes` : `${p.steps} steps`;
      return `${name}, ${rule}, ${token ? `baseline ${token}` : 'zero baseline'}${p.keepFirst ? ', first token kept' : ''}`;
    }
    case 'smoothgrad':
      return `${name}, ${p.samples} samples, noise ${p.noise} (σ = ${num(result.sigma ?? 0)})`;
    case 'occlusion':
      return `${name}, window ${p.window}, ${p.remove ? 'tokens removed' : `replaced by ${token ?? 'zeros'}`}`;
    default:
      return name;
  }
}

/** A number with a real minus sign, to about four significant digits. */
function num(v, sign = false) {
  const a = Math.abs(v);
  const s = a === 0 ? '0' : a >= 100 ? a.toFixed(1) : a >= 1 ? a.toFixed(3) : a >= 1e-3 ? a.toFixed(4) : a.toExponential(2);
  return v < 0 ? `−${s}` : sign ? `+${s}` : s;
}

function percent(x) {
  const p = x * 100;
  return `${p >= 100 ? p.toFixed(0) : p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;
}

/**
 * @param {string} id
 * @param {number} value
 * @param {{min?: number, step: number | 'any', title?: string}} attributes
 */
function numberInput(id, value, { min, step, title }) {
  return el('input', {
    type: 'number',
    id,
    name: id,
    value: String(value),
    step,
    className: 'number-input',
    ...(min !== undefined ? { min } : {}),
    ...(title ? { title } : {}),
  });
}

/** A checkbox with its label, in the style of the generate panel's. */
function checkbox(id, text, title) {
  const input = el('input', { type: 'checkbox', id, name: id });
  return { input, element: el('label', { className: 'check', title }, input, ` ${text}`) };
}

/** The input's number; throws, naming `what`, unless it is a (whole, when `integer`) number ≥ min. */
function numberOf(input, what, { integer = false, min = -Infinity }) {
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min) {
    const kind = integer ? 'a whole number' : 'a number';
    throw new Error(`${what} must be ${kind}${min > -Infinity ? ` ≥ ${min}` : ''}, not ${JSON.stringify(input.value)}`);
  }
  return v;
}
