// Console benchmark (issue 6): with N open incidents and U units each reporting a position every second, measure in
// Chromium (1) the time from the API accepting an alert to the console's DOM showing it (p50/p95), and (2) the
// main-thread time per second the page spends (CDP Performance.getMetrics TaskDuration, which counts every task:
// parsing the feed, applying updates, style, layout, drawing the map, ageing the queue).
//
//   node e2e/bench.mjs [--incidents 2000] [--units 500] [--seconds 20] [--avl batch|single] [--trace trace.json]
//
// The AVL load runs in a worker thread (avl.mjs) at U positions a second spread evenly over each second, by default
// batched every 100 ms to POST /api/positions as an AVL gateway would (--avl single: one request per report); the
// positions the server accepted per second during the window are reported, so a short-fall is visible.
//
// "DOM showing the alert": the queue is virtualised, so an alert whose row falls in the visible window is shown
// when its row element is inserted (observed here by a MutationObserver independent of the console's code); one
// sorted below the window is shown when the queue's model, count and scroll height have been updated in the DOM
// (the console's own hook). Both are reported, and the p50/p95 over all alerts.
//
// The load generator, the server and Chromium share the machine; figures are conservative. --trace also records a
// Chromium trace and prints a breakdown of the renderer's main thread (scripting, style, layout, paint).

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Api, CENTRE, Device, Server, consoleFromDisk, launch, login, seed, unitPosition } from './lib.mjs';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '2000' },
    units: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    avl: { type: 'string', default: 'batch' },
    trace: { type: 'string' },
  },
});
const N_INC = Number(values.incidents);
const N_UNITS = Number(values.units);
const SECONDS = Number(values.seconds);

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function pool(items, width, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  }));
}

