// One SAE feature's dashboard (after Bricken et al. 2023, "Towards Monosemanticity", and
// Neuronpedia): how often it fires and how strongly (from dashboard.json, computed over the
// SAE's training corpus, or for an SAE trained in the page over the reader's prompts), its
// top-activating contexts with every token shaded by the feature's activation, its
// activation on each token of the page prompt, the tokens its decoder row promotes and
// suppresses, and feature steering: the page prompt continued with the feature clamped to a
// value, beside the unsteered text. Token text is set with textContent only.

import { scaleLinear } from '../vendor/d3.js';
import { axis, chartRoot } from './chart.js';
import { el, visible } from './format.js';
import { css, sequential, textOn, createLegend, themeColour } from './colours.js';
import { renderTokenValues, signed } from './tokenvalues.js';
import { createDualGeneration } from './dualgen.js';

const HIST = { width: 300, height: 110, left: 46, bottom: 34, top: 8, right: 8 };

/**
 * @param {HTMLElement} container
 * @param {{onClamp(): void, onAblate(): void, onStop(): void, onToSteer(): void}} data
 */
export function createFeatureDashboard(container, { onClamp, onAblate, onStop, onToSteer }) {
  const title = el('h3', { className: 'feature-title', id: 'feature-title' });
  const stats = el('div', { className: 'summary', id: 'feature-stats' });
  const legend = el('div', { className: 'legend-slot' });
  const promptChips = el('div', { className: 'chips attr-tokens', id: 'feature-prompt' });
  const contexts = el('ol', { className: 'contexts', id: 'feature-contexts' });
  const histogram = el('div', { className: 'histogram', id: 'feature-histogram' });
  const contextsCaption = el('figcaption', {}, 'top-activating contexts in the SAE’s corpus (the strongest token outlined)');
  const histogramCaption = el('figcaption', {}, 'activation histogram (non-zero activations)');
  const promoted = el('div', { className: 'side', id: 'feature-promoted' });
  const suppressed = el('div', { className: 'side', id: 'feature-suppressed' });
  // The top contexts and the histogram: hidden without a dashboard.
  const corpus = el(
    'div',
    { className: 'side-by-side feature-corpus' },
    el('figure', { className: 'contexts-figure' }, contextsCaption, contexts),
    el('figure', { className: 'histogram-figure' }, histogramCaption, histogram),
  );

  const value = el('input', {
    type: 'range',
    id: 'feature-clamp',
    name: 'feature-clamp',
    min: 0,
    max: 10,
    step: 0.01,
    value: '5',
    className: 'slider',
  });
  const valueText = el('span', { className: 'slider-value', id: 'feature-clamp-value' });
  const generation = createDualGeneration({ id: 'feature' });
  const clamp = el(
    'button',
    { type: 'button', id: 'feature-clamp-run', className: 'primary', disabled: true },
    'Generate with the feature clamped',
  );
  const ablate = el(
    'button',
    {
      type: 'button',
      id: 'feature-ablate',
      disabled: true,
      title: 'clamp the feature to 0 wherever it fires: what the text is without it',
    },
    'Clamp to 0 (ablate)',
  );
  const stop = el('button', { type: 'button', id: 'feature-stop', disabled: true }, 'Stop');
  const toSteer = el(
    'button',
    {
      type: 'button',
      id: 'feature-to-steer',
      disabled: true,
      title: 'W_dec[f] in the Steering tab: add, clamp or ablate it like any direction',
    },
    'Use its decoder row as a steering direction',
  );
  const clampSummary = el('div', { className: 'summary', id: 'feature-clamp-summary', 'aria-live': 'polite' });

  container.hidden = true;
  container.replaceChildren(
    el('div', { className: 'feature-head' }, title, stats),
    el(
      'div',
      { className: 'chart-caption' },
      el('span', {}, 'its activation on each token of the page prompt (hover for the value)'),
      legend,
    ),
    promptChips,
    corpus,
    el(
      'div',
      { className: 'side-by-side' },
      el('figure', {}, el('figcaption', {}, 'its decoder row promotes (logit change per unit of activation)'), promoted),
      el('figure', {}, el('figcaption', {}, 'and suppresses'), suppressed),
    ),
    el('h4', { className: 'feature-steer-title' }, 'Feature steering'),
    el(
      'p',
      { className: 'method-note' },
      'Clamps the feature to a value at every position, generated tokens included: x ← x + (value − f(x)) · W_dec[f], ' +
        'so the rest of the SAE’s reconstruction error stays as it was. Both sides use the same seed and settings.',
    ),
    el(
      'div',
      { className: 'controls' },
      el('label', { className: 'field' }, el('span', {}, 'Clamp to'), el('span', { className: 'slider-field' }, value, valueText)),
      ...generation.fields,
      clamp,
      ablate,
      stop,
      toSteer,
    ),
    clampSummary,
    generation.element,
  );

  let feature = null; // the feature on show
  let enabled = false;
  value.oninput = () => {
    valueText.textContent = Number(value.value).toFixed(2);
  };
  clamp.onclick = () => onClamp();
  ablate.onclick = () => onAblate();
  toSteer.onclick = () => onToSteer();
  stop.onclick = () => {
    stop.disabled = true;
    clampSummary.textContent = 'Stopping after the tokens in progress…';
    onStop();
  };

  return {
    /** @param {{feature, info, entry, contexts: {tokens: string[], activations, imax}[], prompt:
     *           {tokens, activations: (number | null)[], floor: number[]}, hook, nTokens,
     *           trained: boolean}} data  trained: the SAE was trained in the page, and entry
     *           and contexts come from the training prompts */
    show({ feature: f, info, entry, contexts: ctx, prompt, hook, nTokens, trained = false }) {
      const changed = feature !== f;
      feature = f;
      container.hidden = false;
      container.dataset.feature = String(f);
      title.textContent = `Feature ${f}`;
      const promptMax = Math.max(0, ...prompt.activations.slice(1).filter(Number.isFinite));
      const mx = entry?.mx > 0 ? entry.mx : promptMax;
      const norm = `decoder norm ${info.decoderNorm.toFixed(3)} · ${hook}`;
      const where = trained ? 'your prompts' : 'the corpus';
      if (trained) {
        stats.textContent = entry
          ? `fires on ${firing(entry.fr)} of ${nTokens.toLocaleString('en')} tokens of your prompts · max activation ${entry.mx.toFixed(2)} · ` +
            `${norm} · no corpus dashboard: trained on your prompts`
          : `no corpus dashboard: trained on your prompts (their top contexts were not computed) · ${norm}`;
      } else {
        stats.textContent = entry
          ? `fires on ${firing(entry.fr)} of ${nTokens ? `${nTokens.toLocaleString('en')} ` : ''}corpus tokens · ` +
            `max activation ${entry.mx.toFixed(2)} · ${norm}`
          : `no dashboard.json: firing statistics and top contexts are not available · ${norm}`;
      }
      contextsCaption.textContent = trained
        ? 'top-activating contexts in your training prompts (the strongest token outlined)'
        : 'top-activating contexts in the SAE’s corpus (the strongest token outlined)';
      histogramCaption.textContent = `activation histogram${trained ? ' over your prompts' : ''} (non-zero activations)`;

      // The page prompt, shaded on the corpus's scale when there is one.
      const scale = Math.max(1e-6, mx, promptMax);
      promptChips.replaceChildren(
        ...prompt.tokens.map(({ id, text }, p) => {
          const a = prompt.activations[p];
          const colour = sequential((a ?? 0) / scale);
          const reading = a === null ? `below ${prompt.floor[p].toFixed(2)} (not among this token’s strongest features)` : a.toFixed(3);
          return el('span', {
            className: p === 0 ? 'chip sink' : 'chip',
            textContent: visible(text),
            title: `position ${p} · id ${id} · activation ${reading}${p === 0 ? '\nposition 0: the attention sink, usually outside what SAEs are trained on' : ''}`,
            style: `background: ${css(colour)}; color: ${textOn(colour)}; border-color: transparent`,
            dataset: { position: String(p), activation: String(a ?? 0) },
          });
        }),
      );
      legend.replaceChildren(
        createLegend({
          colour: sequential,
          low: '0',
          high: scale.toFixed(2),
          title: `activation of feature ${f}: white 0, dark blue ${scale.toFixed(2)}${entry ? ` (its max over ${where})` : ''}`,
        }),
      );

      // The corpus: top contexts and the histogram (the stats line says why when there is none).
      corpus.hidden = !entry;
      contexts.replaceChildren(
        ...(ctx.length
          ? ctx.map((c) => el('li', {}, contextChips(c, mx), el('span', { className: 'context-max' }, c.activations[c.imax].toFixed(2))))
          : [
              el(
                'li',
                { className: 'placeholder' },
                entry
                  ? `never fires ${trained ? 'on your prompts' : 'in the corpus'} (a dead feature)`
                  : 'no dashboard.json next to this SAE',
              ),
            ]),
      );
      histogram.replaceChildren(
        entry?.hc?.length
          ? histogramSvg(entry)
          : el('p', { className: 'placeholder' }, entry ? 'no non-zero activations' : 'no dashboard.json'),
      );

      const logit = (v) => signed(v);
      renderTokenValues(promoted, info.promoted, { heading: 'token · logit effect', format: logit, colour: themeColour('up') });
      renderTokenValues(suppressed, info.suppressed, { heading: 'token · logit effect', format: logit, colour: themeColour('down') });

      // The clamp slider spans 0 … 2 × the feature's max activation.
      if (changed) {
        const top = Math.max(1, 2 * mx);
        value.max = String(Number(top.toPrecision(3)));
        value.step = String(Number((top / 200).toPrecision(2)));
        value.value = String(Number(Math.max(mx, 0.5).toPrecision(3)));
        value.oninput();
        clampSummary.textContent = `Not run yet: “Generate with the feature clamped” continues the page prompt with feature ${f} held at the value chosen.`;
        generation.element.hidden = true;
        container.dataset.state = 'idle';
      }
      refresh();
    },
    hide() {
      feature = null;
      container.hidden = true;
    },
    setEnabled(on) {
      enabled = on;
      refresh();
    },
    /** The clamp request: {feature, value, settings}. */
    clampValue(v = Number(value.value)) {
      return { feature, value: v, settings: generation.settings() };
    },
    start(prompt, label) {
      container.dataset.state = 'running';
      clampSummary.textContent = `Generating with ${label}…`;
      generation.start(prompt, `steered: ${label}`);
      stop.disabled = false;
    },
    append(token, which) {
      generation.append(token, which);
    },
    finish(result, ms, label) {
      generation.finish(result, ms);
      clampSummary.textContent = `${label} · ${(ms / 1000).toFixed(1)} s${result.stopped ? ' · stopped' : ''}`;
      stop.disabled = true;
      container.dataset.state = result.stopped ? 'stopped' : 'ready';
    },
    fail(message) {
      clampSummary.textContent = `Failed: ${message}`;
      stop.disabled = true;
      container.dataset.state = 'error';
    },
    texts: () => generation.texts(),
  };

  function refresh() {
    clamp.disabled = !enabled || feature === null;
    ablate.disabled = !enabled || feature === null;
    toSteer.disabled = !enabled || feature === null;
  }
}

