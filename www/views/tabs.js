// Tabs: one panel on show at a time (the WAI-ARIA tabs pattern: tablist, tab, tabpanel;
// the arrow keys move between tabs).

import { el } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{tabs: {id: string, title: string}[], aside?: HTMLElement, onSelect?(id: string): void}} data
 *   aside: controls shown at the end of the tab strip; onSelect: a tab was chosen (by the
 *   reader or by select), e.g. to load what it needs on first use
 * @returns {{panels: {[id: string]: HTMLElement}, select(id: string): void}}
 */
export function createTabs(container, { tabs, aside, onSelect }) {
  const buttons = tabs.map(({ id, title }) =>
    el('button', { type: 'button', role: 'tab', id: `tab-${id}`, className: 'tab', 'aria-controls': id }, title),
  );
  const panels = Object.fromEntries(
    tabs.map(({ id }) => [id, el('div', { role: 'tabpanel', id, className: 'tab-panel', 'aria-labelledby': `tab-${id}` })]),
  );
  container.replaceChildren(
    el('div', { className: 'tab-strip' }, el('div', { role: 'tablist', className: 'tabs' }, ...buttons), aside),
    ...Object.values(panels),
  );
  buttons.forEach((button, i) => {
    button.onclick = () => choose(tabs[i].id);
    button.onkeydown = (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = buttons[(i + step + buttons.length) % buttons.length];
      next.focus();
      next.click();
    };
  });
  select(tabs[0].id);
  return { panels, select: choose };

  function choose(id) {
    select(id);
    onSelect?.(id);
  }

  function select(id) {
    tabs.forEach((tab, i) => {
      const on = tab.id === id;
      buttons[i].setAttribute('aria-selected', String(on));
      buttons[i].tabIndex = on ? 0 : -1;
      panels[tab.id].hidden = !on;
    });
  }
}
