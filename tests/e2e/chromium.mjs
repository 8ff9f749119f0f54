// How the tests and the benchmark start headless Chromium: Debian's /usr/bin/chromium (or
// $CHROMIUM), never a downloaded browser, with nothing running in the background that could
// reach the network or take CPU from the measurements.
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
