// A per-layer line plot of shares in [0, 1] (probe accuracies) as SVG: one column per layer,
// a dashed chance line, a highlighted selected layer, and hover / click by column. Text is
// set with textContent only.

import { themeColour } from './colours.js';

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 160;
const TOP = 10;
const AXIS = 34; // room for the layer numbers and the axis title under the plot
const LEFT = 46;
const RIGHT = 10;
const COLUMN = 22;

/**
 * @param {{label: string, layers: number, series: {name, colour, values: number[], hollow?: boolean}[],
 *          chance?: number, selected?: number | null,
 *          onHover?(layer: number | null): void, onClick?(layer: number): void}} spec
 * @returns {SVGSVGElement}
 */
export function layerPlot({ label, layers, series, chance, selected = null, onHover, onClick }) {
  const width = LEFT + layers * COLUMN + RIGHT;
  const height = TOP + HEIGHT + AXIS;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'layer-plot' });
  const x = (l) => LEFT + (l + 0.5) * COLUMN;
  const y = (v) => TOP + (1 - v) * HEIGHT;

  if (selected !== null) {
    root.append(svg('rect', { x: LEFT + selected * COLUMN, y: TOP, width: COLUMN, height: HEIGHT, class: 'plot-selected' }));
  }
  root.append(svg('rect', { x: LEFT, y: TOP, width: layers * COLUMN, height: HEIGHT, class: 'plot-frame' }));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg('line', { x1: LEFT, x2: LEFT + layers * COLUMN, y1: y(v), y2: y(v), class: 'plot-grid' }));
    root.append(text(`${Math.round(v * 100)}%`, { x: LEFT - 6, y: y(v) + 4, class: 'plot-tick', 'text-anchor': 'end' }));
  }
  if (chance !== undefined) {
    root.append(svg('line', { x1: LEFT, x2: LEFT + layers * COLUMN, y1: y(chance), y2: y(chance), class: 'plot-chance' }));
  }
  for (let l = 0; l < layers; l++) {
    if (l % 5 === 0 || l === layers - 1 || l === selected) {
      root.append(text(String(l), { x: x(l), y: TOP + HEIGHT + 14, class: l === selected ? 'plot-tick plot-tick-selected' : 'plot-tick', 'text-anchor': 'middle' }));
    }
  }
  root.append(text('layer', { x: LEFT + (layers * COLUMN) / 2, y: TOP + HEIGHT + 29, class: 'plot-tick', 'text-anchor': 'middle' }));

  for (const s of series) {
    const points = s.values.map((v, l) => [l, v]).filter(([, v]) => Number.isFinite(v));
    root.append(svg('polyline', {
      points: points.map(([l, v]) => `${x(l)},${y(v)}`).join(' '),
      fill: 'none',
      stroke: s.colour,
      'stroke-width': 1.5,
      'stroke-opacity': 0.8,
    }));
    for (const [l, v] of points) {
      root.append(svg('circle', {
        cx: x(l),
        cy: y(v),
        r: s.hollow ? 4.5 : 3,
        fill: s.hollow ? themeColour('panel') : s.colour,
        stroke: s.colour,
        'stroke-width': 1.5,
        class: 'plot-point',
        'data-series': s.name,
        'data-layer': l,
        'data-value': v,
      }));
    }
  }
  // One transparent column per layer on top, for hover and click.
  for (let l = 0; l < layers; l++) {
    const hit = svg('rect', { x: LEFT + l * COLUMN, y: TOP, width: COLUMN, height: HEIGHT + 20, class: onClick ? 'plot-hit clickable' : 'plot-hit', 'data-layer': l });
    hit.addEventListener('mouseenter', () => onHover?.(l));
    hit.addEventListener('mouseleave', () => onHover?.(null));
    if (onClick) hit.addEventListener('click', () => onClick(l));
    root.append(hit);
  }
  return root;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function text(content, attrs) {
  const node = svg('text', attrs);
  node.textContent = content;
  return node;
}
