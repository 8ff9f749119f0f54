// Top-k view: the most likely next tokens at the last position, with probability bars.

import { el, visible, formatPercent } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{token: string, id: number, prob: number}[]} top
 */
export function renderTopK(container, top) {
  const rows = top.map(({ token, id, prob }, rank) =>
    el(
      'tr',
      {},
      el('td', { className: 'rank' }, String(rank + 1)),
      el('td', {}, el('span', { className: 'chip', textContent: visible(token), title: `id ${id}` })),
      el('td', { className: 'bar-cell' }, el('div', { className: 'bar', style: `width: ${(prob * 100).toFixed(2)}%` })),
      el('td', { className: 'pct' }, formatPercent(prob)),
    ),
  );
  const table = el(
    'table',
    { className: 'topk' },
    el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'next token'), el('th', {}, 'probability'), el('th', {}, ''))),
    el('tbody', {}, ...rows),
  );
  container.replaceChildren(table);
}
