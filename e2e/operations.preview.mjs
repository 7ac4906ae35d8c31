// Development aid, not a test: the joint operations view rendered from the console's files on disk in Chromium, with
// the API answered from a fixture (the scenario of operations.test.mjs: four agencies, ten tasks, targets from a
// shared case, log entries, a day of action in two days), so layout and flows can be looked at without a `jikimi`
// binary. `node operations.preview.mjs [en|ko] [flows]` writes screenshots/operations-preview-<lang>.png; `flows`
// also drives every dialog with the keyboard and runs axe on each. Never used for a reported figure; the e2e test
// against real nodes is the check.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, SHOTS, chromiumPath } from './lib.mjs';
import { chromium } from 'playwright-core';

const DIR = path.join(ROOT, 'crates', 'server', 'console');
const LOC = path.join(ROOT, 'crates', 'i18n', 'locales');
const labels = (lang) => {
  const out = {};
  for (const line of fs.readFileSync(path.join(LOC, lang, 'console.ftl'), 'utf8').split('\n')) {
    const m = line.match(/^console-([A-Za-z0-9_-]+) = (.*)$/);
    if (m) out[m[1]] = m[2];
  }
  return out;
};
const hex = (n) => n.toString(16).padStart(2, '0').repeat(32);
const A = hex(1), B = hex(2), C = hex(3), D = hex(4);
const now = Date.now();
const iso = (ms) => new Date(ms).toISOString();
const H = 3600e3, DAY = 24 * H;
const agencies = [
  { id: A, name: 'KNPA', country: 'KR' }, { id: B, name: 'Royal Thai Police', country: 'TH' },
  { id: C, name: 'Cambodian National Police', country: 'KH' }, { id: D, name: 'AFP', country: 'AU' },
];
const OP = '0193a000-0000-7000-8000-000000000001';
const CASE = '0193a000-0000-7000-8000-0000000000ca';
const uid = (() => { let i = 0; return () => `0193a000-0000-7000-8000-${String(++i).padStart(12, '0')}`; })();
const events = [];
const seqs = {};
function ev(origin, change, extra, minutesAgo, parts) {
  seqs[origin] = (seqs[origin] ?? 0) + 1;
  events.push({
    event: { head: { body: { protocol: 'x', operation: OP, origin, seq: seqs[origin], at: iso(now - minutesAgo * 60e3), marking: { tlp: 'TLP:AMBER', handling: 'H0' }, change, ...extra }, signature: 'ab'.repeat(64) }, parts: parts ?? {} },
    digest: uid(), applied: events.length + 1,
  });
  return { origin, seq: seqs[origin], at: iso(now - minutesAgo * 60e3) };
}
const day = iso(now + 2 * DAY + 6 * H + 15 * 60e3);
ev(A, 'create', { title: 'Operation Lantern — Sihanoukville scam compound' }, 300);
ev(B, 'join', { legal_basis: 'Mutual Assistance in Criminal Matters Act B.E. 2535, s. 9' }, 290);
ev(C, 'join', { legal_basis: 'Law on Mutual Legal Assistance in Criminal Matters (2020), art. 12' }, 280);
ev(D, 'join', { legal_basis: 'AFP Act 1979, s. 8(1)(bf)' }, 270);
const tasks = {};
function task(owner, kind, juris, days, desc, status = 'planned', consent = owner === juris ? 'not_needed' : 'pending', reason) {
  const id = uid();
  const e = ev(owner, 'task', { task: id, kind, jurisdiction: juris, deadline: iso(now + days * DAY) }, 200);
  tasks[id] = { id, owner, seq: e.seq, kind, jurisdiction: juris, deadline: iso(now + days * DAY), status, consent, ...(reason ? { reason } : {}), description: desc };
  return id;
}
task(A, 'freeze_request', A, 1, 'Freeze 3 mule accounts at Kookmin Bank (KRW 412 m) before the day of action', 'done');
task(A, 'surveillance', A, 2, "Monitor the recruiter's Telegram channel and job ads on Korean sites", 'in_progress');
task(A, 'arrest', C, 2.3, 'Arrest PARK Ji-hoon at the Golden Lotus compound, block C, with KNP officers', 'planned', 'accepted');
task(A, 'surveillance', C, 1.5, "Place a GPS tracker on the recruiter's vehicle", 'planned', 'refused', 'Needs a Cambodian court warrant: KNP will place it under its own warrant');
task(B, 'rescue', B, 2.4, 'Receive and shelter rescued Thai nationals at the Poipet–Aranyaprathet crossing');
task(B, 'search', B, 2.3, 'Search the Bangkok safe house in Huai Khwang used to move recruits');
task(B, 'surveillance', A, 1.2, 'Observe the cash courier arriving at Incheon T1 on TG 658');
task(B, 'arrest', A, 1.4, 'Arrest the courier on arrival and seize the cash (approx. KRW 180 m)', 'planned', 'accepted');
task(C, 'rescue', C, 2.26, 'Raid the compound with the gendarmerie and free about 40 workers held there', 'in_progress');
task(C, 'search', C, 2.3, 'Seize servers, phones and SIM banks in blocks B and C');
const log = [];
for (const [o, text, m] of [
  [B, 'Informant: 12 Thai nationals moved to block C last night; guards armed.', 120],
  [C, 'Gendarmerie unit briefed; compound perimeter under observation from 06:00.', 90],
  [A, 'Kookmin Bank confirms the 3 accounts; preservation orders served 09:40 KST.', 60],
  [A, 'Courier confirmed on TG 658 passenger list; Incheon airport police team ready at gate 12.', 2],
]) {
  const e = ev(o, 'log', { entry: uid() }, m);
  log.push({ entry: uid(), origin: o, seq: e.seq, at: e.at, text });
}
const targets = {};
for (const [o, kind, entity, src] of [
  [A, 'person', { type: 'person', name: 'PARK Ji-hoon', born: '1987-05-14', nationality: 'KR', passport: 'M48213377' }, CASE],
  [A, 'company', { type: 'company', name: 'Golden Lotus Technology Co., Ltd.', country: 'KH', registration: '00041877' }, CASE],
  [A, 'crypto_wallet', { type: 'crypto_wallet', wallet: { chain: 'tron', address: 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t' } }, CASE],
  [B, 'bank_account', { type: 'bank_account', bank: 'Kasikornbank', country: 'TH', account: '1234567890' }, null],
]) {
  const id = uid();
  const e = ev(o, 'target', { target: id, kind }, 150);
  targets[id] = { id, kind, source_case: src, origin: o, seq: e.seq, entity: { id, ...entity } };
}
const view = {
  id: OP, title: 'Operation Lantern — Sihanoukville scam compound', lead: A, created_at: iso(now - 300 * 60e3), agreements: [],
  participants: {
    [A]: { participant: { agency: A, role: 'lead', legal_basis: 'Act on International Judicial Mutual Assistance in Criminal Matters, art. 5' }, joined: true },
    [B]: { participant: { agency: B, role: 'participant', legal_basis: 'Mutual Assistance in Criminal Matters Act B.E. 2535, s. 9' }, joined: true },
    [C]: { participant: { agency: C, role: 'participant', legal_basis: 'Law on Mutual Legal Assistance in Criminal Matters (2020), art. 12' }, joined: true },
    [D]: { participant: { agency: D, role: 'observer', legal_basis: 'AFP Act 1979, s. 8(1)(bf)' }, joined: true },
  },
  day_of_action: day, targets, tasks, log, heads: {},
};
const view2 = { ...view, id: uid(), title: 'Operation Blue Harbour — crypto ATM network', day_of_action: null, tasks: {}, targets: {}, log: [] };
const routes = {
  '/api/console/config': { time_zone: 'Asia/Seoul' },
  '/api/auth/login': { token: 'tok', role: 'supervisor' },
  '/api/auth/me': { username: 'supervisor', role: 'supervisor', permissions: ['read_operations', 'change_operations', 'cooperate', 'joint_operations', 'request_freeze'] },
  '/api/map/base': { source: 'x', roads: [], districts: [] },
  '/api/incidents': [], '/api/units': [],
  '/api/exchange/agency': agencies[0], '/api/exchange/peers': agencies.slice(1),
  '/api/exchange/records': [{ id: CASE, origin: A, category: 'human_trafficking', marking: { tlp: 'TLP:AMBER' }, updated_at: iso(now), body: { kind: 'case', title: 'Sihanoukville compound: recruitment of Korean nationals', entities: [] } }],
  '/api/operations': [view, view2],
  [`/api/operations/${OP}`]: { view, events },
  [`/api/exchange/cases/${CASE}`]: [{ id: CASE, origin: A, category: 'human_trafficking', marking: { tlp: 'TLP:AMBER' }, updated_at: iso(now), body: { kind: 'case', title: 'Sihanoukville compound', summary: 'Victims recruited with fake IT jobs.', entities: [targets[Object.keys(targets)[0]].entity] } }],
  [`/api/operations/${OP}/export`]: { body: { events: events.map((e) => e.event), refused: [] }, signature: 'cd'.repeat(64) },
  '/api/exchange/agreements': [{ id: 'ag1', title: 'KR-TH mutual assistance', parties: [A, B], valid_from: iso(now - DAY), expires_at: iso(now + 300 * DAY), revoked_at: null }],
};
const posts = [];

const lang = process.argv[2] ?? 'en';
// The live feed stays open (a real server's hello), so the top bar reads "live" as on a real node.
const http = await import('node:http');
const sse = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('event: hello\ndata: {"resync":false}\n\n');
});
await new Promise((r) => sse.listen(0, '127.0.0.1', r));
const ORIGIN = `http://127.0.0.1:${sse.address().port}`;
const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--headless'] });
const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'en-GB' });
await ctx.route('**/*', (route) => {
  const url = new URL(route.request().url());
  const p = url.pathname;
  if (p === '/' || p.startsWith('/console/')) {
    const file = p === '/' ? 'index.html' : p.slice(9);
    const type = { html: 'text/html', js: 'text/javascript', css: 'text/css' }[file.split('.').pop()];
    return route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(path.join(DIR, file)) });
  }
  if (p.startsWith('/api/console/i18n/')) return route.fulfill({ json: { language: p.slice(18), labels: labels(p.slice(18)) } });
  if (p === '/api/live') return route.continue();
  if (route.request().method() === 'POST' && p.startsWith('/api/operations')) {
    posts.push([p, route.request().postDataJSON()]);
    return route.fulfill({ status: 201, json: { view, events } });
  }
  if (p in routes) return route.fulfill({ json: routes[p] });
  return route.fulfill({ status: 404, json: { error: { code: 'record_not_found', message: p } } });
});
const page = await ctx.newPage();
page.on('pageerror', (e) => console.error('pageerror', e.message));
page.on('console', (m) => m.type() === 'error' && console.error('console', m.text()));
await page.goto(ORIGIN + '/');
await page.evaluate((l) => localStorage.setItem('jikimi.lang', l), lang);
await page.goto(ORIGIN + '/');
await page.fill('#login-user', 'supervisor');
await page.fill('#login-pass', 'x');
await page.click('#login-form button[type=submit]');
await page.waitForSelector('#ops-button:not([hidden])');
await page.keyboard.press('o');
await page.waitForSelector('#op-detail-title');
await page.waitForTimeout(500);
await page.screenshot({ path: path.join(SHOTS, `operations-preview-${lang}.png`) });
const source = fs.readFileSync(path.join(ROOT, 'e2e', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
await page.evaluate(source);
const r = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
console.log(r.violations.map((v) => `${v.id} ${v.impact}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`).join('\n') || 'axe clean');
if (process.argv[3] === 'flows') {
  const ax = async (what) => {
    await page.evaluate(source);
    const r2 = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
    console.log(what, r2.violations.filter((v) => ['serious', 'critical'].includes(v.impact)).map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`).join('\n') || 'axe clean');
  };
  await page.keyboard.press('t');
  await page.waitForSelector('#dialog[open]');
  await ax('task dialog');
  await page.screenshot({ path: path.join(SHOTS, 'operations-preview-task.png') });
  await page.fill('#op-f-desc', 'Test task');
  await page.keyboard.press('Control+Enter');
  await page.waitForTimeout(300);
  await page.keyboard.press('n');
  await page.waitForSelector('#dialog[open]');
  await page.keyboard.type('log text');
  await page.keyboard.press('Control+Enter');
  await page.waitForTimeout(300);
  await page.keyboard.press('b');
  await page.keyboard.press('a');
  await page.waitForTimeout(300);
  await page.keyboard.press('r');
  await page.waitForSelector('#dialog[open]');
  await page.keyboard.type('no warrant');
  await page.keyboard.press('Control+Enter');
  await page.waitForTimeout(300);
  await page.keyboard.press('d');
  await page.waitForSelector('#dialog[open]');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('x')]);
  console.log('download', await dl.suggestedFilename());
  await page.click('[data-fk^="case:"]');
  await page.waitForSelector('#dialog[open] .ops-case');
  await ax('case dialog');
  await page.keyboard.press('Escape');
  await page.keyboard.press('c');
  await page.waitForSelector('#dialog[open] .ops-checks');
  await ax('new op dialog');
  await page.screenshot({ path: path.join(SHOTS, 'operations-preview-new.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await page.waitForSelector('#help[open]');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(300);
  console.log('after esc: ops hidden', await page.evaluate(() => document.getElementById('ops-view').hidden), 'focus', await page.evaluate(() => document.activeElement.id));
  console.log('help restored:', await page.evaluate(() => document.getElementById('help-list').textContent.slice(0, 40)));
  for (const [p, b] of posts) console.log('POST', p, JSON.stringify(b));
}
await browser.close();
sse.closeAllConnections();
sse.close();
