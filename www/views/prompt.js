// Prompt panel: the prompt, "prepend BOS", and Run (also Ctrl/Cmd+Enter in the prompt).

import { el } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{prompt: string, prependBos: boolean, onRun(): void}} data
 */
export function createPromptPanel(container, { prompt, prependBos, onRun }) {
  const text = el('textarea', { id: 'prompt', rows: 3, spellcheck: false, value: prompt, 'aria-label': 'prompt' });
  const bos = el('input', { type: 'checkbox', id: 'prepend-bos', checked: prependBos });
  const run = el('button', { type: 'button', id: 'run', className: 'primary', disabled: true }, 'Run');
  const timing = el('span', { className: 'timing', id: 'run-timing', 'aria-live': 'polite' });
  container.replaceChildren(
    text,
    el('div', { className: 'controls' }, el('label', {}, bos, ' prepend BOS'), run, el('small', {}, 'Ctrl+Enter'), timing),
  );

  run.onclick = () => onRun();
  text.onkeydown = (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!run.disabled) onRun();
    }
  };

  return {
    value: () => ({ prompt: text.value, prependBos: bos.checked }),
    setPrompt(prompt) {
      text.value = prompt;
    },
    setEnabled(enabled) {
      run.disabled = !enabled;
    },
    setTiming(message) {
      timing.textContent = message;
    },
  };
}
