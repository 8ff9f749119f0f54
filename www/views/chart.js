// What the page's SVG charts share, on d3 (../vendor/d3.js): the root <svg>, axes from d3's
// scales (nice ticks, a real minus sign), and the plot frame. Each chart module keeps only what
// it draws. Text goes in through d3's .text(), i.e. textContent: never HTML.

import { area, axisBottom, axisLeft, axisRight, create, line } from '../vendor/d3.js';

/** U+2212 for negative numbers, as the rest of the page writes them. */
export const minus = (/** @type {string} */ s) => s.replace(/^-/, '−');

/**
 * The root of a chart: an <svg> of the given size with an accessible label.
 * @param {{width: number, height: number, label: string, className: string}} spec
 */
export function chartRoot({ width, height, label, className }) {
  return create('svg')
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('role', 'img')
    .attr('aria-label', label)
    .attr('class', className);
}

/**
 * An axis of `scale` on one side of the plot area, styled by the theme (.plot-axis).
 * @param {import('d3-selection').Selection<SVGSVGElement, undefined, null, undefined>} root
 * @param {'left' | 'right' | 'bottom'} side
 * @param {import('d3-scale').ScaleLinear<number, number>} scale
 * @param {{at: number, ticks?: number, values?: number[], format?: (v: number) => string,
 *          title?: string, colour?: string}} options
 *   at: the x (left, right) or y (bottom) the axis line sits on; ticks: about how many;
 *   values: exactly these ticks; colour: the tick labels' colour, for a series' own axis.
 */
export function axis(root, side, scale, { at, ticks = 5, values, format, title, colour }) {
  const make = side === 'left' ? axisLeft : side === 'right' ? axisRight : axisBottom;
  const generator = make(scale)
    .ticks(ticks)
    .tickSizeOuter(0)
    .tickFormat(format ?? ((v) => minus(String(Number(Number(v).toPrecision(3))))));
  if (values) generator.tickValues(values);
  const g = root
    .append('g')
    .attr('class', `plot-axis plot-axis-${side}`)
    .attr('transform', side === 'bottom' ? `translate(0,${at})` : `translate(${at},0)`)
    .call(generator);
  if (colour) g.style('color', colour);
  if (title) {
    const [lo, hi] = scale.range();
    g.append('text')
      .attr('class', 'plot-axis-title')
      .attr('x', (lo + hi) / 2)
      .attr('y', 28)
      .attr('text-anchor', 'middle')
      .text(title);
  }
  return g;
}

/** Horizontal grid lines across the plot area at the given values of `y`. */
export function gridLines(root, y, values, { x0, x1, className = 'plot-grid' }) {
  root
    .append('g')
    .selectAll('line')
    .data(values)
    .join('line')
    .attr('class', (v) => (v === 0 ? 'plot-zero' : className))
    .attr('x1', x0)
    .attr('x2', x1)
    .attr('y1', (v) => y(v))
    .attr('y2', (v) => y(v));
}

/** The plot area's frame. */
export function frame(root, { x, y, width, height }) {
  root.append('rect').attr('class', 'plot-frame').attr('x', x).attr('y', y).attr('width', width).attr('height', height);
}

/**
 * The SVG path of a line through data, in order.
 * @template T
 * @param {T[]} data @param {(d: T) => number} fx @param {(d: T) => number} fy
 */
export function linePath(data, fx, fy) {
  return line(fx, fy)(data) ?? '';
}

/**
 * The SVG path of the area between fy0 and fy1 along data.
 * @template T
 * @param {T[]} data @param {(d: T) => number} fx @param {(d: T) => number} fy0 @param {(d: T) => number} fy1
 */
export function areaPath(data, fx, fy0, fy1) {
  return area(fx, fy0, fy1)(data) ?? '';
}
