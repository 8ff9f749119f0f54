// Form controls shared by the analysis views. A token is named by its exact text, leading
// space included (" Paris"), so each token input shows what it holds as a chip with the
// whitespace made visible.

import { el, visible } from './format.js';

/**
 * A token input whose value follows suggestions (e.g. the last run's top tokens) until the
 * reader types in it; clearing it lets suggestions in again.
 * @param {{id: string, label: string, title: string}} data
 */
export function createTokenInput({ id, label, title }) {
  const input = el('input', { type: 'text', id, name: id, spellcheck: false, autocomplete: 'off', className: 'token-input', title });
  const preview = el('span', { className: 'chip token-preview', hidden: true, title: 'the token text, whitespace made visible' });
  let typed = false;
  input.oninput = () => {
    typed = input.value !== '';
    show();
  };
  return {
    element: el('label', { className: 'field' }, el('span', {}, label), el('span', { className: 'token-field' }, input, preview)),
    input,
    /** The exact text (never trimmed: the leading space is part of the token). */
    value: () => input.value,
    suggest(text) {
      if (typed) return;
      input.value = text;
      show();
    },
    /** Sets the value as a suggestion would, even over what the reader typed. */
    set(text) {
      typed = false;
      input.value = text;
      show();
    },
  };

  function show() {
    preview.textContent = visible(input.value);
    preview.hidden = input.value === '';
  }
}

/** A <select> of [value, text] pairs. */
export function createSelect(id, options, selected) {
  const select = el('select', { id, name: id });
  for (const [value, text] of options) select.append(el('option', { value, selected: value === selected }, text));
  return select;
}

/** A whole-number <input> (a layer, a head, a neuron index). */
export function createNumberInput(id, value) {
  return el('input', { type: 'number', id, name: id, min: 0, step: 1, value: String(value), className: 'number-input' });
}

/** The value of a createNumberInput; throws, naming `what`, unless it is a whole number ≥ 0. */
export function integerOf(input, what) {
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isInteger(v) || v < 0) {
    throw new Error(`${what} must be a whole number ≥ 0, not ${JSON.stringify(input.value)}`);
  }
  return v;
}

/** A labelled control in the style of the generate panel's fields. */
export function field(text, control) {
  return el('label', { className: 'field' }, el('span', {}, text), control);
}
