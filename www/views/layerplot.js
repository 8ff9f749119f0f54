// A per-layer line plot of shares in [0, 1] (probe accuracies) as SVG on d3's scales and
// axes: one column per layer, a dashed chance line, a highlighted selected layer, and hover /
// click by column.

import { scaleLinear } from '../vendor/d3.js';
import { axis, chartRoot, frame, gridLines, linePath } from './chart.js';
import { themeColour } from './colours.js';

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
  const root = chartRoot({ width, height: TOP + HEIGHT + AXIS, label, className: 'layer-plot' });
  // Layer l's column spans [l − ½, l + ½] on the x scale.
  const x = scaleLinear([-0.5, layers - 0.5], [LEFT, LEFT + layers * COLUMN]);
  const y = scaleLinear([0, 1], [TOP + HEIGHT, TOP]);

  if (selected !== null) {
    root
      .append('rect')
      .attr('class', 'plot-selected')
      .attr('x', x(selected - 0.5))
      .attr('y', TOP)
      .attr('width', COLUMN)
      .attr('height', HEIGHT);
  }
  frame(root, { x: LEFT, y: TOP, width: layers * COLUMN, height: HEIGHT });
  gridLines(root, y, [0.25, 0.5, 0.75], { x0: LEFT, x1: LEFT + layers * COLUMN });
  axis(root, 'left', y, { at: LEFT, values: [0, 0.25, 0.5, 0.75, 1], format: (v) => `${Math.round(v * 100)}%` });
  if (chance !== undefined) {
    root
      .append('line')
      .attr('class', 'plot-chance')
      .attr('x1', LEFT)
      .attr('x2', LEFT + layers * COLUMN)
      .attr('y1', y(chance))
      .attr('y2', y(chance));
  }
  const ticks = [...new Set([...Array.from({ length: layers }, (_, l) => l).filter((l) => l % 5 === 0), layers - 1])];
  if (selected !== null && !ticks.includes(selected)) ticks.push(selected);
  const layerAxis = axis(root, 'bottom', x, { at: TOP + HEIGHT, values: ticks, format: String, title: 'layer' });
  layerAxis.selectAll('.tick').classed('plot-tick-selected', (l) => l === selected);

  for (const s of series) {
    const points = s.values.map((v, l) => [l, v]).filter(([, v]) => Number.isFinite(v));
    root
      .append('path')
      .attr(
        'd',
        linePath(
          points,
          (p) => x(p[0]),
          (p) => y(p[1]),
        ),
      )
      .attr('fill', 'none')
      .attr('stroke', s.colour)
      .attr('stroke-width', 1.5)
      .attr('stroke-opacity', 0.8);
    root
      .append('g')
      .selectAll('circle')
      .data(points)
      .join('circle')
      .attr('cx', (p) => x(p[0]))
      .attr('cy', (p) => y(p[1]))
      .attr('r', s.hollow ? 4.5 : 3)
      .attr('fill', s.hollow ? themeColour('panel') : s.colour)
      .attr('stroke', s.colour)
      .attr('stroke-width', 1.5)
      .attr('class', 'plot-point')
      .attr('data-series', s.name)
      .attr('data-layer', (p) => p[0])
      .attr('data-value', (p) => p[1]);
  }
  // One transparent column per layer on top, for hover and click.
  root
    .append('g')
    .selectAll('rect')
    .data(Array.from({ length: layers }, (_, l) => l))
    .join('rect')
    .attr('class', onClick ? 'plot-hit clickable' : 'plot-hit')
    .attr('x', (l) => x(l - 0.5))
    .attr('y', TOP)
    .attr('width', COLUMN)
    .attr('height', HEIGHT + 20)
    .attr('data-layer', (l) => l)
    .on('mouseenter', (_, l) => onHover?.(l))
    .on('mouseleave', () => onHover?.(null))
    .on('click', (_, l) => onClick?.(l));
  return root.node();
}
