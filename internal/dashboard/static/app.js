// The aigateway dashboard: polls /ui/api/live every 2 seconds and
// /ui/api/usage every 10, and draws tables and uPlot charts. It only reads:
// the config file stays the one source of truth.
'use strict';

const LIVE_EVERY_MS = 2000;
const USAGE_EVERY_MS = 10000;
const KEY_STORE = 'aigateway-admin-key';
const COLORS = ['#2f6fde', '#e0662d', '#2b9a5b', '#b5399a', '#8a6d1f', '#1f9bb0', '#c23b3b', '#6a54c9', '#5c6b7a', '#9bae2a'];

const $ = (sel) => document.querySelector(sel);
let adminKey = sessionStorage.getItem(KEY_STORE) || '';
let updates = 0;
const charts = {};

// api fetches a JSON endpoint with the admin key. It resolves to
// {status, body}; body is null when the answer is not JSON.
async function api(path) {
  const headers = {};
  if (adminKey) headers.Authorization = 'Bearer ' + adminKey;
  const res = await fetch(path, { headers, cache: 'no-store' });
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  return { status: res.status, body };
}

function showLogin(why) {
  $('#main').hidden = true;
  $('#login').hidden = false;
  $('#login-why').textContent = why;
  $('#state').textContent = 'locked';
  $('#key').focus();
}

function useKey() {
  adminKey = $('#key').value.trim();
  $('#key').value = '';
  sessionStorage.setItem(KEY_STORE, adminKey);
  $('#login').hidden = true;
  pollLive();
  pollUsage();
}

// guard handles the answers that mean the dashboard cannot read: it
// returns true when the caller may go on.
function guard(res) {
  if (res.status === 401) {
    showLogin(adminKey
      ? 'The gateway refused that key: enter its admin_key.'
      : 'This gateway has keys: the dashboard needs its admin_key. It is kept in this tab only (sessionStorage).');
    return false;
  }
  if (res.status === 403) {
    $('#main').hidden = true;
    $('#login').hidden = false;
    $('#key').parentElement.hidden = true;
    $('#login-why').textContent = 'This gateway has keys but no admin_key: add one to models.json to open the dashboard.';
    $('#state').textContent = 'locked';
    return false;
  }
  return true;
}

let liveTimer = 0;
async function pollLive() {
  clearTimeout(liveTimer);
  try {
    const res = await api('api/live');
    if (!guard(res)) return;
    if (res.status !== 200 || !res.body) throw new Error('HTTP ' + res.status);
    renderLive(res.body);
    updates++;
    document.body.dataset.updates = String(updates);
    $('#state').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('#state').className = 'muted';
  } catch (err) {
    $('#state').textContent = 'cannot reach the gateway: ' + err.message;
    $('#state').className = 'bad';
  }
  liveTimer = setTimeout(pollLive, LIVE_EVERY_MS);
}

let usageTimer = 0;
async function pollUsage() {
  clearTimeout(usageTimer);
  try {
    const res = await api('api/usage?hours=' + encodeURIComponent($('#hours').value));
    if (!guard(res)) return;
    if (res.status === 404) {
      $('#usage-off').hidden = false;
      $('#usage-off').textContent = 'The usage ledger is off (--ledger-file off): no usage to show.';
      $('#usage-charts').hidden = true;
    } else if (res.status === 200 && res.body) {
      $('#usage-off').hidden = true;
      $('#usage-charts').hidden = false;
      renderUsage(res.body);
      document.body.dataset.usageUpdates = String(Number(document.body.dataset.usageUpdates || 0) + 1);
    }
  } catch (_) { /* pollLive reports an unreachable gateway */ }
  usageTimer = setTimeout(pollUsage, USAGE_EVERY_MS);
}

