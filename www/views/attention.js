// Attention view: one head's pattern as a heatmap, queries as rows and keys as columns.
//
// The pattern is TransformerLens's `blocks.{L}.attn.hook_pattern`,
// shape [batch, head_index, query_pos, key_pos]; each row is a softmax and sums to 1, and
// the causal mask makes every cell right of the diagonal 0 (drawn grey, not white).

import { el, visible } from './format.js';
import { themeColour } from './colours.js';

// Sequential "Blues" colour ramp (ColorBrewer): 0 → near white, 1 → dark blue.
const RAMP = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];
const MASKED = themeColour('pending');
const LABEL_FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const MAX_LABEL_PX = 110;
const GRID_PX = 560;

/**
 * @param {HTMLElement} container
 * @param {{nLayers: number, nHeads: number}} data
 * @returns {{show({tokens, pattern}): Promise<void>, clear(): void, layer(): number,
 *            select(layer, head): Promise<void>}}
 *   `pattern(layer)` returns (a promise of) {shape: [1, nHeads, n, n], data: Float32Array}.
 */
export function createAttentionView(container, { nLayers, nHeads }) {
  const layerSelect = select('layer', nLayers);
  const headSelect = select('head', nHeads);
  const canvas = el('canvas', { className: 'heatmap', 'aria-label': 'attention pattern heatmap' });
  const highlight = el('div', { className: 'cell-highlight', hidden: true });
  const readout = el('div', { className: 'readout', 'aria-live': 'polite' });
  const legend = createLegend();
  const empty = el('p', { className: 'placeholder' }, 'Run a prompt to see its attention patterns.');
  const frame = el('div', { className: 'heatmap-frame', hidden: true }, canvas, highlight);
  container.replaceChildren(
    el('div', { className: 'controls' }, label('Layer', layerSelect), label('Head', headSelect), legend),
    empty,
    frame,
    readout,
  );

  let tokens = [];
  let loadPattern = null;
  let current = null; // {layer, shape, data}
  let inflight = null; // {layer, source, promise}: the pattern being fetched
  let geometry = null; // where the grid was drawn, in CSS pixels

  layerSelect.onchange = () => draw();
  headSelect.onchange = () => draw();
  canvas.onmousemove = (event) => hover(event);
  canvas.onmouseleave = () => {
    highlight.hidden = true;
    readout.textContent = current ? 'Hover a cell to see its value.' : '';
  };

  return {
    layer: () => Number(layerSelect.value),
    /** Shows layer `layer`, head `head` (e.g. a head picked in the head detectors). */
    select(layer, head) {
      layerSelect.value = String(layer);
      headSelect.value = String(head);
      return draw();
    },
    async show(data) {
      tokens = data.tokens;
      loadPattern = data.pattern;
      current = null;
      inflight = null;
      await draw();
    },
    clear() {
      tokens = [];
      loadPattern = null;
      current = null;
      frame.hidden = true;
      empty.hidden = false;
      readout.textContent = '';
    },
  };

  async function draw() {
    if (!loadPattern) return;
    const layer = Number(layerSelect.value);
    const head = Number(headSelect.value);
    if (current?.layer !== layer) {
      // One request per layer, however often the selects change while it runs.
      if (inflight?.layer !== layer) {
        inflight = { layer, source: loadPattern, promise: Promise.resolve().then(() => loadPattern(layer)) };
      }
      const request = inflight;
      container.dataset.state = 'loading';
      readout.textContent = `Computing layer ${layer}…`;
      try {
        const pattern = await request.promise;
        if (request.source === loadPattern) current = { layer, ...pattern };
      } catch (error) {
        container.dataset.state = 'error';
        readout.textContent = `Could not get the pattern of layer ${layer}: ${error.message}`;
        return;
      } finally {
        if (inflight === request) inflight = null;
      }
      // The selection (or the prompt) may have changed while we waited; the latest wins.
      if (Number(layerSelect.value) !== layer || current?.layer !== layer) return draw();
    }
    const [, heads, n, n2] = current.shape;
    if (n !== tokens.length || n2 !== n || head >= heads) {
      readout.textContent = `Unexpected pattern shape [${current.shape}] for ${tokens.length} tokens.`;
      container.dataset.state = 'error';
      return;
    }
    geometry = paint(canvas, tokens, current.data, head, n);
    // Where the cells are (CSS px), for tests and tools that point at a cell.
    Object.assign(canvas.dataset, { left: geometry.left, top: geometry.top, cell: geometry.cell, n });
    empty.hidden = true;
    frame.hidden = false;
    highlight.hidden = true;
    readout.textContent = 'Hover a cell to see its value.';
    container.dataset.state = 'ready';
  }

  function hover(event) {
    if (!geometry || !current) return;
    const { left, top, cell, n } = geometry;
    const rect = canvas.getBoundingClientRect();
    const k = Math.floor((event.clientX - rect.left - left) / cell);
    const q = Math.floor((event.clientY - rect.top - top) / cell);
    if (q < 0 || k < 0 || q >= n || k >= n) {
      highlight.hidden = true;
      return;
    }
    const head = Number(headSelect.value);
    const value = current.data[(head * n + q) * n + k];
    readout.textContent = `query '${visible(tokens[q].text)}' → key '${visible(tokens[k].text)}': ${value.toFixed(3)}`;
    Object.assign(highlight.style, {
      left: `${left + k * cell - 1}px`,
      top: `${top + q * cell - 1}px`,
      width: `${cell + 2}px`,
      height: `${cell + 2}px`,
    });
    highlight.hidden = false;
  }
}

