// The parts of d3 (https://d3js.org, ISC licence; Bostock, Ogievetsky & Heer 2011) the page's
// charts use: scales with nice ticks, axes, line and area paths, ColorBrewer ramps.
// scripts/bundle-js.sh bundles this list into one ES module, <site>/www/vendor/d3.js, at build
// time (a Trunk hook), from the versions pinned in tests/e2e/package-lock.json: the page never
// fetches a library at run time. Views import '../vendor/d3.js'; the type check reads d3.d.ts.
export { scaleLinear } from 'd3-scale';
export { axisBottom, axisLeft, axisRight } from 'd3-axis';
export { create } from 'd3-selection';
export { area, line } from 'd3-shape';
export { interpolateBlues, interpolateRdBu } from 'd3-scale-chromatic';
export { rgb } from 'd3-color';