// ---- formatting

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
function fmtMS(ms) {
  if (!ms) return '–';
  return ms < 1000 ? ms.toFixed(ms < 10 ? 1 : 0) + ' ms' : (ms / 1000).toFixed(2) + ' s';
}
function fmtUSD(v) {
  if (!v) return '$0';
  return v < 0.01 ? '$' + v.toPrecision(2) : '$' + v.toFixed(2);
}
const fmtPct = (v) => (v * 100).toFixed(v === 0 ? 0 : 1) + '%';

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// ---- live

function breakerText(b) {
  if (!b) return ['–', 'muted'];
  if (b.state === 'open') return ['open', 'bad'];
  if (b.state === 'half_open') return ['half-open', 'warn'];
  return ['closed', 'ok'];
}

function statusClass(s) {
  return s === 'available' ? 'ok' : s === 'disabled' ? 'muted' : 'warn';
}

function summaryCells(tr, series) {
  const s = series ? series.summary : null;
  cell(tr, s ? s.per_minute.toFixed(1) : '0', 'num');
  cell(tr, s ? fmtInt(s.requests) : '0', 'num requests');
  cell(tr, s && s.requests ? fmtPct(s.error_rate) : '–', 'num' + (s && s.error_rate > 0 ? ' bad' : ''));
  cell(tr, fmtMS(s && s.avg_latency_ms), 'num');
  cell(tr, fmtMS(s && s.max_latency_ms), 'num');
  cell(tr, fmtMS(s && s.avg_ttft_ms), 'num');
  cell(tr, s ? fmtInt(s.tokens) : '0', 'num');
  cell(tr, fmtUSD(s && s.cost_usd), 'num');
}

function renderLive(live) {
  $('#main').hidden = false;
  $('#total').textContent = fmtInt(live.total);

  const body = document.createElement('tbody');
  for (const m of live.models) {
    const tr = document.createElement('tr');
    tr.className = 'model';
    tr.dataset.model = m.id;
    cell(tr, m.id);
    cell(tr, '');
    const avail = m.deployments.filter((d) => d.status === 'available').length;
    const status = m.configured ? avail + '/' + m.deployments.length + ' available' : 'not served';
    const open = m.deployments.filter((d) => d.breaker && d.breaker.state !== 'closed').length;
    cell(tr, status, m.configured && avail > open ? 'ok' : 'warn');
    cell(tr, open ? open + ' not closed' : '', open ? 'warn' : '');
    summaryCells(tr, m.series);
    body.appendChild(tr);
    for (const d of m.deployments) {
      const dr = document.createElement('tr');
      dr.className = 'deployment';
      dr.dataset.deployment = d.name;
      cell(dr, d.name);
      cell(dr, d.adapter, 'muted');
      const st = cell(dr, d.status.replace('_', ' '), statusClass(d.status));
      if (d.reason) st.title = d.reason;
      const [bt, bc] = breakerText(d.breaker);
      const bcell = cell(dr, bt, bc);
      if (d.breaker && d.breaker.consecutive_failures) bcell.title = d.breaker.consecutive_failures + ' consecutive failures';
      summaryCells(dr, d.series);
      body.appendChild(dr);
    }
  }
  $('#models tbody').replaceWith(body);

  const xs = live.times;
  const rate = {}, errors = {}, latency = {}, ttft = {};
  const zeros = xs.map(() => 0);
  const gaps = xs.map(() => null);
  for (const m of live.models) {
    const s = m.series;
    rate[m.id] = s ? s.requests.map((n) => n * 60 / live.bucket_seconds) : zeros;
    errors[m.id] = s ? s.requests.map((n, i) => (n ? 100 * s.errors[i] / n : null)) : gaps;
    latency[m.id] = s ? s.latency_ms : gaps;
    ttft[m.id] = s ? s.ttft_ms : gaps;
  }
  drawChart('chart-rate', xs, rate, (v) => v.toFixed(1));
  // A span with requests between two without is a lone point: mark the
  // points, or it would not show.
  drawChart('chart-errors', xs, errors, (v) => v.toFixed(1) + '%', true);
  drawChart('chart-latency', xs, latency, fmtMS, true);
  drawChart('chart-ttft', xs, ttft, fmtMS, true);

  const rb = document.createElement('tbody');
  for (const r of live.recent) {
    const tr = document.createElement('tr');
    tr.dataset.requestId = r.request_id;
    cell(tr, new Date(r.time).toLocaleTimeString());
    cell(tr, r.request_id, 'muted');
    cell(tr, r.key || '–');
    cell(tr, r.model);
    cell(tr, r.deployment || '–');
    cell(tr, r.endpoint, 'muted');
    cell(tr, String(r.status), 'num ' + (r.failed ? 'bad' : r.status >= 400 ? 'warn' : 'ok'));
    cell(tr, fmtMS(r.latency_ms), 'num');
    cell(tr, fmtMS(r.ttfb_ms), 'num');
    cell(tr, fmtInt(r.prompt_tokens), 'num');
    cell(tr, fmtInt(r.completion_tokens), 'num');
    cell(tr, fmtUSD(r.cost_usd), 'num');
    cell(tr, r.stream ? 'yes' : 'no');
    rb.appendChild(tr);
  }
  $('#recent tbody').replaceWith(rb);
}

