// Tokens view: one chip per token, with exact boundaries and visible whitespace.

import { el, visible, hasPartialBytes } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{id: number, text: string}[]} tokens
 */
export function renderTokens(container, tokens) {
  const chips = tokens.map(({ id, text }, position) =>
    el('span', {
      className: hasPartialBytes(text) ? 'chip partial' : 'chip',
      textContent: visible(text),
      title: `position ${position} · id ${id}${hasPartialBytes(text) ? ' · partial UTF-8 bytes' : ''}`,
      dataset: { id: String(id), position: String(position) },
    }),
  );
  container.replaceChildren(...chips);
  container.dataset.count = String(tokens.length);
}
