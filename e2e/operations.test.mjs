// End-to-end test of the console's joint operations view (issue 23, part 4) in Debian's headless Chromium against four
// real federated `jikimi serve` nodes: A (KNPA, Korea) leads an operation with B (Royal Thai Police) and C (Cambodian
// National Police) as participants and D (Australian Federal Police) as observer, under a KR-TH agreement sharing
// every field and a regional one sharing no personal field. Changes go through each node's API and travel by the
// federation push. In A's console, opened with the keyboard: a task B proposes in Korea's territory appears live
// (the view polls every 2 s) in the consent column; A's liaison officer accepts it with the keyboard only and B's node
// holds the consent; a log entry written at A reaches B; the countdown to the day of action ticks; the court bundle
// downloads signed. Buttons appear only where the rules allow. axe-core in English and Korean. Screenshots in
// e2e/screenshots/; with JIKIMI_UPDATE_DOCS_SHOT=1 the English one also to docs/operations-console.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Api, PASSWORD, ROOT, Server, axe, consoleFromDisk, jikimiBin, launch, login, seed, shot } from './lib.mjs';

const WALLET = 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t';
const HOUR = 3600e3;
const DAY = 24 * HOUR;

function cli(server, args) {
  return JSON.parse(execFileSync(jikimiBin(), args, { env: server.env, cwd: server.dir, encoding: 'utf8' }));
}

