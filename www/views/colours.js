// Colour scales shared by the analysis heatmaps, and the legends that explain them.
// ColorBrewer's ramps as d3-scale-chromatic interpolates them: "Blues" for values in [0, 1]
// (as in the attention view), and "RdBu" turned round for signed values (blue negative, white
// 0, red positive).

import { interpolateBlues, interpolateRdBu, rgb } from '../vendor/d3.js';
import { el } from './format.js';

// The ramps sampled once at 256 levels (below what a screen's 8-bit channels show): heatmaps
// colour up to hundreds of thousands of cells per draw.
const LEVELS = 255;
const BLUES = table(interpolateBlues);
const RED_BLUE = table((t) => interpolateRdBu(1 - t));

/** A named colour of the page's theme (style.css's `--name` custom properties, the one place
 *  colours are defined), as canvas and SVG need it: resolved, e.g. 'rgb(…)' or '#…'.
 *  @param {'series-1' | 'series-2' | 'series-3' | 'series-4' | 'series-muted' | 'up' | 'down' | 'mark' | 'ink' | 'axis' | 'axis-label' | 'grid' | 'pending' | 'panel'} name */
export function themeColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
}

/** [r, g, b] for v in [0, 1] (clamped; NaN counts as 0). */
export function sequential(v) {
  return BLUES[Math.round(clamp(v, 0, 1) * LEVELS)];
}

/** [r, g, b] for v in [−1, 1] (clamped): blue below 0, white at 0, red above. */
export function diverging(v) {
  return RED_BLUE[Math.round(((clamp(v, -1, 1) + 1) / 2) * LEVELS)];
}

/** @param {number[]} rgb  [r, g, b] */
export function css([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/** Dark text on light cells, white on dark ones (relative luminance, sRGB approximated).
 *  @param {number[]} rgb  [r, g, b] */
export function textOn([r, g, b]) {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? '#1d232b' : '#ffffff';
}

/**
 * A colour bar between its two end values.
 * @param {{colour(x: number): number[], low: string, high: string, title: string}} data
 *   colour maps x in [0, 1] along the bar; title says what the colours mean (on hover).
 */
export function createLegend({ colour, low, high, title }) {
  const width = 120;
  const bar = el('canvas', { className: 'legend-bar', width, height: 10 });
  const ctx = bar.getContext('2d');
  for (let x = 0; x < width; x++) {
    ctx.fillStyle = css(colour(x / (width - 1)));
    ctx.fillRect(x, 0, 1, 10);
  }
  return el('div', { className: 'legend', title }, el('span', {}, low), bar, el('span', {}, high));
}

/** [r, g, b] of ramp(t) at LEVELS + 1 evenly spaced t in [0, 1]. */
function table(ramp) {
  return Array.from({ length: LEVELS + 1 }, (_, k) => {
    const { r, g, b } = rgb(ramp(k / LEVELS));
    return [Math.round(r), Math.round(g), Math.round(b)];
  });
}

function clamp(v, lo, hi) {
  const x = Number(v);
  return Math.min(hi, Math.max(lo, Number.isNaN(x) ? 0 : x));
}
