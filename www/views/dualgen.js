// Two continuations side by side: the page prompt generated with the same settings and seed
// without and with an intervention (a steering vector, a clamped SAE feature), streamed a
// token of each in turn (loupe.steerGenerate), so a reader sees where they part. Shared by
// the Steering and Features tabs. Token text goes in as text nodes, never as HTML.

import { el } from './format.js';
import { field } from './inputs.js';

/**
 * @param {{id: string}} data  prefix of the element ids ('steer' → #steer-max-tokens, …)
 * @returns {{fields: HTMLElement[], element: HTMLElement, settings(): object,
 *            start(prompt: string, steeredLabel: string): void, append(token, which): void,
 *            finish(result, ms: number): void, fail(message: string): void,
 *            texts(): {base: string, steered: string}}}
 */
export function createDualGeneration({ id }) {
  const maxTokens = number(`${id}-max-tokens`, 20, { min: 1, max: 512, step: 1 });
  const temperature = number(`${id}-temperature`, 0, { min: 0, max: 5, step: 0.1 });
  const seed = number(`${id}-seed`, 42, { min: 0, max: 2 ** 32 - 1, step: 1 });
  const sides = {
    base: side(`${id}-base`, 'unsteered'),
    steered: side(`${id}-steered`, 'steered'),
  };
  const stats = el('div', { className: 'gen-stats', id: `${id}-gen-stats`, 'aria-live': 'polite' });
  const element = el(
    'div',
    { className: 'dual-gen', hidden: true },
    el('div', { className: 'side-by-side dual-outputs' }, sides.base.figure, sides.steered.figure),
    stats,
  );
  let counts = { base: 0, steered: 0 };

  return {
    fields: [field('Max tokens', maxTokens), field('Temperature (0 = greedy)', temperature), field('Seed (both sides)', seed)],
    element,
    /** The generation settings, the same for both sides. */
    settings() {
      return {
        maxTokens: integer(maxTokens, 1),
        temperature: Math.max(0, Number(temperature.value) || 0),
        topP: 0.95,
        seed: integer(seed, 0),
        stopAtEos: true,
      };
    },
    start(prompt, steeredLabel) {
      counts = { base: 0, steered: 0 };
      sides.steered.caption.textContent = steeredLabel;
      for (const s of Object.values(sides)) {
        s.prompt.textContent = prompt;
        s.text.replaceChildren();
      }
      stats.textContent = 'Generating both…';
      element.hidden = false;
    },
    /** One streamed token of one side, appended as a text node. */
    append(token, which) {
      counts[which] += 1;
      sides[which]?.text.append(document.createTextNode(token.text));
    },
    /** Done: each side's decoded text (partial UTF-8 bytes joined) replaces the streamed pieces. */
    finish(result, ms) {
      for (const which of ['base', 'steered']) {
        const text = result?.[which]?.text;
        if (typeof text === 'string') sides[which].text.textContent = text;
      }
      const total = counts.base + counts.steered;
      const rate = total > 0 && ms > 0 ? ` (${(total / (ms / 1000)).toFixed(1)} tokens/s)` : '';
      const made = (n) => `${n} token${n === 1 ? '' : 's'}`;
      stats.textContent =
        `unsteered ${made(counts.base)} · steered ${made(counts.steered)} · ${(ms / 1000).toFixed(2)} s${rate}` +
        `${result?.stopped ? ' · stopped' : ''} · same seed and settings`;
    },
    /** The generation did not run (stopped before it began, or failed). */
    fail(message) {
      stats.textContent = message;
    },
    /** Texts on show, for tests and hosts. */
    texts: () => ({ base: sides.base.text.textContent, steered: sides.steered.text.textContent }),
  };
}

function side(id, caption) {
  const prompt = el('span', { className: 'gen-prompt' });
  const text = el('span', { className: 'gen-text' });
  const label = el('figcaption', {}, caption);
  return { prompt, text, caption: label, figure: el('figure', {}, label, el('pre', { className: 'gen-output', id }, prompt, text)) };
}

function number(id, value, { min, max, step }) {
  return el('input', { type: 'number', id, name: id, value: String(value), min, max, step, className: 'number-input' });
}

function integer(input, min) {
  const n = Math.floor(Number(input.value));
  return Number.isFinite(n) ? Math.max(min, n) : min;
}
