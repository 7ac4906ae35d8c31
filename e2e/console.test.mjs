// End-to-end tests of the dispatcher console (issue 6) in Debian's headless Chromium against the real
// `jikimi serve`: login, live alerts in queue and map within 1 s, acknowledge, dispatch the recommended unit, unit
// status on the map, close with an outcome, an analyst sees no personal data, reconnect after a server restart,
// and axe-core on the main views. Each test leaves a screenshot in e2e/screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Api, CENTRE, Device, ROOT, Server, axe, consoleFromDisk, launch, login, seed, shot } from './lib.mjs';

describe('dispatcher console', () => {
  let server;
  let seeded;
  let chrome;
  let page;
  let incidentId;

  before(async () => {
    server = new Server();
    await server.start();
    seeded = await seed(server);
    chrome = await launch();
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 860 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
  });

  after(async () => {
    await chrome?.close();
    await server?.dispose();
  });

  test('login shows the console with a live connection and the base map', async () => {
    await page.goto(server.url + '/');
    // The login form is drawn once the labels of the browser's language have loaded: wait for it, do not sample.
    await page.waitForSelector('#login-form', { state: 'visible', timeout: 5000 });
    const loginViolations = await axe(page);
    assert.deepEqual(loginViolations, [], 'axe on the login view');
    await shot(page, '01-login');
    await login(page, server.url, 'dispatcher');
    assert.match(await page.textContent('#whoami'), /dispatcher/);
    assert.match(await page.textContent('#shortcut-bar'), /acknowledge/);
    await page.waitForFunction(() => window.__jikimi.map.drawn.units.size === 4);
    await shot(page, '02-console-empty');
  });

  test('an alert posted to the API appears in the queue and on the map within 1 s', async () => {
    const sent = Date.now();
    const answer = await seeded.device.alert(server.url, { lat: CENTRE.lat + 0.002, lon: CENTRE.lon + 0.001, priority: 0, accuracy: 80 });
    incidentId = answer.incident_id;
    await page.waitForSelector(`#queue li[data-id="${incidentId}"]`, { timeout: 1000 });
    await page.waitForFunction((id) => window.__jikimi.map.drawn.incidents.has(id), incidentId, { timeout: 1000 });
    const elapsed = Date.now() - sent;
    assert.ok(elapsed < 1000, `shown after ${elapsed} ms`);
    const row = page.locator(`#queue li[data-id="${incidentId}"]`);
    assert.match(await row.getAttribute('class'), /\bp0\b/, 'code 0 is highlighted');
    assert.match(await row.textContent(), /Code 0/);
    // A lower-priority alert sorts below the code 0 one.
    const second = await seeded.device.alert(server.url, { lat: CENTRE.lat - 0.003, lon: CENTRE.lon - 0.002, priority: 2 });
    await page.waitForSelector(`#queue li[data-id="${second.incident_id}"]`, { timeout: 1000 });
    const ids = await page.$$eval('#queue li', (lis) => lis.map((li) => li.dataset.id));
    assert.deepEqual(ids, [incidentId, second.incident_id]);
    await shot(page, '03-alert-in-queue');
  });

  test('select, reveal (audited), acknowledge with a keystroke, dispatch the recommended unit with one', async () => {
    await page.click(`#queue li[data-id="${incidentId}"] button`);
    await page.waitForSelector('#detail .recs tr:nth-child(2)');
    const recommended = (await page.textContent('#detail .recs tr:nth-child(2) td.mono')).trim();
    assert.equal(recommended, 'P-101', 'nearest unit first');
    assert.match(await page.textContent('#detail'), /ETA/);
    assert.match(await page.textContent('#detail'), /km/);
    // Personal data only after an explicit click, with a reason, audited.
    assert.equal(await page.locator('.pd-name').count(), 0);
    await page.click('#act-reveal');
    await page.click('#dialog-ok');
    await page.waitForSelector('.pd-name');
    assert.equal(await page.textContent('.pd-name'), '김하늘');
    // Each guardian shows the outbox status of the alert's notification (the seeded guardian has only SMS, which
    // no gateway sends, so it is pending or dead-lettered, and says so).
    assert.match(await page.textContent('.guardians'), /김보호.*Alert received: (pending|delivered|failed|dead-lettered)/s);
    const audit = await seeded.admin.call('GET', '/api/audit?limit=1000');
    const entries = Array.isArray(audit) ? audit : audit.entries;
    assert.ok(entries.some((e) => e.action === 'subscriber.revealed' && String(e.actor).includes('dispatcher')), 'reveal audited');
    await shot(page, '04-detail-revealed');

    await page.locator('body').press('a');
    await page.waitForSelector(`#queue li[data-id="${incidentId}"].s-acknowledged`, { timeout: 2000 });
    await page.locator('body').press('d');
    await page.waitForSelector(`#queue li[data-id="${incidentId}"].s-dispatched`, { timeout: 2000 });
    const inc = await seeded.admin.call('GET', `/api/incidents/${incidentId}`);
    assert.equal(inc.incident.assigned_unit, 'P-101');
    // The unit's status changes on the map.
    await page.waitForFunction(() => window.__jikimi.map.drawn.units.get('P-101') === 'dispatched', null, { timeout: 2000 });
    await page.waitForSelector('#detail .timeline li:has-text("Dispatched")');
    await shot(page, '05-dispatched');
  });

  test('en route, on scene, note, and close with an outcome', async () => {
    await page.locator('body').press('e');
    await page.waitForSelector(`#queue li[data-id="${incidentId}"].s-en_route`, { timeout: 2000 });
    await page.locator('body').press('s');
    await page.waitForSelector(`#queue li[data-id="${incidentId}"].s-on_scene`, { timeout: 2000 });
    await page.waitForFunction(() => window.__jikimi.map.drawn.units.get('P-101') === 'on_scene', null, { timeout: 2000 });
    await page.locator('body').press('n');
    await page.fill('#note-text', 'Subscriber found at the bus stop, safe.');
    await page.click('#dialog-ok');
    await page.waitForSelector('#detail .timeline li:has-text("bus stop")');
    await shot(page, '06-on-scene');
    await page.locator('body').press('c');
    await page.selectOption('#close-outcome', 'rescue');
    await page.click('#dialog-ok');
    await page.waitForSelector(`#queue li[data-id="${incidentId}"]`, { state: 'detached', timeout: 2000 });
    await page.waitForFunction(() => window.__jikimi.map.drawn.units.get('P-101') === 'available', null, { timeout: 2000 });
    const inc = await seeded.admin.call('GET', `/api/incidents/${incidentId}`);
    assert.equal(inc.incident.status, 'closed');
    assert.equal(inc.incident.outcome, 'rescue');
    await page.waitForSelector('#detail .timeline li:has-text("Closed")');
    await shot(page, '07-closed');
  });

  test('a duress PIN looks like a cancel to the caller but is flagged to the dispatcher, loudly', async () => {
    // A second subscriber with a PIN and a duress PIN.
    const device = new Device();
    await seeded.admin.call('POST', '/api/subscribers', {
      name: '이서준', phone: '010-2000-0002', pin: '2468', duress_pin: '1357',
      devices: [{ id: device.id, public_key: device.publicHex, kind: 'app' }],
    });
    const answer = await device.alert(server.url, { lat: CENTRE.lat + 0.001, lon: CENTRE.lon - 0.001, priority: 2 });
    const id = answer.incident_id;
    await page.waitForSelector(`#queue li[data-id="${id}"]`, { timeout: 1000 });
    const cancelled = await device.cancel(server.url, id, '1357');
    assert.equal(cancelled.status, 'cancelled', 'the caller is told it was cancelled');
    // The console gets the escalation live: still open, code 0, marked duress.
    const row = page.locator(`#queue li[data-id="${id}"]`);
    await page.waitForSelector(`#queue li[data-id="${id}"].duress`, { timeout: 1000 });
    assert.match(await row.getAttribute('class'), /\bp0\b/);
    assert.match(await row.textContent(), /DURESS/);
    await page.click(`#queue li[data-id="${id}"] button`);
    await page.waitForSelector('#detail .duress-banner');
    assert.match(await page.textContent('#detail .duress-banner'), /do not call the caller back/);
    await page.waitForSelector('#detail .timeline li:nth-child(2)');
    assert.match(await page.textContent('#detail'), /Escalated Code 0, duress PIN/);
    const violations = await axe(page);
    assert.deepEqual(violations, [], 'axe with a duress incident');
    await shot(page, '07b-duress');
  });

  test('Korean switch and axe-core on the main view', async () => {
    const second = await page.$eval('#queue li', (li) => li.dataset.id);
    await page.click(`#queue li[data-id="${second}"] button`);
    await page.waitForSelector('#detail .timeline li');
    const violations = await axe(page);
    assert.deepEqual(violations, [], 'axe on the console');
    await page.locator('body').press('l');
    assert.match(await page.textContent('#queue-title'), /사건 대기열/);
    assert.equal(await page.getAttribute('html', 'lang'), 'ko');
    await shot(page, '08-korean');
    const violationsKo = await axe(page);
    assert.deepEqual(violationsKo, [], 'axe on the Korean console');
    await page.locator('body').press('l');
    await page.keyboard.press('?');
    assert.equal(await page.isVisible('#help'), true);
    await shot(page, '09-shortcuts');
    await page.keyboard.press('Escape');
  });

  test('an analyst sees incidents but no personal data', async () => {
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 860 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    const analyst = await ctx.newPage();
    const revealCalls = [];
    analyst.on('request', (r) => { if (r.url().includes('/reveal')) revealCalls.push(r.url()); });
    await login(analyst, server.url, 'analyst');
    // The queue fills from the snapshot after login: wait for it rather than race it.
    await analyst.waitForSelector('#queue li', { timeout: 5000 });
    const id = await analyst.$eval('#queue li', (li) => li.dataset.id);
    await analyst.click(`#queue li[data-id="${id}"] button`);
    await analyst.waitForSelector('#detail .timeline li');
    const text = await analyst.textContent('body');
    for (const personal of ['김하늘', '010-2000-0001', '세종대로', '김보호', '010-3000-0000']) {
      assert.ok(!text.includes(personal), `analyst sees ${personal}`);
    }
    assert.equal(await analyst.locator('#act-reveal').count(), 0);
    assert.match(await analyst.textContent('#detail'), /does not show personal data/);
    assert.equal(await analyst.locator('#act-ack').isDisabled(), true);
    await analyst.locator('body').press('r');
    await analyst.waitForTimeout(200);
    assert.deepEqual(revealCalls, []);
    // The server refuses as well.
    const api = await Api.login(server.url, 'analyst', 'e2e-staff-password');
    await assert.rejects(api.call('POST', `/api/subscribers/${seeded.subscriberId}/reveal`, { reason: 'curious' }), /403/);
    await shot(analyst, '10-analyst');
    await ctx.close();
  });

  test('after a server restart the console reconnects and shows what happened meanwhile', async () => {
    // Keep the console away from the feed until the changes below are made, so they can only arrive by catch-up.
    await page.route('**/api/live', (route) => route.abort());
    await server.stop();
    await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('down'), null, { timeout: 5000 });
    await shot(page, '11-disconnected');
    await server.start();
    // Changes made while the console is disconnected.
    const disp = await Api.login(server.url, 'dispatcher', 'e2e-staff-password');
    const meanwhile = await seeded.device.alert(server.url, { lat: CENTRE.lat + 0.006, lon: CENTRE.lon - 0.004, priority: 1 });
    await disp.call('POST', '/api/units/P-104/status', { status: 'off_duty' });
    await page.unroute('**/api/live');
    await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('ok'), null, { timeout: 10000 });
    await page.waitForSelector(`#queue li[data-id="${meanwhile.incident_id}"]`, { timeout: 5000 });
    await page.waitForFunction(() => window.__jikimi.map.drawn.units.get('P-104') === 'off_duty', null, { timeout: 5000 });
    // And live events flow again after the catch-up.
    const live = await seeded.device.alert(server.url, { lat: CENTRE.lat - 0.006, lon: CENTRE.lon + 0.004, priority: 3 });
    await page.waitForSelector(`#queue li[data-id="${live.incident_id}"]`, { timeout: 1000 });
    const file = await shot(page, '12-reconnected');
    fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    if (process.env.JIKIMI_UPDATE_DOCS_SHOT === '1') fs.copyFileSync(file, path.join(ROOT, 'docs', 'console.png'));
  });
});
