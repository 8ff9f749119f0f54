// The explorer: wires the page to window.loupe. It holds no model logic; every number it
// shows comes from a call of the public API, exactly as an embedding host would make it.
// It owns the page-level parts (the prompt, generation, tokens, top-k, attention, the IOI
// example, the model's comings and goings); each analysis tab is its own module (./tabs/),
// and every task runs through the one runner (./runner.js).

import { renderTokens } from './views/tokens.js';
import { renderTopK } from './views/topk.js';
import { createAttentionView } from './views/attention.js';
import { createPromptPanel } from './views/prompt.js';
import { createGeneratePanel } from './views/generate.js';
import { createTabs } from './views/tabs.js';
import { el } from './views/format.js';
import { createRunner } from './runner.js';
import { TABS } from './tabs/index.js';
import { DEFAULT_PROMPT, IOI_EXAMPLE } from './examples.js';

const TOP_K = 10;
const ALL_PATTERNS = 'blocks.*.attn.hook_pattern';
const patternName = (layer) => `blocks.${layer}.attn.hook_pattern`;
/** Up to this many tokens, one run captures every layer's pattern (30 × 9 × n² floats:
 *  ~70 MB at 256); longer prompts fetch one layer at a time, on demand. */
const CAPTURE_ALL_MAX_TOKENS = 256;

/**
 * @param {Document} doc
 * @param {{loupe: import('./api.js').Loupe, status: import('./runner.js').Status, saeUrl: string}} deps
 *   window.loupe, the header status view, and the folder of the SAE the Features tab loads on first use
 */
