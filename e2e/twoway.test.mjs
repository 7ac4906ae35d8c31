// End-to-end test of silent two-way text (issue 21, part 5) in Debian's headless Chromium against the real
// `jikimi serve`: the dispatcher asks from the console (keyboard: Q), a simulated device (a phone-sized Chromium
// page driven by the device's signed poll and answer requests) shows the question silently and the test taps an
// answer; question and answer appear in the console's timeline. The duress variant: after a duress PIN the device
// shows the neutral wording, with nothing about police. Screenshots go to e2e/screenshots/ and docs/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CENTRE, Device, ROOT, Server, axe, consoleFromDisk, launch, login, seed, shot } from './lib.mjs';

// The simulated device's screen: a title, the question and one button per offered answer. No sound, no vibration:
// the page has no audio and the test asserts none is attempted.
const DEVICE_PAGE = `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>device</title>
<style>body{font-family:sans-serif;margin:0;background:#f1f5f9}main{padding:16px}
h1{font-size:15px;color:#334155;margin:0 0 8px}p{font-size:20px;margin:0 0 16px}
button{display:block;width:100%;font-size:18px;padding:12px;margin:8px 0;border-radius:8px;border:1px solid #94a3b8;background:#fff;color:#0f172a}
.done{color:#166534}</style></head><body><main id="screen"><p>…</p></main></body></html>`;

