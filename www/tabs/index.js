// The analysis tabs, in the order of the tab strip. Each reads the page prompt, so one prompt
// can be seen through all of them; a tab is added by writing its module (./tab.js says what
// it exports) and listing it here.

import lens from './lens.js';
import dla from './dla.js';
import attribution from './attribution.js';
import patching from './patching.js';
import heads from './heads.js';
import ablation from './ablation.js';
import pair from './pair.js';
import neuron from './neuron.js';
import steering from './steering.js';
import features from './features.js';
import probes from './probes.js';

/** @type {import('./tab.js').Tab[]} */
export const TABS = [lens, dla, attribution, patching, heads, ablation, pair, neuron, steering, features, probes];
