// The dashboard's charts: inline SVG line charts with a linear, logarithmic or clipped
// value axis, and the formats of their axis labels. No library: a few dozen paths.

const kSvg = 'http://www.w3.org/2000/svg';
const kWidth = 600;
const kHeight = 200;
const kPad = { left: 52, right: 8, top: 16, bottom: 20 };
/** The clipped scale's top: this percentile of the values above zero, so one burst does not flatten the rest. */
const kClipPercentile = 90;

export function svg(tag, attributes) {
  const node = document.createElementNS(kSvg, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Up to three significant digits, no trailing zeros: 1, 2.5, 12.3, 250. */
function short(value) {
  return String(Number(value.toPrecision(3)));
}

/** A duration given in milliseconds, in the unit that reads best: 250 µs, 12 ms, 1.5 s, 2 min. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms === 0) return '0';
  if (ms < 1) return `${short(ms * 1000)} µs`;
  if (ms < 1000) return `${short(ms)} ms`;
  if (ms < 120_000) return `${short(ms / 1000)} s`;
  return `${short(ms / 60_000)} min`;
}

/** A count or a rate: 0.5, 12, 1.2k, 35k, 1.5M. */
export function formatCount(value) {
  if (value >= 1_000_000) return `${short(value / 1_000_000)}M`;
  if (value >= 1000) return `${short(value / 1000)}k`;
  return short(value);
}

/** The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value`. */
function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value * (1 - 1e-9)) return step * magnitude;
  return 10 * magnitude;
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The value axis for `scale`: where a value goes (0 at the bottom, 1 at the top), the
 * ticks to label, and, for a clipped scale that clipped something, where and the peak.
 */
function valueAxis(values, scale) {
  const max = Math.max(0, ...values);
  if (scale === 'log') {
    // log10(1 + v): zero stays representable and small rates keep their place.
    const top = 10 ** Math.max(1, Math.ceil(Math.log10(Math.max(max, 1))));
    const at = (v) => Math.log10(1 + Math.max(0, v)) / Math.log10(1 + top);
    const ticks = [0];
    for (let tick = 1; tick <= top; tick *= 10) ticks.push(tick);
    return {
      at,
      ticks: ticks.length > 5 ? ticks.filter((_, i) => i % 2 === 0 || i === ticks.length - 1) : ticks,
    };
  }
  let top = niceCeiling(max);
  let clip = null;
  if (scale === 'clip') {
    const cut = niceCeiling(
      percentile(
        values.filter((v) => v > 0),
        kClipPercentile,
      ),
    );
    if (cut < max) {
      top = cut;
      clip = { at: top, peak: max };
    }
  }
  return { at: (v) => Math.min(v, top) / top, ticks: [0, top / 2, top], clip };
}

/**
 * Draws one line per series; points are [t, value|null], a null leaves a gap and a point
 * with no neighbour is drawn as a dot. `format` labels the value axis; `scale` is
 * 'linear', 'log' or 'clip'. Returns what the clip cut off, or null.
 */
export function drawChart(chart, series, { format, scale = 'linear' }) {
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v !== null);
  const times = series.flatMap((s) => s.points.map(([t]) => t));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const axis = valueAxis(values, scale);
  const x = (t) => kPad.left + ((t - t0) / Math.max(1, t1 - t0)) * (kWidth - kPad.left - kPad.right);
  const y = (v) => kHeight - kPad.bottom - axis.at(v) * (kHeight - kPad.top - kPad.bottom);
  const nodes = [];
  for (const value of axis.ticks) {
    nodes.push(
      svg('line', { class: 'axis', x1: kPad.left, x2: kWidth - kPad.right, y1: y(value), y2: y(value) }),
    );
    const label = svg('text', { x: kPad.left - 4, y: y(value) + 3, 'text-anchor': 'end', class: 'tick' });
    label.textContent = format(value);
    nodes.push(label);
  }
  if (times.length > 0) {
    const minutes = Math.round((t1 - t0) / 60_000);
    const label = svg('text', { x: kPad.left, y: kHeight - 4 });
    label.textContent = minutes > 0 ? `${minutes} min ago` : `${Math.round((t1 - t0) / 1000)} s ago`;
    const now = svg('text', { x: kWidth - kPad.right, y: kHeight - 4, 'text-anchor': 'end' });
    now.textContent = 'now';
    nodes.push(label, now);
  }
  if (axis.clip) {
    const top = y(axis.clip.at);
    nodes.push(svg('line', { class: 'clip-line', x1: kPad.left, x2: kWidth - kPad.right, y1: top, y2: top }));
    const note = svg('text', {
      x: kWidth - kPad.right,
      y: kPad.top - 4,
      'text-anchor': 'end',
      class: 'clip-note',
    });
    note.textContent = `clipped at ${format(axis.clip.at)} · peak ${format(axis.clip.peak)}`;
    nodes.push(note);
  }
  for (const s of series) {
    nodes.push(...seriesNodes(s, x, y, axis.clip?.at ?? Number.POSITIVE_INFINITY, format));
  }
  chart.replaceChildren(...nodes);
  return axis.clip ?? null;
}

function seriesNodes(s, x, y, clipAt, format) {
  const nodes = [];
  let d = '';
  const points = s.points;
  for (let i = 0; i < points.length; i++) {
    const [t, v] = points[i];
    if (v === null) continue;
    const before = points[i - 1]?.[1] ?? null;
    const after = points[i + 1]?.[1] ?? null;
    d += `${before === null ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    if (before === null && after === null) {
      const dot = svg('circle', { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: s.color });
      dot.dataset.series = s.name;
      nodes.push(dot);
    }
    if (v > clipAt) {
      // A clipped value: a mark on the top line says it went higher.
      const mark = svg('path', {
        d: `M${x(t) - 4},${y(v) + 5}L${x(t)},${y(v) - 1}L${x(t) + 4},${y(v) + 5}Z`,
        fill: s.color,
      });
      mark.dataset.clipped = s.name;
      nodes.push(mark);
    }
  }
  if (d !== '') {
    const path = svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.8 });
    path.dataset.series = s.name;
    if (s.dashed) path.setAttribute('stroke-dasharray', '4 3');
    // Hovering a line tells its latest and highest values: the chart alone gives only their height.
    const values = points.map(([, v]) => v).filter((v) => v !== null);
    const title = svg('title', {});
    title.textContent = `${s.name}: latest ${format(values.at(-1))}, peak ${format(Math.max(...values))}`;
    path.append(title);
    nodes.unshift(path);
  }
  return nodes;
}
