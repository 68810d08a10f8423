// The gworker dashboard: polls the control API and draws what it answers. Plain DOM and
// inline SVG, nothing to build and nothing loaded from elsewhere. Every value from the
// server goes in through textContent or an attribute, never as markup (function names
// and error messages are whatever handlers and manifests say).

import { drawChart, formatCount, formatDuration, svg } from './charts.js';

const kStatusEveryMs = 1000;
const kHistoryEveryMs = 2000;
/** The server caches its `workers` answer for 5 s: polling faster would only reread it. */
const kWorkersEveryMs = 5000;
/** Failures listed in the last-errors panel, newest first over every function. */
const kErrorsShown = 30;
const kColors = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];

const state = {
  // A token in the address's fragment (#token=...) never reaches the server's logs.
  token: tokenFromHash() ?? sessionStorage.getItem('gworker-token'),
  status: null,
  history: null,
  /**
   * Each function's colour, given on first sight and kept for the page's life. The status
   * and the history list functions in the manifest's order, so whichever answers first
   * gives the same colours (issue 11: they were taken from the status alone, and the
   * charts drawn before it answered had every line in the first colour for 2 s).
   */
  colors: new Map(),
  throughputScale: localStorage.getItem('gworker-throughput-scale') ?? 'linear',
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

function formatUptime(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** Gives every name not seen yet the next colour, in the order given. */
function learnColors(names) {
  for (const name of names) {
    if (!state.colors.has(name)) state.colors.set(name, kColors[state.colors.size % kColors.length]);
  }
}

function colorOf(name) {
  learnColors([name]);
  return state.colors.get(name);
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
    // The slots, and under them how they are set (a column of its own would not fit 1280 px).
    const scaling = el('small', scalingText(fn.scaling), 'scaling');
    scaling.dataset.field = 'scaling';
    scaling.title = fn.scaling?.lastChange ? changeText(fn.scaling.lastChange) : '';
    const slots = el('span', String(fn.concurrency));
    slots.dataset.field = 'slots';
    cell('concurrency').replaceChildren(slots, scaling);
    cell('running').textContent = fn.prefetched > 0 ? `${fn.running}+${fn.prefetched}` : fn.running;
    cell('queued').textContent = fn.queued ?? '–';
    cell('threads').textContent = fn.isolation === 'process' ? `${fn.threads} proc` : fn.threads;
    cell('generation').textContent = fn.generation;
    cell('done').textContent = fn.done;
    cell('failed').textContent = fn.failed;
    cell('excepted').textContent = fn.excepted;
    cell('jobsPerSecond').textContent = fn.jobsPerSecond.toFixed(2);
    cell('p50Ms').textContent = formatDuration(fn.p50Ms);
    cell('p95Ms').textContent = formatDuration(fn.p95Ms);
    cell('p99Ms').textContent = formatDuration(fn.p99Ms);
    const toggle = row.querySelector('[data-action="toggle"]');
    toggle.textContent = fn.paused ? 'Resume' : 'Pause';
    toggle.dataset.next = fn.paused ? 'resume' : 'pause';
    const input = row.querySelector('input[data-action="concurrency"]');
    if (!state.editing.has(fn.name)) input.value = fn.concurrency;
    // Ends a manual value: back to the autoscaler (a range) or the manifest's concurrency.
    row.querySelector('[data-action="auto"]').hidden = fn.scaling?.mode !== 'manual';
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
  const cell = el('td');
  // The flex box sits inside the cell: a flex cell leaves the table's row layout.
  const actions = el('div', undefined, 'actions');
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
  const auto = el('button', 'Auto');
  auto.type = 'button';
  auto.dataset.action = 'auto';
  auto.hidden = true;
  auto.addEventListener('click', () => command(name, 'scale', auto, { auto: true }));
  actions.append(toggle, input, scale, auto);
  cell.append(actions);
  row.append(cell);
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

/** `fixed`, `auto 1–4`, `manual` (`manual, 1–4` for a range): how the concurrency is set. */
function scalingText(scaling) {
  if (!scaling) return '–';
  const range = scaling.min === null ? '' : `${scaling.min}–${scaling.max}`;
  if (scaling.mode === 'auto') return `auto ${range}`;
  return scaling.mode === 'manual' && range ? `manual, ${range}` : scaling.mode;
}

function changeText(change) {
  return `${change.from} → ${change.to} by ${change.by} at ${new Date(change.at).toLocaleTimeString()}: ${change.why}`;
}

function renderScaling(functions) {
  const items = functions
    .filter((fn) => fn.scaling?.lastChange)
    .map((fn) => el('li', `${fn.name}: ${changeText(fn.scaling.lastChange)}`));
  $('scalings').replaceChildren(...(items.length > 0 ? items : [el('li', 'none yet', 'muted')]));
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

function renderCharts() {
  const history = state.history;
  if (!history) return;
  learnColors(Object.keys(history.functions));
  const perSecond = 1000 / history.bucketMs;
  const throughput = [];
  const latency = [];
  const queues = [];
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
  for (const [name, points] of Object.entries(history.queues ?? {})) {
    const color = colorOf(name);
    queues.push({ name, color, points: points.map((p) => [p.t, p.queued]) });
    queues.push({
      name: `${name} running`,
      color,
      dashed: true,
      points: points.map((p) => [p.t, p.running]),
    });
  }
  const clip = drawChart($('throughput-chart'), throughput, {
    format: (v) => `${formatCount(v)}/s`,
    scale: state.throughputScale,
  });
  $('throughput-clip').textContent = clip ? `one burst reached ${formatCount(clip.peak)}/s` : '';
  drawChart($('latency-chart'), latency, { format: formatDuration });
  drawChart($('queue-chart'), queues, { format: formatCount });
  const legend = Object.keys(history.functions).map((name) => {
    const item = el('li');
    item.dataset.function = name;
    const swatch = svg('svg', { width: 14, height: 4 });
    swatch.append(svg('rect', { width: 14, height: 4, fill: colorOf(name) }));
    item.append(swatch, document.createTextNode(name));
    return item;
  });
  $('legend').replaceChildren(...legend);
}

const scaleChoice = $('throughput-scale');
scaleChoice.value = ['linear', 'log', 'clip'].includes(state.throughputScale)
  ? state.throughputScale
  : 'linear';
state.throughputScale = scaleChoice.value;
scaleChoice.addEventListener('change', () => {
  state.throughputScale = scaleChoice.value;
  localStorage.setItem('gworker-throughput-scale', scaleChoice.value);
  renderCharts();
});

// ---- last errors and other workers -------------------------------------------------

function renderErrors(reply) {
  const all = Object.values(reply.functions).flatMap((fn) => fn.recent);
  all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  const rows = all.slice(0, kErrorsShown).map((failure) => {
    const row = document.createElement('tr');
    row.dataset.function = failure.function;
    const what = failure.type ? `${failure.type}: ${failure.message}` : failure.message;
    const message = el('td', what, 'message');
    message.title = what;
    row.append(
      el('td', new Date(failure.at).toLocaleTimeString()),
      el('td', failure.function),
      el('td', failure.handle, 'handle'),
      el('td', failure.kind === 'exception' ? 'exception' : 'fail'),
      message,
    );
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement('tr');
    const none = el('td', 'no failures since the supervisor started', 'muted');
    none.colSpan = 5;
    row.append(none);
    rows.push(row);
  }
  $('errors').tBodies[0].replaceChildren(...rows);
  const totals = Object.entries(reply.functions)
    .filter(([, fn]) => fn.total > fn.recent.length)
    .map(([name, fn]) => `${name}: ${fn.total} in all, the last ${fn.recent.length} kept`);
  $('errors-notes').textContent = totals.join('; ');
}

function renderWorkers(reply) {
  const rows = [];
  for (const [name, fn] of Object.entries(reply.functions)) {
    for (const worker of fn.workers) {
      const row = document.createElement('tr');
      row.dataset.function = name;
      row.dataset.self = String(worker.self);
      const who = el('td', worker.clientId);
      if (worker.self) who.append(' ', el('span', 'this supervisor', 'badge ok'));
      row.append(
        el('td', name),
        el('td', worker.server),
        who,
        el('td', worker.address),
        el('td', worker.fd, 'num'),
      );
      rows.push(row);
    }
    if (fn.more > 0) {
      const row = document.createElement('tr');
      const more = el('td', `${name}: ${fn.more} more not listed`, 'muted');
      more.colSpan = 5;
      row.append(more);
      rows.push(row);
    }
  }
  $('workers').tBodies[0].replaceChildren(...rows);
  const notes = reply.servers.filter((s) => s.error).map((s) => `${s.server}: not listed (${s.error})`);
  $('workers-notes').textContent = [
    ...notes,
    `as the job servers listed them at ${new Date(reply.fetchedAt).toLocaleTimeString()}`,
  ].join('; ');
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
  learnColors(status.functions.map((fn) => fn.name));
  $('summary').textContent =
    `pid ${status.pid} · up ${formatUptime(status.uptimeMs)} · ${status.functions.length} function(s) · ${status.manifest}`;
  $('draining').hidden = !status.draining;
  renderFunctions(status.functions);
  renderServers(status.servers);
  renderScaling(status.functions);
  renderReloads(status.functions);
  setLink(true, `live · ${new Date().toLocaleTimeString()}`);
}

async function refreshHistory() {
  state.history = await api('GET', '/api/history');
  renderCharts();
}

async function refreshErrors() {
  renderErrors(await api('GET', '/api/errors'));
}

async function refreshWorkers() {
  renderWorkers(await api('GET', '/api/workers'));
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
poll(refreshErrors, kHistoryEveryMs);
poll(refreshWorkers, kWorkersEveryMs);
