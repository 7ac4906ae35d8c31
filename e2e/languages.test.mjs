// End-to-end test of the caller's language in the dispatcher console (issue 21, part 4): a subscriber registered as
// reading Vietnamese raises an alert; the dispatcher's incident detail says "Caller's language: Vietnamese · Tiếng
// Việt" (in Korean, "신고자 언어: 베트남어 · Tiếng Việt"), the labels coming from the server's Fluent files; axe-clean.
// The screenshot goes to docs/console-caller-language-vi.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CENTRE, Device, ROOT, Server, axe, consoleFromDisk, launch, login, seed, shot } from './lib.mjs';

describe('caller language in the console', () => {
  let server;
  let chrome;
  let page;
  let incidentId;

  before(async () => {
    server = new Server();
    await server.start();
    const seeded = await seed(server);
    const device = new Device();
    await seeded.admin.call('POST', '/api/subscribers', {
      name: 'Nguyễn Thị Lan', phone: '010-2000-0077', language: 'vi',
      devices: [{ id: device.id, public_key: device.publicHex, kind: 'app' }],
      guardians: [{ name: 'Trần Văn An', relation: 'husband', channels: [{ kind: 'sms', address: '010-3000-0077' }] }],
    });
    incidentId = (await device.alert(server.url, { lat: CENTRE.lat + 0.001, lon: CENTRE.lon - 0.001, priority: 1 })).incident_id;
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

  test('the incident of a caller who reads Vietnamese shows their language', async () => {
    await login(page, server.url, 'dispatcher');
    // The labels are the Fluent ones, served by the server.
    assert.equal((await page.textContent('#queue-title span[data-t="queue"]')).trim(), 'Incident queue');
    await page.click(`#queue li[data-id="${incidentId}"] button`);
    await page.waitForSelector('#caller-language');
    const line = (await page.textContent('#caller-language')).replace(/\s+/g, ' ').trim();
    assert.equal(line, "Caller's language: Vietnamese · Tiếng Việt");
    assert.equal(await page.getAttribute('#caller-language span[lang]', 'lang'), 'vi');
    assert.deepEqual(await axe(page), [], 'axe on the incident detail');
    const file = await shot(page, '20-caller-language-vi');
    fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    fs.copyFileSync(file, path.join(ROOT, 'docs', 'console-caller-language-vi.png'));

    // The Korean console names it in Korean; the native name stays.
    await page.click('#console-view .lang-toggle');
    await page.waitForFunction(() => document.querySelector('#caller-language')?.textContent.includes('베트남어'));
    const ko = (await page.textContent('#caller-language')).replace(/\s+/g, ' ').trim();
    assert.equal(ko, '신고자 언어: 베트남어 · Tiếng Việt');
    assert.equal((await page.textContent('#queue-title span[data-t="queue"]')).trim(), '사건 대기열');
    assert.deepEqual(await axe(page), [], 'axe on the Korean incident detail');
    await shot(page, '21-caller-language-vi-ko');
    await page.click('#console-view .lang-toggle');
  });
});