// ---- usage

function renderUsage(u) {
  const xs = u.hours.map((h) => Date.parse(h) / 1000);
  const at = new Map(u.hours.map((h, i) => [h, i]));
  const split = (rows, name, field) => {
    const out = {};
    for (const r of rows) {
      const label = r[name] || (name === 'key' ? '(no key)' : '(none)');
      if (!out[label]) out[label] = xs.map(() => 0);
      const i = at.get(r.hour);
      if (i !== undefined) out[label][i] += field(r);
    }
    return out;
  };
  const tokens = (r) => r.prompt_tokens + r.completion_tokens;
  const costOf = (r) => r.cost_usd;
  drawChart('chart-tokens-model', xs, split(u.by_model, 'model', tokens), fmtInt, true);
  drawChart('chart-cost-model', xs, split(u.by_model, 'model', costOf), fmtUSD, true);
  drawChart('chart-tokens-key', xs, split(u.by_key, 'key', tokens), fmtInt, true);
  drawChart('chart-cost-key', xs, split(u.by_key, 'key', costOf), fmtUSD, true);
}

// ---- charts

// drawChart shows one line per entry of byLabel over xs (unix seconds) in
// the element id, reusing its uPlot while the labels stay the same. With
// points, every value is marked (hourly usage has few of them).
function drawChart(id, xs, byLabel, fmt, points) {
  const el = document.getElementById(id);
  const labels = Object.keys(byLabel).sort();
  const data = [xs, ...labels.map((l) => byLabel[l])];
  const sig = labels.join('\u0000');
  const c = charts[id];
  if (c && c.sig === sig) {
    c.u.setData(data);
    return;
  }
  if (c) c.u.destroy();
  el.textContent = '';
  if (labels.length === 0) {
    const p = document.createElement('div');
    p.className = 'empty';
    p.textContent = 'nothing recorded yet';
    el.appendChild(p);
    delete charts[id];
    return;
  }
  const opts = {
    width: Math.max(el.clientWidth, 300),
    height: 220,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [{}, { size: 70, values: (u, vals) => vals.map((v) => fmt(v)) }],
    series: [{}, ...labels.map((l, i) => ({
      label: l,
      stroke: COLORS[i % COLORS.length],
      width: 1.5,
      spanGaps: false,
      points: points ? { show: true, size: 5 } : { show: false },
      value: (u, v) => (v == null ? '–' : fmt(v)),
    }))],
  };
  charts[id] = { sig, u: new uPlot(opts, data, el) };
}

window.addEventListener('resize', () => {
  for (const id in charts) {
    const el = document.getElementById(id);
    charts[id].u.setSize({ width: Math.max(el.clientWidth, 300), height: 220 });
  }
});

$('#key-go').addEventListener('click', useKey);
$('#key').addEventListener('keydown', (e) => { if (e.key === 'Enter') useKey(); });
$('#hours').addEventListener('change', pollUsage);
pollLive();
pollUsage();
