/**
 * Loupe — page entry: starts the model worker, exposes `window.loupe` (documented in
 * ./api.js), starts the explorer.
 *
 * Page URL parameters: ?model=URL (http(s), or a path relative to the page),
 * ?weights=quantized|q8|f32, and ?sae=URL (the folder of the SAE the Features tab loads on
 * first use; default saes/smollm2-135m-instruct-l12-resid/). Invalid values are reported in
 * the banner and the defaults used.
 */

import { ModelClient } from './client.js';
import { createApi } from './api.js';
import { modelFromParams, modelName, saeFromParams } from './params.js';
import { createStatus } from './views/status.js';
import { createExplorer } from './explorer.js';

const { url, weights, warnings } = modelFromParams(location.search, document.baseURI);
const sae = saeFromParams(location.search, document.baseURI);
const status = createStatus(document.getElementById('status'), { modelName: modelName(url) });
let explorer = null;
let restarting = false;
/** The last load that failed: when another model then loads (the previous one, loaded
 *  again by the client), the page says so instead of clearing the error silently. */
let failedLoad = null;

const client = new ModelClient({
  onProgress: (p) => status.progress(p),
  onLoaded(loaded) {
    loupe.loadInfo = {
      phase: loaded.source,
      phases: loaded.phases,
      ms: loaded.ms,
      bytes: loaded.bytes,
      url: loaded.url,
      weights: loaded.weights,
    };
    status.loaded(loaded);
    if (restarting) status.notice('The model crashed and was reloaded; you can continue.');
    else if (failedLoad && failedLoad.url !== loaded.url) {
      status.notice(`${failedLoad.message.replace(/[^.!?]$/, '$&.')} The previous model (${modelName(loaded.url)}) is loaded again.`);
    }
    restarting = false;
    failedLoad = null;
    explorer?.setModel(loaded.info);
  },
  onLoadFailed(error, { url: failedUrl }) {
    failedLoad = { url: failedUrl, message: error.message };
    status.loadFailed();
    status.error(error.message);
    explorer?.modelLost();
  },
  onFatal(message, willRestart) {
    restarting = willRestart;
    status.error(willRestart ? `${message} — restarting the model…` : message);
    explorer?.modelLost();
  },
  onSaeLost: (message) => explorer?.saeLost(message),
});

const loupe = createApi(client);
loupe.ready = client.load({ url, weights }).then((loaded) => loaded.info);
/** @type {any} */ (window).loupe = loupe;

explorer = createExplorer(document, { loupe, status, saeUrl: sae.url });
loupe.ready.catch(() => {}); // shown by onLoadFailed; this only marks the rejection handled
if (warnings.length || sae.warnings.length) status.notice([...warnings, ...sae.warnings].join(' '));
