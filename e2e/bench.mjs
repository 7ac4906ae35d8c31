// Console benchmark (issue 6): with N open incidents and U units each reporting a position every second, measure in
// Chromium (1) the time from the API accepting an alert to the console's DOM showing it (p50/p95), and (2) the
// main-thread time per second the page spends (CDP Performance.getMetrics TaskDuration, which counts every task:
// parsing the feed, applying updates, drawing the map, ageing the queue).
//
//   node e2e/bench.mjs [--incidents 2000] [--units 500] [--seconds 20]
//
// The load generator, the server and Chromium share the machine; figures are conservative.

import { parseArgs } from 'node:util';
import { Api, CENTRE, Device, Server, launch, login, seed } from './lib.mjs';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '2000' },
    units: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
  },
});
const N_INC = Number(values.incidents);
const N_UNITS = Number(values.units);
const SECONDS = Number(values.seconds);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

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
await server.start();
const { admin } = await seed(server, { units: 0 });
const unitIds = Array.from({ length: N_UNITS }, (_, i) => `B-${1000 + i}`);
const pos = (i, t) => {
  const a = (i * 2.399) + t / 60;
  const r = 300 + (i % 25) * 100;
  return { lat: CENTRE.lat + (r * Math.sin(a)) / 111320, lon: CENTRE.lon + (r * Math.cos(a)) / 88000 };
};
await pool(unitIds, 16, (id, i) => admin.call('PUT', `/api/units/${id}`, { status: 'available', position: pos(i, 0) }));
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
const page = await ctx.newPage();
await login(page, server.url, 'dispatcher');
await page.waitForFunction((n) => window.__jikimi.state.order.length >= n, N_INC, { timeout: 60000 });
console.log('console loaded the snapshot');

const dispatcher = await Api.login(server.url, 'dispatcher', 'e2e-staff-password');
let stop = false;
let positions = 0;
const avl = (async () => {
  let tick = 0;
  while (!stop) {
    const started = Date.now();
    tick++;
    await pool(unitIds, 64, (id, i) => dispatcher.call('POST', `/api/units/${id}/position`, pos(i, tick)).then(() => { positions++; }));
    const wait = 1000 - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
})();

const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');
const metric = async () => {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
};
await new Promise((r) => setTimeout(r, 2000)); // let the AVL load reach steady state
const m0 = await metric();
const h0 = await page.evaluate(() => ({ apply: window.__jikimi.applyMs, events: window.__jikimi.events }));
const w0 = Date.now();
const p0 = positions;

const sent = [];
const alertEvery = 250;
const n = Math.floor((SECONDS * 1000) / alertEvery);
for (let i = 0; i < n; i++) {
  const d = devices[i % devices.length];
  const before = Date.now();
  const ans = await d.alert(server.url, { lat: CENTRE.lat + (i % 10) / 2000, lon: CENTRE.lon - (i % 7) / 2000, priority: i % 5 });
  sent.push({ id: ans.incident_id, before, accepted: Date.now() });
  const wait = alertEvery - (Date.now() - before);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await new Promise((r) => setTimeout(r, 1500));
const m1 = await metric();
const h1 = await page.evaluate(() => ({ apply: window.__jikimi.applyMs, events: window.__jikimi.events }));
const wall = (Date.now() - w0) / 1000;
const seen = await page.evaluate((ids) => ids.map((id) => window.__jikimi.seen.get(id) ?? null), sent.map((s) => s.id));
stop = true;
await avl;

const fromAccept = [];
const fromSend = [];
let missing = 0;
sent.forEach((s, i) => {
  if (seen[i] === null) { missing++; return; }
  fromAccept.push(Math.max(0, seen[i] - s.accepted));
  fromSend.push(seen[i] - s.before);
});
const taskMsPerS = ((m1.TaskDuration - m0.TaskDuration) * 1000) / wall;
const scriptMsPerS = ((m1.ScriptDuration - m0.ScriptDuration) * 1000) / wall;
const applyMsPerS = (h1.apply - h0.apply) / wall;
console.log(JSON.stringify({
  incidents_open: N_INC, units: N_UNITS, window_s: Number(wall.toFixed(1)),
  positions_per_s: Number(((positions - p0) / wall).toFixed(0)),
  events_applied_per_s: Number(((h1.events - h0.events) / wall).toFixed(0)),
  alerts: sent.length, alerts_missing: missing,
  accept_to_dom_ms: { p50: pct(fromAccept, 50), p95: pct(fromAccept, 95), max: Math.max(...fromAccept) },
  send_to_dom_ms: { p50: pct(fromSend, 50), p95: pct(fromSend, 95) },
  main_thread_ms_per_s: { all_tasks: Number(taskMsPerS.toFixed(1)), script: Number(scriptMsPerS.toFixed(1)), applying_events: Number(applyMsPerS.toFixed(1)) },
}, null, 2));
await chrome.close();
await server.dispose();
process.exit(0);
