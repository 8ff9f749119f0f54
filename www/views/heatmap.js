// A labelled grid of coloured cells on one canvas, crisp at any devicePixelRatio, with a
// hover highlight and an optional click. The analysis views (logit lens, attribution,
// patching, head detectors) describe their grid to it; it knows nothing about models.
// Labels are drawn on the canvas, so token text never becomes HTML.

import { el } from './format.js';
import { css, textOn, themeColour } from './colours.js';

const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const MARKED_FONT = `bold ${FONT}`;
const MAX_LABEL_PX = 120;
/** A cell with no value yet (a patching sweep fills its grid one layer at a time). */
const PENDING = themeColour('pending');
const MARK = themeColour('mark');
const LABEL = themeColour('ink');

/**
 * @param {{label: string, onHover?(cell: {row, col} | null): void, onClick?(cell: {row, col}): void}} data
 * @returns {{element: HTMLElement, draw(spec): {left, top, width, cellWidth, cellHeight}, clear(): void}}
 *
 * spec = {
 *   rows, cols: string[]            labels, one per row / column
 *   cellWidth, cellHeight: number   CSS pixels
 *   colour(row, col): number[] | null   [r, g, b]; null = no value yet (drawn grey)
 *   text?(row, col): string         drawn in the cell, cut to fit
 *   markRows?, markCols?: Set<number>   labels drawn bold in orange, with a bar by the grid
 *   rotateColumnLabels?: boolean    vertical column labels (for narrow columns)
 *   columnLabelWidth?: number       room for a horizontal column label (default the cell's;
 *                                   wider when only every few columns are labelled)
 *   gap?: number                    white space between cells (default 0)
 *   minLeft?: number                where the grid starts at the least (to line up with a chart)
 * }
 */
export function createHeatmap({ label, onHover, onClick }) {
  const canvas = el('canvas', { className: 'heatmap', role: 'img', 'aria-label': label });
  const highlight = el('div', { className: 'cell-highlight', hidden: true });
  const element = el('div', { className: 'heatmap-frame', hidden: true }, canvas, highlight);
  let geometry = null;

  canvas.onmousemove = (event) => {
    const cell = cellAt(event);
    if (!cell) {
      highlight.hidden = true;
      onHover?.(null);
      return;
    }
    const { left, top, cellWidth, cellHeight } = geometry;
    Object.assign(highlight.style, {
      left: `${left + cell.col * cellWidth - 1}px`,
      top: `${top + cell.row * cellHeight - 1}px`,
      width: `${cellWidth + 2}px`,
      height: `${cellHeight + 2}px`,
    });
    highlight.hidden = false;
    onHover?.(cell);
  };
  canvas.onmouseleave = () => {
    highlight.hidden = true;
    onHover?.(null);
  };
  if (onClick) {
    canvas.classList.add('clickable');
    canvas.onclick = (event) => {
      const cell = cellAt(event);
      if (cell) onClick(cell);
    };
  }

  return {
    element,
    draw(spec) {
      geometry = paint(canvas, spec);
      // Where the cells are (CSS px), for tests and tools that point at a cell.
      const { left, top, cellWidth, cellHeight, rows, cols } = geometry;
      Object.assign(canvas.dataset, { left, top, cellWidth, cellHeight, rows, cols });
      highlight.hidden = true;
      element.hidden = false;
      return geometry;
    },
    clear() {
      geometry = null;
      highlight.hidden = true;
      element.hidden = true;
    },
  };

  function cellAt(event) {
    if (!geometry) return null;
    const { left, top, cellWidth, cellHeight, rows, cols } = geometry;
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor((event.clientX - rect.left - left) / cellWidth);
    const row = Math.floor((event.clientY - rect.top - top) / cellHeight);
    return row >= 0 && col >= 0 && row < rows && col < cols ? { row, col } : null;
  }
}

/** Draws labels and cells; returns the grid's position in CSS pixels. */
function paint(canvas, spec) {
  const { rows, cols, cellWidth, cellHeight, colour, text, rotateColumnLabels = false, gap = 0 } = spec;
  const markRows = spec.markRows ?? new Set();
  const markCols = spec.markCols ?? new Set();
  const ctx = canvas.getContext('2d');
  ctx.font = MARKED_FONT; // the wider of the two: marked labels must fit too
  const rowLabels = rows.map((l) => fit(ctx, l, MAX_LABEL_PX));
  const colLabels = cols.map((l) => fit(ctx, l, rotateColumnLabels ? MAX_LABEL_PX : (spec.columnLabelWidth ?? cellWidth) - 2));
  const widest = (labels) => Math.max(0, ...labels.map((l) => ctx.measureText(l).width));
  const left = Math.max(spec.minLeft ?? 0, Math.ceil(widest(rowLabels)) + 10);
  const top = rotateColumnLabels ? Math.ceil(widest(colLabels)) + 10 : 20;
  const width = left + cols.length * cellWidth + 4;
  const height = top + rows.length * cellHeight + 4;

  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < cols.length; c++) {
      const rgb = colour(r, c);
      const x = left + c * cellWidth;
      const y = top + r * cellHeight;
      ctx.fillStyle = rgb ? css(rgb) : PENDING;
      ctx.fillRect(x, y, cellWidth - gap, cellHeight - gap);
      const label = rgb && text ? text(r, c) : '';
      if (label) {
        ctx.font = FONT;
        ctx.fillStyle = textOn(rgb);
        ctx.fillText(fit(ctx, label, cellWidth - gap - 4), x + (cellWidth - gap) / 2, y + (cellHeight - gap) / 2 + 0.5);
      }
    }
  }

  // Row labels, right-aligned left of the grid; a marked row gets a bar beside it.
  ctx.textAlign = 'right';
  for (let r = 0; r < rows.length; r++) {
    const marked = markRows.has(r);
    ctx.font = marked ? MARKED_FONT : FONT;
    ctx.fillStyle = marked ? MARK : LABEL;
    ctx.fillText(rowLabels[r], left - 6, top + r * cellHeight + cellHeight / 2);
    if (marked) ctx.fillRect(left - 4, top + r * cellHeight, 2, cellHeight - gap);
  }
  // Column labels above the grid (rotated when columns are narrow, thinned so they never
  // overlap); a marked column gets a bar under its label.
  const every = rotateColumnLabels ? Math.max(1, Math.ceil(12 / cellWidth)) : 1;
  for (let c = 0; c < cols.length; c++) {
    const marked = markCols.has(c);
    if (marked) {
      ctx.fillStyle = MARK;
      ctx.fillRect(left + c * cellWidth, top - 4, cellWidth - gap, 2);
    }
    if (c % every !== 0 && !marked) continue;
    ctx.font = marked ? MARKED_FONT : FONT;
    ctx.fillStyle = marked ? MARK : LABEL;
    const x = left + c * cellWidth + (cellWidth - gap) / 2;
    if (rotateColumnLabels) {
      ctx.save();
      ctx.translate(x, top - 7);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(colLabels[c], 0, 0);
      ctx.restore();
    } else {
      ctx.textAlign = 'center';
      ctx.fillText(colLabels[c], x, top - 11);
    }
  }
  return { left, top, width, cellWidth, cellHeight, rows: rows.length, cols: cols.length };
}

/** `text`, cut with an ellipsis to fit `maxWidth` in the context's current font. */
function fit(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(`${s}…`).width > maxWidth) s = s.slice(0, -1);
  return `${s}…`;
}
