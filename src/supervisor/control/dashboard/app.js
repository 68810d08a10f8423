// The gworker dashboard: polls the control API and draws what it answers. Plain DOM and
// inline SVG, nothing to build and nothing loaded from elsewhere. Every value from the
// server goes in through textContent or an attribute, never as markup (function names
// are whatever the manifest says).

const kStatusEveryMs = 1000;
const kHistoryEveryMs = 2000;
const kColors = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
const kSvg = 'http://www.w3.org/2000/svg';

const state = {
  // A token in the address's fragment (#token=...) never reaches the server's logs.
  token: tokenFromHash() ?? sessionStorage.getItem('gworker-token'),
  status: null,
  history: null,
  /** Scale inputs being edited are not overwritten by the next refresh. */
  editing: new Set(),
};

function tokenFromHash() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  const token = decodeURIComponent(match[1]);
  sessionStorage.setItem('gworker-token', token);
  history.replaceState(null, '', location.pathname);
  return token;
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const reply = await res.json().catch(() => null);
  if (res.status === 401) {
    showTokenForm();
    throw new Error(reply?.error?.message ?? 'unauthorized');
  }
  if (!res.ok) throw new Error(reply?.error?.message ?? `HTTP ${res.status}`);
  return reply;
}

function $(id) {
  return document.getElementById(id);
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function showError(message) {
  const box = $('error');
  box.textContent = message ?? '';
  box.hidden = !message;
}

function showTokenForm() {
  $('token-form').hidden = false;
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function formatUptime(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

function colorOf(name) {
  const names = (state.status?.functions ?? []).map((fn) => fn.name);
  const index = Math.max(0, names.indexOf(name));
  return kColors[index % kColors.length];
}

// ---- functions table -------------------------------------------------------------

function renderFunctions(functions) {
  const body = $('functions').tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.function, row]));
  for (const fn of functions) {
    let row = rows.get(fn.name);
    if (!row) row = createFunctionRow(body, fn.name);
    rows.delete(fn.name);
    const cell = (field) => row.querySelector(`[data-field="${field}"]`);
    cell('kind').textContent = fn.kind;
    const stateCell = cell('state');
    stateCell.textContent = fn.paused ? 'paused' : 'active';
    stateCell.className = fn.paused ? 'state-paused' : 'state-active';
    cell('concurrency').textContent = fn.concurrency;
    cell('running').textContent = fn.prefetched > 0 ? `${fn.running}+${fn.prefetched}` : fn.running;
    cell('queued').textContent = fn.queued ?? '–';
    cell('threads').textContent = fn.isolation === 'process' ? `${fn.threads} proc` : fn.threads;
    cell('generation').textContent = fn.generation;
    cell('done').textContent = fn.done;
    cell('failed').textContent = fn.failed;
    cell('excepted').textContent = fn.excepted;
    cell('jobsPerSecond').textContent = fn.jobsPerSecond.toFixed(2);
    cell('p50Ms').textContent = formatMs(fn.p50Ms);
    cell('p95Ms').textContent = formatMs(fn.p95Ms);
    cell('p99Ms').textContent = formatMs(fn.p99Ms);
    const toggle = row.querySelector('[data-action="toggle"]');
    toggle.textContent = fn.paused ? 'Resume' : 'Pause';
    toggle.dataset.next = fn.paused ? 'resume' : 'pause';
    const input = row.querySelector('input[data-action="concurrency"]');
    if (!state.editing.has(fn.name)) input.value = fn.concurrency;
    for (const control of row.querySelectorAll('button, input')) control.disabled = state.status.draining;
  }
  for (const stale of rows.values()) stale.remove();
}

function createFunctionRow(body, name) {
  const row = body.insertRow();
  row.dataset.function = name;
  const nameCell = el('td', name);
  nameCell.dataset.field = 'name';
  row.append(nameCell);
  const fields = ['kind', 'state', 'concurrency', 'running', 'queued', 'threads', 'generation', 'done'];
  fields.push('failed', 'excepted', 'jobsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms');
  for (const field of fields) {
    const td = el('td', '', ['kind', 'state'].includes(field) ? '' : 'num');
    td.dataset.field = field;
    row.append(td);
  }
  const actions = el('td', undefined, 'actions');
  const toggle = el('button', 'Pause');
  toggle.type = 'button';
  toggle.dataset.action = 'toggle';
  toggle.addEventListener('click', () => command(name, toggle.dataset.next, toggle));
  const input = el('input');
  input.type = 'number';
  input.min = '1';
  input.max = '100000';
  input.dataset.action = 'concurrency';
  input.setAttribute('aria-label', `concurrency of ${name}`);
  input.addEventListener('focus', () => state.editing.add(name));
  input.addEventListener('blur', () => state.editing.delete(name));
  const scale = el('button', 'Scale');
  scale.type = 'button';
  scale.dataset.action = 'scale';
  scale.addEventListener('click', () => command(name, 'scale', scale, { concurrency: Number(input.value) }));
  actions.append(toggle, input, scale);
  row.append(actions);
  return row;
}

