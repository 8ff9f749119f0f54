// Types of the bundle scripts/bundle-js.sh builds from d3.entry.js (the @types/d3-* packages).
export * from './d3.entry.js';
