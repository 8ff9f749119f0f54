// A grouped bar chart on one canvas: per category, one bar per series that has a value
// there, around a zero line. Its columns can be lined up with a heatmap drawn below it
// (same left edge, same column width), so a layer's bars sit above the layer's column.

import { el } from './format.js';
import { themeColour } from './colours.js';

const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const PLOT_HEIGHT = 150;
const PAD = 8;

/**
 * @param {{label: string, onHover?(index: number | null): void}} data
 * @returns {{element: HTMLElement, draw(spec): void}}
 *
 * spec = {
 *   categories: string[]       labels under the axis ('' for none)
 *   series: [{name, colour, values: (number | null)[]}]   one value per category
 *   x0: number                 x (CSS px) where category 0's column starts
 *   columnWidth: number
 *   width: number              canvas width (CSS px), e.g. the heatmap's below
 * }
 */
export function createBarChart({ label, onHover }) {
  const canvas = el('canvas', { className: 'bars', role: 'img', 'aria-label': label });
  const element = el('div', { className: 'bars-frame', hidden: true }, canvas);
  let geometry = null;
  canvas.onmousemove = (event) => {
    if (!geometry) return;
    const x = event.clientX - canvas.getBoundingClientRect().left;
    const i = Math.floor((x - geometry.x0) / geometry.columnWidth);
    onHover?.(i >= 0 && i < geometry.count ? i : null);
  };
  canvas.onmouseleave = () => onHover?.(null);
  return {
    element,
    draw(spec) {
      geometry = paint(canvas, spec);
      element.hidden = false;
    },
  };
}

function paint(canvas, { categories, series, x0, columnWidth, width }) {
  const values = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const hi = Math.max(0, ...values);
  const lo = Math.min(0, ...values);
  const span = hi - lo || 1;
  const top = PAD;
  const height = top + PLOT_HEIGHT + 18;
  const y = (v) => top + ((hi - v) / span) * PLOT_HEIGHT;

  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  // Axis: the extremes and 0, with light guide lines.
  ctx.font = FONT;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const right = x0 + categories.length * columnWidth;
  for (const v of new Set([hi, 0, lo])) {
    ctx.fillStyle = v === 0 ? themeColour('axis') : themeColour('grid');
    ctx.fillRect(x0, Math.round(y(v)), right - x0, 1);
    ctx.fillStyle = themeColour('axis-label');
    ctx.fillText(axisLabel(v), x0 - 6, y(v));
  }

  ctx.textAlign = 'center';
  for (let i = 0; i < categories.length; i++) {
    const bars = series.filter((s) => Number.isFinite(s.values[i]));
    const inner = columnWidth - 4;
    const w = inner / Math.max(1, bars.length);
    bars.forEach((s, j) => {
      const v = s.values[i];
      ctx.fillStyle = s.colour;
      const x = x0 + i * columnWidth + 2 + j * w;
      ctx.fillRect(x, Math.min(y(v), y(0)), Math.max(1, w - 1), Math.max(1, Math.abs(y(v) - y(0))));
    });
    if (categories[i]) {
      ctx.fillStyle = themeColour('ink');
      ctx.fillText(categories[i], x0 + (i + 0.5) * columnWidth, top + PLOT_HEIGHT + 10);
    }
  }
  return { x0, columnWidth, count: categories.length };
}

function axisLabel(v) {
  if (v === 0) return '0';
  const text = Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
  return v > 0 ? `+${text}` : text.replace('-', '−');
}