export function createExplorer(doc, { loupe, status, saeUrl }) {
  const root = doc.querySelector('main');
  const tokensView = doc.getElementById('tokens');
  const topkView = doc.getElementById('topk');
  const attentionContainer = doc.getElementById('attention');
  const promptPanel = createPromptPanel(doc.getElementById('prompt-panel'), {
    prompt: DEFAULT_PROMPT,
    // SmolLM2's tokenizer adds no BOS, and the reference numbers (" Paris", p ≈ 0.70) are
    // without one; TransformerLens's habit of prepending it is one click away.
    prependBos: false,
    onRun: run,
  });
  const generatePanel = createGeneratePanel(doc.getElementById('generate-panel'), {
    onGenerate: generate,
    onStop: () => generation.stop(),
  });
  const runner = createRunner({ status, prompt: () => promptPanel.value(), root });
  const generation = runner.job('Generation', (message) => generatePanel.fail(message));
  runner.add(promptPanel);
  runner.add(generatePanel);

  const ioiButton = el('button', { type: 'button', id: 'ioi-example', disabled: true, title: IOI_EXAMPLE.clean }, 'Try the IOI example');
  ioiButton.onclick = () => ioiExample();
  /** @type {{[id: string]: import('./tabs/tab.js').TabInstance}} */
  const tabs = {}; // each tab's instance, by id: filled in below, once the panels exist
  const tabStrip = createTabs(doc.getElementById('analyses'), {
    tabs: TABS.map(({ id, title }) => ({ id, title })),
    aside: ioiButton,
    onSelect: (id) => tabs[id].onShow?.(),
  });
  /** @type {import('./tabs/tab.js').TabContext} */
  const context = {
    loupe,
    status,
    runner,
    prompt: () => promptPanel.value(),
    usePrompt: async (prompt) => {
      promptPanel.setPrompt(prompt);
      await run();
    },
    tabs: {
      select: (id) => tabStrip.select(id),
      steering: () => /** @type {import('./tabs/tab.js').SteeringTab} */ (tabs.steering),
    },
    showHead: (layer, head) => {
      attentionContainer.scrollIntoView({ block: 'nearest' });
      attention?.select(layer, head);
    },
    saeUrl,
  };
  for (const tab of TABS) {
    tabs[tab.id] = tab.create(tabStrip.panels[tab.id], context);
    runner.add(tabs[tab.id]);
  }
  runner.add({
    setEnabled(enabled) {
      ioiButton.disabled = !enabled;
    },
  });

  let attention = null;
  let runCount = 0;

  async function run() {
    const { prompt, prependBos } = promptPanel.value();
    root.dataset.runState = 'running';
    promptPanel.setTiming('Running…');
    const started = performance.now();
    await runner.busy(async () => {
      try {
        const tokens = await loupe.tokenize({ prompt, prependBos });
        renderTokens(tokensView, tokens);
        // Long prompts capture only the layer on show; others are fetched when selected.
        const layer = attention?.layer() ?? 0;
        const capture = [tokens.length <= CAPTURE_ALL_MAX_TOKENS ? ALL_PATTERNS : patternName(layer)];
        const result = await loupe.run({ prompt, prependBos, topK: TOP_K, capture });
        const ms = performance.now() - started;
        renderTokens(tokensView, result.tokens);
        renderTopK(topkView, result.top);
        for (const tab of Object.values(tabs)) tab.onPrediction?.({ prompt, top: result.top });
        status.clear();
        promptPanel.setTiming(`${result.tokens.length} tokens · ${Math.round(ms)} ms`);
        root.dataset.runState = 'done';
        root.dataset.runCount = String(++runCount);
        const patterns = new Map();
        for (const [name, activation] of Object.entries(result.activations ?? {})) {
          const match = /^blocks\.(\d+)\.attn\.hook_pattern$/.exec(name);
          if (match) patterns.set(Number(match[1]), activation);
        }
        // status stays cleared here, not after: the attention view may fetch a layer.
        await attention?.show({
          tokens: result.tokens,
          pattern: async (l) => patterns.get(l) ?? (await runner.busy(() => patternOf(l, prompt, prependBos))),
        });
      } catch (error) {
        status.error(`Run failed: ${error.message}`);
        promptPanel.setTiming('');
        root.dataset.runState = 'error';
      }
    });
  }

  async function patternOf(layer, prompt, prependBos) {
    const result = await loupe.run({ prompt, prependBos, topK: 1, capture: [patternName(layer)] });
    return result.activations[patternName(layer)];
  }

  async function generate(settings) {
    const { prompt, prependBos } = promptPanel.value();
    generatePanel.start(prompt);
    let count = 0;
    let streamed = '';
    const started = performance.now();
    await generation.start(async (signal) => {
      const result = await loupe.generate({ prompt, prependBos, ...settings }, (token) => {
        count += 1;
        streamed += token.text;
        generatePanel.append(token);
        return signal.aborted ? false : undefined;
      });
      generatePanel.finish({
        text: generatedText(result, prompt, streamed),
        count,
        ms: performance.now() - started,
        stopped: Boolean(result.stopped),
        maxTokens: settings.maxTokens,
      });
    });
  }

  /** Puts the IOI prompt on the page, runs it, and sets every analysis up for it. */
  async function ioiExample() {
    await context.usePrompt(IOI_EXAMPLE.clean);
    for (const tab of Object.values(tabs)) tab.onIoiExample?.(IOI_EXAMPLE);
  }

  return {
    /** A model is loaded (first time, or again after a crash). */
    setModel(info) {
      const { n_layers: nLayers, n_heads: nHeads } = info.config;
      attention = createAttentionView(attentionContainer, { nLayers, nHeads });
      runner.setReady(true);
      for (const tab of Object.values(tabs)) tab.onModel?.(info);
    },
    /** The model is gone (crash, or a load failed): wait for the next setModel. */
    modelLost() {
      runner.setReady(false);
    },
    /** The restarted worker has no SAE: the one trained in the page died with the old one. */
    saeLost(message) {
      for (const tab of Object.values(tabs)) tab.onSaeLost?.(message);
    },
  };
}

/** The generated text without the prompt, decoded (partial UTF-8 bytes joined) when the
 *  result carries it; otherwise the streamed token texts. */
function generatedText(result, prompt, streamed) {
  const text = result?.text;
  if (typeof text !== 'string') return streamed;
  if (text !== streamed && prompt && text.startsWith(prompt)) return text.slice(prompt.length);
  return text;
}