/** One top-activating context: token chips shaded by the activation, the strongest outlined. */
function contextChips({ tokens, activations, imax }, mx) {
  const scale = Math.max(1e-6, mx);
  return el(
    'span',
    { className: 'context' },
    ...tokens.map((text, i) => {
      const colour = sequential(activations[i] / scale);
      return el('span', {
        className: i === imax ? 'chip ctx-token max-token' : 'chip ctx-token',
        textContent: visible(text),
        title: `activation ${activations[i].toFixed(2)}`,
        style: `background: ${css(colour)}; color: ${textOn(colour)}; border-color: ${i === imax ? 'var(--mark)' : 'transparent'}`,
      });
    }),
  );
}

/** The histogram of a feature's non-zero activations: bins he[k]…he[k+1], counts hc[k]. */
function histogramSvg({ he, hc }) {
  const { width, height, left, bottom, top, right } = HIST;
  const plotH = height - top - bottom;
  const root = chartRoot({ width, height, label: 'histogram of the feature’s non-zero activations', className: 'hist-plot' });
  const x = scaleLinear([0, he.at(-1)], [left, width - right]);
  const y = scaleLinear([0, Math.max(1, ...hc)], [top + plotH, top]);
  root
    .append('g')
    .selectAll('rect')
    .data(hc)
    .join('rect')
    .attr('class', 'hist-bar')
    .attr('x', (_, k) => x(he[k]) + 0.5)
    .attr('y', (n) => Math.min(y(n), top + plotH - (n > 0 ? 1 : 0)))
    .attr('width', (_, k) => Math.max(1, x(he[k + 1]) - x(he[k]) - 1))
    .attr('height', (n) => Math.max(n > 0 ? 1 : 0, top + plotH - y(n)))
    .append('title')
    .text((n, k) => `${he[k].toFixed(2)} – ${he[k + 1].toFixed(2)}: ${n.toLocaleString('en')}`);
  axis(root, 'left', y, { at: left, values: y.domain(), format: count });
  axis(root, 'bottom', x, { at: top + plotH, ticks: 4, title: 'activation' });
  return root.node();
}

/** A firing fraction as a percentage with sensible digits. */
function firing(fr) {
  if (!(fr > 0)) return '0%';
  const p = fr * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 0.01 ? p.toPrecision(2) : p.toExponential(1)}%`;
}

function count(n) {
  return n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n);
}
