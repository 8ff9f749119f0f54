// Small text helpers shared by the views. Token text is untrusted: views put it in the page
// with textContent only, never as HTML.

/** Token text with its whitespace made visible, so token boundaries can be seen exactly. */
export function visible(text) {
  if (text === '') return '∅';
  return text.replaceAll(' ', '·').replaceAll('\n', '↵').replaceAll('\t', '→').replaceAll('\r', '␍');
}

/** True when a token's text holds escaped partial UTF-8 bytes ("\xE2"). */
export function hasPartialBytes(text) {
  return /\\x[0-9A-Fa-f]{2}/.test(text);
}

export function formatMB(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function formatPercent(p) {
  const pct = p * 100;
  return `${pct >= 0.1 || pct === 0 ? pct.toFixed(1) : pct.toPrecision(2)}%`;
}

/** document.createElement with properties and children (strings become text nodes). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('aria-') || key === 'role' || key === 'for') node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
