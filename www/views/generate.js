// Generate panel: sampling settings, Generate/Stop, and the text as it streams in.

import { el } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{onGenerate(settings): void, onStop(): void}} data
 *   settings = {maxTokens, temperature, topP, seed, stopAtEos}
 */
export function createGeneratePanel(container, { onGenerate, onStop }) {
  const maxTokens = number('max-tokens', 20, { min: 1, max: 1024, step: 1 });
  const temperature = number('temperature', 0, { min: 0, max: 5, step: 0.1 });
  const topP = number('top-p', 0.95, { min: 0.01, max: 1, step: 0.01 });
  const seed = number('seed', 42, { min: 0, max: 2 ** 32 - 1, step: 1 });
  const stopAtEos = el('input', { type: 'checkbox', id: 'stop-at-eos', checked: true });
  const generate = el('button', { type: 'button', id: 'generate', className: 'primary', disabled: true }, 'Generate');
  const stop = el('button', { type: 'button', id: 'stop', disabled: true }, 'Stop');
  const prompt = el('span', { className: 'gen-prompt' });
  const generated = el('span', { className: 'gen-text' });
  const output = el('pre', { className: 'gen-output', id: 'gen-output' }, prompt, generated);
  const stats = el('div', { className: 'gen-stats', id: 'gen-stats', 'aria-live': 'polite' });
  container.replaceChildren(
    el(
      'div',
      { className: 'controls' },
      field('Max tokens', maxTokens),
      field('Temperature (0 = greedy)', temperature),
      field('Top-p', topP),
      field('Seed', seed),
      el('label', { title: 'end the generation at the end-of-turn token (<|im_end|>)' }, stopAtEos, ' stop at end of turn'),
      generate,
      stop,
    ),
    output,
    stats,
  );

  generate.onclick = () => {
    const settings = {
      maxTokens: integer(maxTokens, 1),
      temperature: Math.max(0, Number(temperature.value) || 0),
      topP: Math.min(1, Math.max(0.01, Number(topP.value) || 1)),
      seed: integer(seed, 0),
      stopAtEos: stopAtEos.checked,
    };
    onGenerate(settings);
  };
  stop.onclick = () => {
    stop.disabled = true;
    onStop();
  };

  return {
    setEnabled(enabled) {
      generate.disabled = !enabled;
    },
    /** A generation begins: show the prompt, clear the old text. */
    start(promptText) {
      container.dataset.state = 'running';
      prompt.textContent = promptText;
      generated.replaceChildren();
      stats.textContent = 'Generating…';
      generate.disabled = true;
      stop.disabled = false;
    },
    /** One streamed token: appended as a text node, never as HTML. */
    append(token) {
      generated.append(document.createTextNode(token.text));
    },
    /** Done: replace the streamed pieces by the decoded text (partial UTF-8 bytes joined). */
    finish({ text, count, ms, stopped, maxTokens }) {
      if (typeof text === 'string') generated.textContent = text;
      const rate = count > 0 && ms > 0 ? ` (${(count / (ms / 1000)).toFixed(1)} tokens/s)` : '';
      const why = stopped ? ' · stopped' : count < maxTokens ? ' · end of turn' : '';
      stats.textContent = `${count} token${count === 1 ? '' : 's'} in ${(ms / 1000).toFixed(2)} s${rate}${why}`;
      stop.disabled = true;
      container.dataset.state = 'done';
    },
    fail(message) {
      stats.textContent = `Failed: ${message}`;
      stop.disabled = true;
      container.dataset.state = 'error';
    },
  };
}

function number(name, value, { min, max, step }) {
  return el('input', { type: 'number', id: name, name, value: String(value), min, max, step });
}

function field(text, input) {
  return el('label', { className: 'field' }, el('span', {}, text), input);
}

function integer(input, min) {
  const n = Math.floor(Number(input.value));
  return Number.isFinite(n) ? Math.max(min, n) : min;
}