/** Draws labels and cells; returns the grid's position in CSS pixels. */
function paint(canvas, tokens, data, head, n) {
  const cell = Math.max(2, Math.min(40, Math.floor(GRID_PX / n)));
  const withLabels = cell >= 6; // below that, labels would overlap: hover tells the tokens
  const labelEvery = Math.ceil(12 / cell); // keep labels at least 12 px apart
  const ctx = canvas.getContext('2d');
  ctx.font = LABEL_FONT;
  const labels = tokens.map((t, i) => fit(ctx, `${visible(t.text)} ${i}`, MAX_LABEL_PX));
  const labelWidth = withLabels ? Math.min(MAX_LABEL_PX, Math.max(...labels.map((l) => ctx.measureText(l).width))) + 8 : 4;
  const left = labelWidth;
  const top = labelWidth;
  const width = left + n * cell + 4;
  const height = top + n * cell + 4;

  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const base = head * n * n;
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      ctx.fillStyle = k > q ? MASKED : colour(data[base + q * n + k]);
      ctx.fillRect(left + k * cell, top + q * cell, cell, cell);
    }
  }

  ctx.font = LABEL_FONT;
  ctx.fillStyle = themeColour('ink');
  ctx.textBaseline = 'middle';
  if (withLabels) {
    for (let i = 0; i < n; i += labelEvery) {
      // Query labels, right-aligned to the left of each row.
      ctx.textAlign = 'right';
      ctx.fillText(labels[i], left - 4, top + i * cell + cell / 2);
      // Key labels, rotated, above each column.
      ctx.save();
      ctx.translate(left + i * cell + cell / 2, top - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(labels[i], 0, 0);
      ctx.restore();
    }
  }
  return { left, top, cell, n };
}

function colour(v) {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [r, g, b] = RAMP[i].map((c, j) => Math.round(c + (RAMP[i + 1][j] - c) * f));
  return `rgb(${r}, ${g}, ${b})`;
}

function fit(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(`${s}…`).width > maxWidth) s = s.slice(0, -1);
  return `${s}…`;
}

function createLegend() {
  const bar = el('canvas', { className: 'legend-bar', width: 120, height: 10 });
  const ctx = bar.getContext('2d');
  for (let x = 0; x < 120; x++) {
    ctx.fillStyle = colour(x / 119);
    ctx.fillRect(x, 0, 1, 10);
  }
  return el(
    'div',
    { className: 'legend', title: 'attention weight; grey cells are masked (a query cannot see later keys)' },
    el('span', {}, '0'),
    bar,
    el('span', {}, '1'),
    el('span', { className: 'masked-swatch' }),
    el('span', {}, 'masked'),
  );
}

function select(name, count) {
  const s = el('select', { name, id: `attention-${name}` });
  for (let i = 0; i < count; i++) s.append(el('option', { value: String(i) }, String(i)));
  return s;
}

function label(text, control) {
  return el('label', {}, `${text} `, control);
}
