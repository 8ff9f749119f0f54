// Token lists with one signed value each (a probability change, a logit effect): a chip per
// token, its value, and a bar scaled to the list's largest magnitude.

import { el, visible } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{token: string, id: number, prob: number}[]} items  `prob` holds the value shown
 * @param {{heading: string, format(v: number): string, colour: string}} data
 */
export function renderTokenValues(container, items, { heading, format, colour }) {
  const scale = Math.max(1e-12, ...items.map((t) => Math.abs(t.prob)));
  const rows = items.map(({ token, id, prob }) =>
    el(
      'tr',
      {},
      el('td', {}, el('span', { className: 'chip', textContent: visible(token), title: `id ${id}` })),
      el(
        'td',
        { className: 'bar-cell' },
        el('div', { className: 'bar', style: `width: ${((100 * Math.abs(prob)) / scale).toFixed(2)}%; background: ${colour}` }),
      ),
      el('td', { className: 'pct' }, format(prob)),
    ),
  );
  container.replaceChildren(
    el(
      'table',
      { className: 'topk token-values' },
      el('thead', {}, el('tr', {}, el('th', { colSpan: 3 }, heading))),
      el('tbody', {}, ...rows),
    ),
  );
}

/** A signed number with a real minus sign. */
export function signed(v, digits = 3) {
  return v >= 0 ? `+${v.toFixed(digits)}` : `−${(-v).toFixed(digits)}`;
}