async function command(name, action, button, body = {}) {
  button.disabled = true;
  try {
    await api('POST', `/api/functions/${encodeURIComponent(name)}/${action}`, body);
    state.editing.delete(name);
    showError(null);
    await refreshStatus();
  } catch (err) {
    showError(`${action} ${name}: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---- servers and reloads ---------------------------------------------------------

function renderServers(servers) {
  const body = $('servers').tBodies[0];
  const rows = [];
  for (const server of servers) {
    for (const fn of server.functions) {
      const row = document.createElement('tr');
      row.dataset.server = server.server;
      row.dataset.function = fn.function;
      const state =
        fn.up === 0 ? 'down' : fn.up >= fn.connections ? 'connected' : `partly (${fn.up}/${fn.connections})`;
      const link = el('td', state, fn.up === 0 ? 'down' : '');
      row.append(el('td', server.server), el('td', fn.function), el('td', fn.connections, 'num'), link);
      row.append(el('td', fn.reconnects, 'num'));
      row.append(el('td', fn.queue?.queued ?? '–', 'num'), el('td', fn.queue?.running ?? '–', 'num'));
      row.append(el('td', fn.queue?.workers ?? '–', 'num'), el('td', fn.lastError ?? '–'));
      rows.push(row);
    }
  }
  body.replaceChildren(...rows);
  const notes = servers
    .filter((s) => s.adminError)
    .map((s) => `${s.server}: queue depths unknown (${s.adminError})`);
  $('server-notes').textContent = notes.join('; ');
}

function renderReloads(functions) {
  const items = functions
    .filter((fn) => fn.lastReload)
    .map((fn) => {
      const r = fn.lastReload;
      const text = r.ok
        ? `${fn.name}: generation ${r.generation} at ${new Date(r.at).toLocaleTimeString()}`
        : `${fn.name}: rejected at ${new Date(r.at).toLocaleTimeString()}, generation ${r.generation} keeps serving: ${r.error}`;
      return el('li', text, r.ok ? '' : 'rejected');
    });
  $('reloads').replaceChildren(...(items.length > 0 ? items : [el('li', 'none yet', 'muted')]));
}

// ---- charts -----------------------------------------------------------------------

function svg(tag, attributes) {
  const node = document.createElementNS(kSvg, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Draws one line per series on a 600×200 chart; points are [t, value|null]. */
function drawChart(chart, series, unit) {
  const width = 600;
  const height = 200;
  const pad = { left: 44, right: 8, top: 8, bottom: 20 };
  const all = series.flatMap((s) => s.points).filter(([, v]) => v !== null);
  const times = series.flatMap((s) => s.points.map(([t]) => t));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const top = niceCeiling(Math.max(0, ...all.map(([, v]) => v)));
  const x = (t) => pad.left + ((t - t0) / Math.max(1, t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const nodes = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    nodes.push(
      svg('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }),
    );
    const label = svg('text', { x: pad.left - 4, y: y(value) + 3, 'text-anchor': 'end' });
    label.textContent = `${formatNumber(value)}${unit}`;
    nodes.push(label);
  }
  if (times.length > 0) {
    const minutes = Math.round((t1 - t0) / 60_000);
    const label = svg('text', { x: pad.left, y: height - 4 });
    label.textContent = `${minutes} min ago`;
    const now = svg('text', { x: width - pad.right, y: height - 4, 'text-anchor': 'end' });
    now.textContent = 'now';
    nodes.push(label, now);
  }
  for (const s of series) {
    let d = '';
    let pen = false;
    for (const [t, v] of s.points) {
      if (v === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    if (d === '') continue;
    const path = svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.8 });
    path.dataset.series = s.name;
    if (s.dashed) path.setAttribute('stroke-dasharray', '4 3');
    nodes.push(path);
  }
  chart.replaceChildren(...nodes);
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function formatNumber(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function renderCharts() {
  const history = state.history;
  if (!history) return;
  const perSecond = 1000 / history.bucketMs;
  const throughput = [];
  const latency = [];
  for (const [name, points] of Object.entries(history.functions)) {
    const color = colorOf(name);
    throughput.push({
      name,
      color,
      points: points.map((p) => [p.t, (p.done + p.failed + p.excepted) * perSecond]),
    });
    latency.push({ name: `${name} p95`, color, points: points.map((p) => [p.t, p.p95Ms]) });
    latency.push({ name: `${name} p50`, color, dashed: true, points: points.map((p) => [p.t, p.p50Ms]) });
  }
  drawChart($('throughput-chart'), throughput, '/s');
  drawChart($('latency-chart'), latency, 'ms');
  const legend = Object.keys(history.functions).map((name) => {
    const item = el('li');
    const swatch = svg('svg', { width: 14, height: 4 });
    swatch.append(svg('rect', { width: 14, height: 4, fill: colorOf(name) }));
    item.append(swatch, document.createTextNode(name));
    return item;
  });
  $('legend').replaceChildren(...legend);
}

// ---- polling ----------------------------------------------------------------------

function setLink(ok, text) {
  const badge = $('link');
  badge.textContent = text;
  badge.className = `badge ${ok ? 'ok' : 'bad'}`;
}

async function refreshStatus() {
  const status = await api('GET', '/api/status');
  state.status = status;
  $('summary').textContent =
    `pid ${status.pid} · up ${formatUptime(status.uptimeMs)} · ${status.functions.length} function(s) · ${status.manifest}`;
  $('draining').hidden = !status.draining;
  renderFunctions(status.functions);
  renderServers(status.servers);
  renderReloads(status.functions);
  setLink(true, `live · ${new Date().toLocaleTimeString()}`);
}

async function refreshHistory() {
  state.history = await api('GET', '/api/history');
  renderCharts();
}

/** Polls with setTimeout after each answer, so a slow server is never asked twice at once. */
function poll(refresh, everyMs) {
  const tick = async () => {
    try {
      await refresh();
    } catch (err) {
      setLink(false, `unreachable: ${err.message}`);
    }
    setTimeout(tick, everyMs);
  };
  tick();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token-input').value.trim();
  sessionStorage.setItem('gworker-token', state.token);
  $('token-form').hidden = true;
  showError(null);
});

poll(refreshStatus, kStatusEveryMs);
poll(refreshHistory, kHistoryEveryMs);