async function eventually(what, f, ms = 15000) {
  const start = Date.now();
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('joint operations view', () => {
  const nodes = {};
  const ids = {};
  const liaison = {};
  let chrome;
  let op;
  let caseId;

  const change = (n, body) => liaison[n].call('POST', `/api/operations/${op}/events`, body);
  const viewAt = (n) => liaison[n].call('GET', `/api/operations/${op}`).then((h) => h.view);
  const task = async (n, kind, where, days, description) => {
    const ev = await change(n, { change: 'task', kind, jurisdiction: where, deadline: new Date(Date.now() + days * DAY).toISOString(), description });
    return ev.head.body.task;
  };

  before(async () => {
    const spec = { a: ['KNPA', 'KR'], b: ['Royal Thai Police', 'TH'], c: ['Cambodian National Police', 'KH'], d: ['AFP', 'AU'] };
    for (const n of Object.keys(spec)) {
      nodes[n] = new Server();
      await nodes[n].start();
      await seed(nodes[n], { units: 1 });
    }
    for (const [n, [name, country]] of Object.entries(spec)) {
      ids[n] = cli(nodes[n], ['agency', 'init', '--name', name, '--country', country, '--endpoint', nodes[n].url]).id;
    }
    for (const x of Object.keys(nodes)) {
      for (const y of Object.keys(nodes)) if (x !== y) cli(nodes[x], ['peer', 'add', '--endpoint', nodes[y].url]);
    }
    const agreement = (others, args) => {
      const a = cli(nodes.a, ['agreement', 'create', ...args, ...others.flatMap((o) => ['--party', ids[o]])]);
      const file = path.join(nodes.a.dir, `${a.id}.json`);
      fs.writeFileSync(file, JSON.stringify(a));
      for (const o of others) cli(nodes[o], ['agreement', 'import', file]);
      return a.id;
    };
    const kt = agreement(['b'], ['--title', 'KR-TH mutual assistance', '--category', 'human_trafficking', '--fields', 'all',
      '--purpose', 'joint operation against forced-scam compounds']);
    const region = agreement(['b', 'c', 'd'], ['--title', 'Mekong scam-compound taskforce', '--category', 'human_trafficking',
      '--fields', 'non-personal', '--purpose', 'regional taskforce']);
    for (const n of Object.keys(nodes)) liaison[n] = await Api.login(nodes[n].url, 'supervisor', PASSWORD);

    // A's shared case the targets come from.
    const person = { type: 'person', id: crypto.randomUUID(), name: 'PARK Ji-hoon', nationality: 'KR', born: '1987-05-14', passport: 'M48213377' };
    const company = { type: 'company', id: crypto.randomUUID(), name: 'Golden Lotus Technology Co., Ltd.', country: 'KH', registration: '00041877' };
    const wallet = { type: 'crypto_wallet', id: crypto.randomUUID(), wallet: { chain: 'tron', address: WALLET } };
    const kase = await liaison.a.call('POST', '/api/exchange/cases', {
      category: 'human_trafficking',
      content: {
        title: 'Sihanoukville compound: recruitment of Korean nationals for romance scams',
        summary: 'Victims recruited with fake IT jobs, held in compound block C, forced to run romance and investment scams.',
        entities: [person, company, wallet], events: [], attachments: [],
      },
    });
    caseId = kase.id;

    const held = await liaison.a.call('POST', '/api/operations', {
      title: 'Operation Lantern — Sihanoukville scam compound',
      agreements: [kt, region],
      legal_basis: 'Act on International Judicial Mutual Assistance in Criminal Matters, art. 5; KR-KH MLAT',
      participants: [{ agency: ids.b }, { agency: ids.c }, { agency: ids.d, role: 'observer' }],
      day_of_action: new Date(Date.now() + 2 * DAY + 6 * HOUR + 15 * 60e3).toISOString(),
    });
    op = held.view.id;
    for (const n of ['b', 'c', 'd']) await eventually(`the operation at ${n}`, () => viewAt(n));
    await change('b', { change: 'join', legal_basis: 'Mutual Assistance in Criminal Matters Act B.E. 2535, s. 9' });
    await change('c', { change: 'join', legal_basis: 'Law on Mutual Legal Assistance in Criminal Matters (2020), art. 12' });
    await change('d', { change: 'join', legal_basis: 'Australian Federal Police Act 1979, s. 8(1)(bf): assistance to foreign law enforcement' });
    await eventually('the joins at A', async () => Object.values((await viewAt('a')).participants).every((m) => m.joined));

    for (const entity of [person, company, wallet]) await change('a', { change: 'target', entity, source_case: caseId });
    await change('b', { change: 'target', entity: { type: 'bank_account', id: crypto.randomUUID(), bank: 'Kasikornbank', country: 'TH', account: '123-4-56789-0' } });

    const freeze = await task('a', 'freeze_request', 'KR', 1, 'Freeze 3 mule accounts at Kookmin Bank (KRW 412 m) before the day of action');
    const watch = await task('a', 'surveillance', 'KR', 2, 'Monitor the recruiter\'s Telegram channel and job ads on Korean sites');
    const arrest = await task('a', 'arrest', 'KH', 2.3, 'Arrest PARK Ji-hoon at the Golden Lotus compound, block C, with KNP officers');
    const tracker = await task('a', 'surveillance', 'KH', 1.5, 'Place a GPS tracker on the recruiter\'s vehicle');
    await task('b', 'rescue', 'TH', 2.4, 'Receive and shelter rescued Thai nationals at the Poipet–Aranyaprathet crossing');
    await task('b', 'search', 'TH', 2.3, 'Search the Bangkok safe house in Huai Khwang used to move recruits');
    const raid = await task('c', 'rescue', 'KH', 2.26, 'Raid the compound with the gendarmerie and free about 40 workers held there');
    await task('c', 'search', 'KH', 2.3, 'Seize servers, phones and SIM banks in blocks B and C');
    await eventually('the tasks at C', async () => Object.keys((await viewAt('c')).tasks).length === 8);
    await change('c', { change: 'consent', task: arrest, accept: true });
    await change('c', { change: 'consent', task: tracker, accept: false, reason: 'Needs a Cambodian court warrant: KNP will place it under its own warrant' });
    await eventually('the consents at A', async () => (await viewAt('a')).tasks[arrest]?.consent === 'accepted');
    await change('a', { change: 'task_status', task: freeze, status: 'done' });
    await change('a', { change: 'task_status', task: watch, status: 'in_progress' });
    await change('c', { change: 'task_status', task: raid, status: 'in_progress' });
    await change('b', { change: 'log', text: 'Informant: 12 Thai nationals moved to block C last night; guards armed.' });
    await change('c', { change: 'log', text: 'Gendarmerie unit briefed; compound perimeter under observation from 06:00.' });
    await change('a', { change: 'log', text: 'Kookmin Bank confirms the 3 accounts; preservation orders served 09:40 KST.' });
    await task('b', 'surveillance', 'KR', 1.2, 'Observe the cash courier arriving at Incheon T1 on TG 658');
    await eventually('B\'s first Korean task at A', async () => Object.values((await viewAt('a')).tasks).some((x) => x.owner === ids.b && x.jurisdiction === ids.a));
    chrome = await launch();
  });

  after(async () => {
    await chrome?.close();
    for (const n of Object.values(nodes)) await n.dispose();
  });

  async function page(n) {
    const ctx = await chrome.browser.newContext({ viewport: { width: 1920, height: 1080 }, bypassCSP: true, locale: 'en-GB', acceptDownloads: true });
    await consoleFromDisk(ctx);
    const p = await ctx.newPage();
    p.on('pageerror', (err) => console.error('page error:', err.message));
    await p.goto(nodes[n].url + '/');
    await p.evaluate(() => localStorage.setItem('jikimi.lang', 'en'));
    await login(p, nodes[n].url, 'supervisor');
    return p;
  }

  // Tabs from the focused element until `fk` holds focus (keyboard only); fails after 60 presses.
  async function tabTo(p, fk) {
    for (let i = 0; i < 60; i++) {
      if (await p.evaluate((k) => document.activeElement?.dataset?.fk === k, fk)) return;
      await p.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached ${fk}`);
  }

  test('a task B proposes in Korea appears live at A, whose officer accepts it with the keyboard', async () => {
    const pa = await page('a');
    await pa.waitForSelector('#ops-button:not([hidden])');
    await pa.keyboard.press('o');
    await pa.waitForSelector('#op-detail-title');
    assert.match(await pa.textContent('#op-detail-title'), /Operation Lantern/);
    assert.match(await pa.textContent('.ops-board'), /Royal Thai Police/);
    // Where the rules allow: A accepts only tasks in Korea proposed by others, changes only its own tasks.
    const pending = await pa.$$eval('[data-fk^="accept:"]', (bs) => bs.length);
    assert.equal(pending, 1, 'one task of B awaits our consent');
    const ownStatusButtons = await pa.$$eval('.ops-task', (cards) => cards.filter((c) => c.querySelector('[data-fk^="status:"]')).map((c) => c.getAttribute('aria-label')));
    assert.ok(ownStatusButtons.length >= 2 && ownStatusButtons.every((l) => l.endsWith('KNPA')), ownStatusButtons.join());
    assert.deepEqual(await axe(pa), [], 'axe on the operation');

    // The countdown ticks.
    const c1 = await pa.textContent('.ops-big');
    await pa.waitForTimeout(1100);
    const c2 = await pa.textContent('.ops-big');
    assert.match(c1, /^T− 2d 0[56]:\d\d:\d\d$/);
    assert.notEqual(c1, c2);

    // B proposes a task in Korea's territory: it appears in A's console in the consent column.
    const t0 = Date.now();
    const courier = await task('b', 'arrest', 'KR', 1.4, 'Arrest the courier on arrival and seize the cash (approx. KRW 180 m)');
    await pa.waitForSelector(`[data-task="${courier}"] [data-fk="accept:${courier}"]`, { timeout: 15000 });
    const seenMs = Date.now() - t0;
    console.log(`B's task visible in A's console after ${seenMs} ms (push + 2 s poll)`);
    assert.match(await pa.textContent(`td.col-pending [data-task="${courier}"]`), /awaits consent of KNPA/);

    // Keyboard only: B to the board, Tab to the task's Accept, Enter.
    await pa.keyboard.press('b');
    await tabTo(pa, `accept:${courier}`);
    await pa.keyboard.press('Enter');
    await pa.waitForSelector(`td.col-planned [data-task="${courier}"]`);
    assert.match(await pa.textContent(`[data-task="${courier}"]`), /accepted by KNPA/);
    await eventually('A\'s consent at B', async () => (await viewAt('b')).tasks[courier]?.consent === 'accepted');

    // A situation log entry with the keyboard (N, type, Ctrl+Enter) reaches B.
    await pa.keyboard.press('n');
    await pa.keyboard.type('Courier confirmed on TG 658 passenger list; Incheon airport police team ready at gate 12.');
    await pa.keyboard.press('Control+Enter');
    await pa.waitForFunction(() => document.querySelector('.ops-timeline')?.textContent.includes('gate 12'));
    await eventually('the log entry at B', async () => (await viewAt('b')).log.some((l) => String(l.text).includes('gate 12')));
    assert.deepEqual(await axe(pa), [], 'axe after the changes');

    const file = await shot(pa, 'operations-01-lead');
    if (process.env.JIKIMI_UPDATE_DOCS_SHOT === '1') fs.copyFileSync(file, path.join(ROOT, 'docs', 'operations-console.png'));

    // The target's case opens from the targets table.
    await tabTo(pa, `case:${(await pa.getAttribute('[data-fk^="case:"]', 'data-fk')).slice(5)}`);
    await pa.keyboard.press('Enter');
    await pa.waitForSelector('#dialog[open] .ops-case');
    assert.match(await pa.textContent('#dialog'), /Sihanoukville compound/);
    await pa.keyboard.press('Escape');

    // The signed court bundle downloads (X).
    const [download] = await Promise.all([pa.waitForEvent('download'), pa.keyboard.press('x')]);
    const bundle = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert.equal(bundle.body.operation, op);
    assert.ok(bundle.body.events.length > 20 && /^[0-9a-f]{128}$/.test(bundle.signature));

    // Korean.
    await pa.keyboard.press('l');
    await pa.waitForFunction(() => document.querySelector('#ops-title')?.textContent.includes('국제 공조 작전'));
    assert.match(await pa.textContent('.ops-board'), /동의: KNPA/);
    assert.deepEqual(await axe(pa), [], 'axe in Korean');
    await shot(pa, 'operations-02-lead-ko');
    await pa.keyboard.press('l');

    // Escape returns to the queue, focus on the view's button.
    await pa.keyboard.press('Escape');
    await pa.waitForSelector('#ops-view', { state: 'hidden' });
    assert.equal(await pa.evaluate(() => document.activeElement?.id), 'ops-button');
  });

  test('B\'s officer sees A\'s consent; the observer D gets no buttons to change anything', async () => {
    const pb = await page('b');
    await pb.click('#ops-button');
    await pb.waitForSelector('#op-detail-title');
    await pb.waitForFunction(() => document.querySelectorAll('.ops-task .ops-consent.ok').length >= 2);
    assert.match(await pb.textContent('.ops-board'), /accepted by KNPA/);
    assert.deepEqual(await axe(pb), [], 'axe at B');
    await shot(pb, 'operations-03-participant');

    const pd = await page('d');
    await pd.click('#ops-button');
    await pd.waitForSelector('#op-detail-title');
    assert.equal(await pd.$('[data-fk="act-task"]'), null, 'observers propose no tasks');
    assert.equal(await pd.$('[data-fk^="status:"]'), null);
    assert.equal(await pd.$('[data-fk^="accept:"]'), null);
    // D's agreement shares no personal field: the person target is withheld there.
    assert.match(await pd.textContent('#ops-targets-title + table'), /withheld by the agreement/);
    assert.deepEqual(await axe(pd), [], 'axe at the observer');
  });
});
