// The benchmark's AVL load: U units each reporting a position once a second, as a worker thread so the sending never
// competes with the main script's alert timing. Each unit reports at its own phase within the second (unit i at
// i/U of it), as real vehicles do, rather than all at once.
//
// mode 'batch' (default): as an AVL gateway would, every BATCH_MS the reports that fell due are sent together to
//   POST /api/positions (one request and one database commit per batch).
// mode 'single': one POST /api/units/{id}/position per report over a pool of keep-alive connections.
//
// Counts the positions the server accepted (2xx; for batches, the units in the answer), failures, and reports that
// could not be sent on time (the unit's previous one, or too many requests, still in flight), so the bench can
// state the rate it really achieved.

import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { unitPosition as pos } from './lib.mjs';

const { url, token, units, mode = 'batch', inFlight = mode === 'batch' ? 8 : 128 } = workerData;
const BATCH_MS = 100;
const base = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
const ids = Array.from({ length: units }, (_, i) => `B-${1000 + i}`);

let ok = 0;
let failed = 0;
let skipped = 0;
let active = 0;
const busy = new Uint8Array(units);
let stop = false;

function post(path, payload, done) {
  const body = JSON.stringify(payload);
  active++;
  const req = http.request({
    host: base.hostname, port: base.port, method: 'POST', path, agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      active--;
      done(res.statusCode, Buffer.concat(chunks).toString());
    });
  });
  req.on('error', () => { active--; done(0, ''); });
  req.end(body);
}

function sendOne(i, t) {
  if (busy[i] || active >= inFlight) {
    skipped++;
    return;
  }
  busy[i] = 1;
  post(`/api/units/${ids[i]}/position`, pos(i, t), (status) => {
    busy[i] = 0;
    if (status >= 200 && status < 300) ok++; else failed++;
  });
}

function sendBatch(due) {
  if (!due.length) return;
  if (active >= inFlight) {
    skipped += due.length;
    return;
  }
  const positions = due.map(([i, t]) => ({ unit: ids[i], ...pos(i, t) }));
  post('/api/positions', { positions }, (status, text) => {
    if (status === 200) {
      const n = JSON.parse(text).units.length;
      ok += n;
      failed += due.length - n;
    } else {
      failed += due.length;
    }
  });
}

parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ ok, failed, skipped, at: Date.now() });
  if (m === 'stop') {
    stop = true;
    agent.destroy();
    parentPort.postMessage({ ok, failed, skipped, at: Date.now(), stopped: true });
  }
});

// Every few ms, send what fell due since the last pass: report k of the sequence (second k / U, unit k % U) is due
// at whole seconds plus (k % U) / U of a second.
const start = Date.now();
const dueAt = (k) => Math.floor(k / units) * 1000 + ((k % units) * 1000) / units;
let next = 0;
let lastBatch = 0;
let due = [];
while (!stop) {
  const now = Date.now() - start;
  while (dueAt(next) <= now) {
    const i = next % units;
    const t = Math.floor(next / units);
    if (mode === 'batch') due.push([i, t]); else sendOne(i, t);
    next++;
  }
  if (mode === 'batch' && now - lastBatch >= BATCH_MS) {
    sendBatch(due);
    due = [];
    lastBatch = now;
  }
  await new Promise((r) => setTimeout(r, 5));
}