// Polls the device's messages until one is there; returns it.
async function poll(base, device) {
  for (let i = 0; i < 50; i++) {
    const [status, body] = await device.signedGet(base, `/api/devices/${device.id}/messages`, `jikimi-messages-v1 ${device.id}`);
    assert.equal(status, 200, JSON.stringify(body));
    if (body.messages.length) return body.messages[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no message reached the device');
}

// Shows `message` on the device page; a tap sends the signed answer.
async function show(devicePage, message) {
  await devicePage.evaluate((m) => {
    const screen = document.getElementById('screen');
    const h = document.createElement('h1');
    h.textContent = m.title;
    const p = document.createElement('p');
    p.id = 'question';
    p.textContent = m.text;
    screen.replaceChildren(h, p);
    m.options.forEach((o, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = o.label;
      b.dataset.i = String(i);
      b.addEventListener('click', async () => {
        const status = await window.tap(m.message_id, m.incident_id, o.answer);
        const done = document.createElement('p');
        done.className = 'done';
        done.id = 'sent';
        done.textContent = status === 200 ? '✓' : `× ${status}`;
        screen.append(done);
      });
      screen.append(b);
    });
  }, message);
}

describe('silent two-way text', () => {
  let server;
  let seeded;
  let chrome;
  let page;
  let devicePage;
  let device;
  const sounds = [];

  before(async () => {
    server = new Server();
    await server.start();
    seeded = await seed(server);
    chrome = await launch();
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    const phone = await chrome.browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'ko-KR' });
    devicePage = await phone.newPage();
    // Any attempt to make a sound on the device would be recorded here.
    await devicePage.exposeFunction('__sound', (what) => sounds.push(what));
    await devicePage.addInitScript(() => {
      window.AudioContext = function () { window.__sound('AudioContext'); };
      navigator.vibrate = () => { window.__sound('vibrate'); return false; };
    });
    await devicePage.setContent(DEVICE_PAGE);
    await devicePage.exposeFunction('tap', async (messageId, incidentId, answer) => {
      const [status] = await device.signed(server.url, `/api/devices/${device.id}/messages/${messageId}/answer`,
        `jikimi-answer-v1 ${messageId}`, { incident_id: incidentId, answer });
      return status;
    });
    await login(page, server.url, 'dispatcher');
  });

  after(async () => {
    await chrome?.close();
    await server?.dispose();
  });

  async function askFromConsole(incidentId, { canned, minutes, reveal = false }) {
    await page.click(`#queue li[data-id="${incidentId}"] button`);
    await page.waitForSelector('#detail #act-ask:not([disabled])');
    // Keyboard first: Q opens the dialog, the question is chosen in the focused select, Enter sends.
    await page.locator('body').press('q');
    await page.waitForSelector('#dialog[open] #ask-which');
    await page.selectOption('#ask-which', canned);
    if (minutes) await page.fill('#ask-minutes', String(minutes));
    if (reveal) await page.check('#ask-reveal');
    assert.deepEqual(await axe(page), [], 'axe on the ask dialog');
    await page.focus('#ask-which');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.getElementById('dialog').open);
  }

  test('the dispatcher asks, the device shows it silently, a tap answers, both in the timeline', async () => {
    device = seeded.device;
    const alert = await device.alert(server.url, { lat: CENTRE.lat + 0.002, lon: CENTRE.lon + 0.001, priority: 1 });
    const id = alert.incident_id;
    await page.waitForSelector(`#queue li[data-id="${id}"]`, { timeout: 2000 });
    await askFromConsole(id, { canned: 'attacker-present' });
    await page.waitForSelector('#detail .timeline li:has-text("Question")');
    assert.match(await page.textContent('#detail .timeline'), /Is the attacker still there\?/);

    const message = await poll(server.url, device);
    assert.equal(message.text, '가해자가 아직 그곳에 있습니까?', 'rendered in the subscriber\'s language (ko)');
    assert.equal(message.title, '112 메시지');
    await show(devicePage, message);
    await devicePage.screenshot({ path: path.join(ROOT, 'e2e', 'screenshots', 'twoway-device.png') });
    await devicePage.click('button[data-i="1"]'); // 아니요
    await devicePage.waitForSelector('#sent');
    assert.equal(await devicePage.textContent('#sent'), '✓');
    assert.deepEqual(sounds, [], 'the device made no sound');

    // The answer reaches the console by the live feed.
    await page.waitForSelector('#detail .timeline li.answer', { timeout: 2000 });
    assert.match(await page.textContent('#detail .timeline li.answer'), /No ← Is the attacker still there\?/);
    const inc = await seeded.admin.call('GET', `/api/incidents/${id}`);
    const kinds = inc.events.map((e) => e.event.type);
    assert.deepEqual(kinds.slice(-2), ['question_sent', 'answer_received']);
    // Answered: nothing more waits on the device.
    const [, after] = await device.signedGet(server.url, `/api/devices/${device.id}/messages`, `jikimi-messages-v1 ${device.id}`);
    assert.deepEqual(after.messages, []);
    assert.deepEqual(await axe(page), [], 'axe with a question and an answer');
    const file = await shot(page, 'twoway-console');
    fs.copyFileSync(file, path.join(ROOT, 'docs', 'twoway-console.png'));
    const combined = path.join(ROOT, 'docs', 'twoway-device.png');
    fs.copyFileSync(path.join(ROOT, 'e2e', 'screenshots', 'twoway-device.png'), combined);
  });

  test('under duress the device shows neutral wording, nothing about police', async () => {
    device = new Device();
    await seeded.admin.call('POST', '/api/subscribers', {
      name: '이서준', phone: '010-2000-0002', pin: '2468', duress_pin: '1357',
      devices: [{ id: device.id, public_key: device.publicHex, kind: 'app' }],
    });
    const alert = await device.alert(server.url, { lat: CENTRE.lat - 0.001, lon: CENTRE.lon + 0.002, priority: 2 });
    const id = alert.incident_id;
    await device.cancel(server.url, id, '1357');
    await page.waitForSelector(`#queue li[data-id="${id}"].duress`, { timeout: 2000 });
    await askFromConsole(id, { canned: 'help-coming', minutes: 4 });
    await page.waitForSelector('#detail .timeline li:has-text("Question")');

    const message = await poll(server.url, device);
    assert.equal(message.title, '새 메시지');
    assert.equal(message.text, '알림: 약 4분.');
    await devicePage.setContent(DEVICE_PAGE);
    await show(devicePage, message);
    const screen = await devicePage.textContent('#screen');
    for (const word of ['경찰', '112', 'police', '출동']) assert.ok(!screen.includes(word), `device shows ${word}: ${screen}`);
    await devicePage.screenshot({ path: path.join(ROOT, 'e2e', 'screenshots', 'twoway-device-duress.png') });
    fs.copyFileSync(path.join(ROOT, 'e2e', 'screenshots', 'twoway-device-duress.png'), path.join(ROOT, 'docs', 'twoway-device-duress.png'));
    await devicePage.click('button[data-i="0"]'); // 확인
    await devicePage.waitForSelector('#sent');
    await page.waitForSelector('#detail .timeline li.answer', { timeout: 2000 });
    assert.match(await page.textContent('#detail .timeline li.answer'), /OK ← Police arrive/);
    // The console still says the truth to the dispatcher, and the duress banner stays.
    await page.waitForSelector('#detail .duress-banner');
    assert.deepEqual(sounds, [], 'the device made no sound');
    await shot(page, 'twoway-console-duress');
  });
});
