// Stacked line plots over α ∈ [0, 1] sharing one x axis, as SVG: Integrated Gradients'
// target f(α) along the path and its integrand, each evaluated α marked with a point whose
// tooltip gives the exact numbers. Text is set with textContent only.

import { themeColour } from './colours.js';

const NS = 'http://www.w3.org/2000/svg';
const PANEL_HEIGHT = 96;
const TITLE = 18; // room for a panel's title above it
const AXIS = 22; // room for the α axis under the last panel
const LEFT = 64;
const RIGHT = 14;
const GAP = 12;

/**
 * One panel: zero draws and includes y = 0; the points' x is in [0, 1], drawn in x order.
 * @typedef {{title: string, colour: string, zero?: boolean,
 *            points: {x, y, tip: string, hollow?: boolean}[]}} Panel
 */

/**
 * @param {{label: string, width: number, panels: Panel[]}} spec
 * @returns {SVGSVGElement}
 */
export function pathPlot({ label, width, panels }) {
  const height = panels.length * (TITLE + PANEL_HEIGHT + GAP) - GAP + AXIS;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'path-plot' });
  const x = (a) => LEFT + a * (width - LEFT - RIGHT);
  panels.forEach((panel, i) => {
    const top = i * (TITLE + PANEL_HEIGHT + GAP) + TITLE;
    const ys = panel.points.map((p) => p.y).filter(Number.isFinite);
    let lo = Math.min(...ys, ...(panel.zero ? [0] : []));
    let hi = Math.max(...ys, ...(panel.zero ? [0] : []));
    if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
    const y = (v) => top + ((hi - v) / (hi - lo)) * PANEL_HEIGHT;

    root.append(text(panel.title, { x: LEFT, y: top - 6, class: 'plot-title' }));
    root.append(svg('rect', { x: LEFT, y: top, width: width - LEFT - RIGHT, height: PANEL_HEIGHT, class: 'plot-frame' }));
    if (panel.zero) root.append(svg('line', { x1: LEFT, x2: width - RIGHT, y1: y(0), y2: y(0), class: 'plot-zero' }));
    // The extremes and 0, each labelled unless it would overlap a label already drawn.
    const labelled = [];
    for (const v of panel.zero ? [0, hi, lo] : [hi, lo]) {
      if (labelled.some((u) => Math.abs(y(u) - y(v)) < 12)) continue;
      labelled.push(v);
      root.append(text(axisLabel(v), { x: LEFT - 6, y: y(v) + 4, class: 'plot-tick', 'text-anchor': 'end' }));
    }
    const sorted = panel.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (panel.zero && sorted.length > 1) {
      // The area to the zero line: for the integrand, that area is the integral.
      const area = [`M ${x(sorted[0].x)} ${y(0)}`, ...sorted.map((p) => `L ${x(p.x)} ${y(p.y)}`), `L ${x(sorted.at(-1).x)} ${y(0)} Z`];
      root.append(svg('path', { d: area.join(' '), fill: panel.colour, 'fill-opacity': 0.12, stroke: 'none' }));
    }
    root.append(svg('polyline', {
      points: sorted.map((p) => `${x(p.x)},${y(p.y)}`).join(' '),
      fill: 'none',
      stroke: panel.colour,
      'stroke-width': 1.5,
    }));
    for (const p of sorted) {
      const dot = svg('circle', {
        cx: x(p.x),
        cy: y(p.y),
        r: 3.5,
        fill: p.hollow ? themeColour('panel') : panel.colour,
        stroke: panel.colour,
        'stroke-width': 1.5,
        class: 'plot-point',
      });
      dot.append(text(p.tip, {}, 'title'));
      root.append(dot);
    }
  });
  // The shared α axis under the last panel.
  const bottom = height - AXIS;
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg('line', { x1: x(a), x2: x(a), y1: bottom, y2: bottom + 4, class: 'plot-tick-mark' }));
    root.append(text(String(a), { x: x(a), y: bottom + 15, class: 'plot-tick', 'text-anchor': 'middle' }));
  }
  root.append(text('α', { x: LEFT - 16, y: bottom + 15, class: 'plot-tick', 'text-anchor': 'end' }));
  return root;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function text(content, attrs, tag = 'text') {
  const node = svg(tag, attrs);
  node.textContent = content;
  return node;
}

function axisLabel(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const s = a >= 100 ? a.toFixed(0) : a >= 10 ? a.toFixed(1) : a.toFixed(2);
  return v < 0 ? `−${s}` : s;
}
