// The Head detectors tab: which heads attend to the previous token, the first token, … A
// head clicked in the table is shown in the page's attention view.

import { createHeadsView } from '../views/heads.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'heads',
  title: 'Head detectors',
  create(panel, { loupe, runner, showHead }) {
    const heads = createHeadsView(panel, {
      onRun: () => runner.run(heads, 'Head detection', (request) => loupe.detectHeads(request)),
      onSelect: showHead,
    });
    return { setEnabled: (enabled) => heads.setEnabled(enabled) };
  },
};