const server = new Server();
// The benchmark's premise is N distinct open incidents; surge clustering (on by default) would fold the seeded
// alerts, scattered a few hundred metres apart, into far fewer.
server.env.JIKIMI_SURGE_RADIUS_M = '0';
await server.start();
const { admin } = await seed(server, { units: 0 });
const unitIds = Array.from({ length: N_UNITS }, (_, i) => `B-${1000 + i}`);
await pool(unitIds, 16, (id, i) => admin.call('PUT', `/api/units/${id}`, { status: 'available', position: unitPosition(i, 0) }));
const devices = Array.from({ length: 20 }, () => new Device());
await pool(devices, 4, (d, i) => admin.call('POST', '/api/subscribers', {
  name: `Bench ${i}`, phone: `010-5000-${String(1000 + i)}`, devices: [{ id: d.id, public_key: d.publicHex }],
}));
const t0 = Date.now();
await pool(Array.from({ length: N_INC }, (_, i) => i), 32, (i) => devices[i % devices.length].alert(server.url, {
  lat: CENTRE.lat + ((i * 7919) % 1000 - 500) / 20000, lon: CENTRE.lon + ((i * 104729) % 1000 - 500) / 16000,
  priority: 1 + (i % 4), accuracy: 10 + (i % 50),
}));
console.log(`seeded ${N_INC} incidents and ${N_UNITS} units in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const chrome = await launch();
const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 860 } });
await consoleFromDisk(ctx);
const page = await ctx.newPage();
await login(page, server.url, 'dispatcher');
await page.waitForFunction((n) => window.__jikimi.state.order.length >= n, N_INC, { timeout: 60000 });
console.log('console loaded the snapshot');
// Independent of the console's code: when each queue row element first entered the DOM.
await page.evaluate(() => {
  window.__rowsSeen = new Map();
  new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n.dataset?.id && !window.__rowsSeen.has(n.dataset.id)) window.__rowsSeen.set(n.dataset.id, now);
      }
    }
  }).observe(document.getElementById('queue'), { childList: true });
});

const dispatcher = await Api.login(server.url, 'dispatcher', 'e2e-staff-password');
const avl = new Worker(new URL('./avl.mjs', import.meta.url), {
  workerData: { url: server.url, token: dispatcher.token, units: N_UNITS, mode: values.avl },
});
const avlCount = () => new Promise((resolve) => {
  avl.once('message', resolve);
  avl.postMessage('count');
});

const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');
const metric = async () => {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
};
await sleep(3000); // let the AVL load reach steady state
if (values.trace) {
  await chrome.browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc'],
  });
}
const m0 = await metric();
const h0 = await page.evaluate(() => ({ apply: window.__jikimi.applyMs, events: window.__jikimi.events, frames: window.__jikimi.frames, map: { ...window.__jikimi.map.stats } }));
const a0 = await avlCount();
const w0 = Date.now();

const sent = [];
const alertEvery = 250;
const n = Math.floor((SECONDS * 1000) / alertEvery);
for (let i = 0; i < n; i++) {
  const d = devices[i % devices.length];
  const before = Date.now();
  const ans = await d.alert(server.url, { lat: CENTRE.lat + (i % 10) / 2000, lon: CENTRE.lon - (i % 7) / 2000, priority: i % 5 });
  sent.push({ id: ans.incident_id, before, accepted: Date.now() });
  const wait = alertEvery - (Date.now() - before);
  if (wait > 0) await sleep(wait);
}
await sleep(1500);
const m1 = await metric();
const h1 = await page.evaluate(() => ({ apply: window.__jikimi.applyMs, events: window.__jikimi.events, frames: window.__jikimi.frames, map: { ...window.__jikimi.map.stats } }));
const a1 = await avlCount();
const wall = (Date.now() - w0) / 1000;
let traceText = null;
if (values.trace) traceText = (await chrome.browser.stopTracing()).toString();
const seen = await page.evaluate((ids) => ids.map((id) => [window.__jikimi.seen.get(id) ?? null, window.__rowsSeen.get(id) ?? null]), sent.map((s) => s.id));
avl.postMessage('stop');
await new Promise((r) => avl.once('message', r));
await avl.terminate();

const fromAccept = [];
const rowFromAccept = [];
const fromSend = [];
let missing = 0;
sent.forEach((s, i) => {
  const [model, row] = seen[i];
  const shown = row ?? model;
  if (shown === null) { missing++; return; }
  fromAccept.push(Math.max(0, shown - s.accepted));
  fromSend.push(shown - s.before);
  if (row !== null) rowFromAccept.push(Math.max(0, row - s.accepted));
});
const perS = (a, b) => Number((((b - a) * 1000) / wall).toFixed(1));
const avlWindow = (a1.at - a0.at) / 1000;
const report = {
  incidents_open: N_INC, units: N_UNITS, window_s: Number(wall.toFixed(1)),
  positions: {
    mode: values.avl,
    target_per_s: N_UNITS,
    accepted_per_s: Number(((a1.ok - a0.ok) / avlWindow).toFixed(0)),
    failed: a1.failed - a0.failed,
    skipped_still_in_flight: a1.skipped - a0.skipped,
  },
  events_applied_per_s: Number(((h1.events - h0.events) / wall).toFixed(0)),
  frames_with_updates_per_s: Number(((h1.frames - h0.frames) / wall).toFixed(1)),
  alerts: sent.length, alerts_missing: missing,
  accept_to_dom_ms: { p50: pct(fromAccept, 50), p95: pct(fromAccept, 95), max: fromAccept.length ? Math.max(...fromAccept) : null },
  accept_to_row_in_view_ms: { n: rowFromAccept.length, p50: pct(rowFromAccept, 50), p95: pct(rowFromAccept, 95) },
  send_to_dom_ms: { p50: pct(fromSend, 50), p95: pct(fromSend, 95) },
  main_thread_ms_per_s: {
    all_tasks: perS(m0.TaskDuration, m1.TaskDuration),
    script: perS(m0.ScriptDuration, m1.ScriptDuration),
    style: perS(m0.RecalcStyleDuration, m1.RecalcStyleDuration),
    layout: perS(m0.LayoutDuration, m1.LayoutDuration),
    applying_events: Number(((h1.apply - h0.apply) / wall).toFixed(1)),
    drawing_map: Number(((h1.map.total - h0.map.total) / wall).toFixed(1)),
  },
  map: Object.fromEntries(Object.keys(h1.map).map((k) => [k, Number((h1.map[k] - h0.map[k]).toFixed(1))])),
};
if (traceText) {
  fs.writeFileSync(values.trace, traceText);
  report.trace = { file: values.trace, main_thread_ms_per_s: traceBreakdown(JSON.parse(traceText), wall) };
}
console.log(JSON.stringify(report, null, 2));
await chrome.close();
await server.dispose();
process.exit(0);

// Sums complete events on the renderer's main thread by kind (nested events are counted within their parents too:
// a layout forced by script appears under both).
function traceBreakdown(trace, seconds) {
  const events = trace.traceEvents || trace;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return null;
  const kinds = {
    task: ['RunTask', 'ThreadControllerImpl::RunTask'],
    script: ['FunctionCall', 'EvaluateScript', 'v8.compile', 'TimerFire', 'FireAnimationFrame', 'EventDispatch'],
    style: ['UpdateLayoutTree', 'RecalculateStyles'],
    layout: ['Layout'],
    pre_paint: ['PrePaint'],
    paint: ['Paint'],
    layerize: ['Layerize', 'UpdateLayer'],
    commit: ['Commit'],
  };
  const out = {};
  for (const [kind, names] of Object.entries(kinds)) {
    const set = new Set(names);
    let us = 0;
    let depthEnd = 0; // count only outermost events of a kind
    const mine = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && set.has(e.name));
    for (const e of mine.sort((a, b) => a.ts - b.ts)) {
      if (e.ts < depthEnd) continue;
      us += e.dur || 0;
      depthEnd = e.ts + (e.dur || 0);
    }
    out[kind] = Number((us / 1000 / seconds).toFixed(1));
  }
  return out;
}
