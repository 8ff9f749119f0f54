// Stacked line plots over α ∈ [0, 1] sharing one x axis, as SVG: Integrated Gradients'
// target f(α) along the path and its integrand, each evaluated α marked with a point whose
// tooltip gives the exact numbers. Text is set with textContent only.

import { scaleLinear } from '../vendor/d3.js';
import { areaPath, axis, chartRoot, frame, linePath } from './chart.js';
import { themeColour } from './colours.js';

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
  const root = chartRoot({ width, height, label, className: 'path-plot' });
  const x = scaleLinear([0, 1], [LEFT, width - RIGHT]);
  panels.forEach((panel, i) => {
    const top = i * (TITLE + PANEL_HEIGHT + GAP) + TITLE;
    const ys = panel.points.map((p) => p.y).filter(Number.isFinite);
    let lo = Math.min(...ys, ...(panel.zero ? [0] : []));
    let hi = Math.max(...ys, ...(panel.zero ? [0] : []));
    if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
    const y = scaleLinear([lo, hi], [top + PANEL_HEIGHT, top]);

    root
      .append('text')
      .attr('class', 'plot-title')
      .attr('x', LEFT)
      .attr('y', top - 6)
      .text(panel.title);
    frame(root, { x: LEFT, y: top, width: width - LEFT - RIGHT, height: PANEL_HEIGHT });
    if (panel.zero) {
      root
        .append('line')
        .attr('class', 'plot-zero')
        .attr('x1', LEFT)
        .attr('x2', width - RIGHT)
        .attr('y1', y(0))
        .attr('y2', y(0));
    }
    // The extremes and 0, each labelled unless it would overlap a label already drawn: the
    // exact ends of f(α) matter here (f(x′) and f(x)), not round numbers.
    const labelled = [];
    for (const v of panel.zero ? [0, hi, lo] : [hi, lo]) {
      if (!labelled.some((u) => Math.abs(y(u) - y(v)) < 12)) labelled.push(v);
    }
    axis(root, 'left', y, { at: LEFT, values: labelled, format: axisLabel });
    const sorted = panel.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (panel.zero && sorted.length > 1) {
      // The area to the zero line: for the integrand, that area is the integral.
      const shade = areaPath(
        sorted,
        (p) => x(p.x),
        () => y(0),
        (p) => y(p.y),
      );
      root.append('path').attr('d', shade).attr('fill', panel.colour).attr('fill-opacity', 0.12).attr('stroke', 'none');
    }
    root
      .append('path')
      .attr(
        'd',
        linePath(
          sorted,
          (p) => x(p.x),
          (p) => y(p.y),
        ),
      )
      .attr('fill', 'none')
      .attr('stroke', panel.colour)
      .attr('stroke-width', 1.5);
    root
      .append('g')
      .selectAll('circle')
      .data(sorted)
      .join('circle')
      .attr('cx', (p) => x(p.x))
      .attr('cy', (p) => y(p.y))
      .attr('r', 3.5)
      .attr('fill', (p) => (p.hollow ? themeColour('panel') : panel.colour))
      .attr('stroke', panel.colour)
      .attr('stroke-width', 1.5)
      .attr('class', 'plot-point')
      .append('title')
      .text((p) => p.tip);
  });
  // The shared α axis under the last panel.
  const bottom = height - AXIS;
  const alpha = axis(root, 'bottom', x, { at: bottom, values: [0, 0.25, 0.5, 0.75, 1], format: String });
  alpha
    .append('text')
    .attr('class', 'plot-axis-title')
    .attr('x', LEFT - 16)
    .attr('y', 15)
    .attr('text-anchor', 'end')
    .text('α');
  return root.node();
}

function axisLabel(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const s = a >= 100 ? a.toFixed(0) : a >= 10 ? a.toFixed(1) : a.toFixed(2);
  return v < 0 ? `−${s}` : s;
}
