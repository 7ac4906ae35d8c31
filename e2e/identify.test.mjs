// End-to-end test of the console's Identify view (issue 19) in Debian's headless Chromium against the real
// `jikimi serve`: a supervisor's bank holds a generated test pattern (colour bars, no real imagery); an analyst opens
// the view with the keyboard, uploads the same pattern by the file input and by drag and drop, sees the match with
// its distance and labels, reviews it as a true positive, and reads the banks and their content; no image comes back
// from the server and none is shown until a blurred preview is asked for. English and Korean, axe-clean. Screenshots
// go to e2e/screenshots/; with JIKIMI_UPDATE_DOCS_SHOT=1 the English one also to docs/identify-console.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ADMIN_PASSWORD, Api, PASSWORD, ROOT, Server, axe, consoleFromDisk, launch, shot } from './lib.mjs';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([len, typed, crc]);
}

// A test pattern PNG: SMPTE-like colour bars over a grey ramp and a checkerboard strip.
export function testPatternPng(width = 240, height = 180) {
  const bars = [[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0], [192, 0, 192], [192, 0, 0], [0, 0, 192]];
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      let rgb;
      if (y < height * 0.6) rgb = bars[Math.floor((x * bars.length) / width)];
      else if (y < height * 0.8) { const v = Math.round((x / (width - 1)) * 255); rgb = [v, v, v]; }
      else rgb = ((Math.floor(x / 12) + Math.floor(y / 12)) % 2) ? [255, 255, 255] : [16, 16, 16];
      row.set(rgb, 1 + x * 3);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function addPhoto(base, token, bankId, png, labels) {
  const form = new FormData();
  form.append('photo', new Blob([png], { type: 'image/png' }), 'pattern.png');
  const res = await fetch(`${base}/api/identify/banks/${bankId}/content/photo?${new URLSearchParams(labels)}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form,
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

describe('identify view', () => {
  let server;
  let chrome;
  let page;
  let bank;
  let content;
  const imageResponses = [];
  const png = testPatternPng();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jikimi-identify-')), 'test-pattern.png');

  before(async () => {
    fs.writeFileSync(file, png);
    server = new Server();
    await server.start();
    const admin = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    for (const [username, role] of [['analyst', 'analyst'], ['supervisor', 'supervisor'], ['dispatcher', 'dispatcher']]) {
      await admin.call('POST', '/api/staff', { username, password: PASSWORD, role });
    }
    const supervisor = await Api.login(server.url, 'supervisor', PASSWORD);
    bank = await supervisor.call('POST', '/api/identify/banks', { name: 'Test patterns', match_distance: 31 });
    await supervisor.call('POST', '/api/identify/banks', { name: 'Known false positives', negative: true, suppresses: [] });
    content = await addPhoto(server.url, supervisor.token, bank.id, png, { category: 'B2', series: 'bars-2026' });
    await supervisor.call('POST', `/api/identify/banks/${bank.id}/content`, {
      signal_type: 'pdq', signal: 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22', category: 'A1',
    });
    chrome = await launch();
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    page.on('response', (res) => {
      const type = res.headers()['content-type'] || '';
      if (type.startsWith('image/') || type.startsWith('video/')) imageResponses.push(res.url());
    });
  });

  after(async () => {
    await chrome?.close();
    await server?.dispose();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('an analyst looks up a test pattern, sees the match and reviews it with the keyboard', async () => {
    await page.goto(server.url + '/');
    await page.evaluate(() => localStorage.setItem('jikimi.lang', 'en'));
    await page.goto(server.url + '/');
    await page.fill('#login-user', 'analyst');
    await page.fill('#login-pass', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#identify-button:not([hidden])');
    // Keyboard: focus the top bar's button and press Enter.
    await page.focus('#identify-button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#id-bank-table tbody tr');
    assert.equal(await page.getAttribute('#identify-button', 'aria-pressed'), 'true');
    const banks = await page.$$eval('#id-bank-table tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.equal(banks.length, 2);
    assert.match(banks.join('|'), /Test patterns.*local/);
    // Analysts create no banks.
    assert.equal(await page.$('#id-create'), null);

    // Choose the file with the file input; nothing is shown until a preview is asked for.
    await page.setInputFiles('#id-file', file);
    await page.waitForSelector('#id-file-name:has-text("test-pattern.png")');
    assert.equal(await page.$('#id-preview'), null, 'no preview by default');
    await page.focus('#id-go');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#id-results tr[data-content="${content.id}"]`);
    const row = await page.$eval(`#id-results tr[data-content="${content.id}"]`, (tr) => tr.textContent);
    assert.match(row, /B2/);
    assert.match(row, /bars-2026/);
    const distance = await page.$eval(`#id-results tr[data-content="${content.id}"] td.num`, (td) => td.textContent);
    assert.equal(distance, '0');
    assert.match(await page.textContent('#id-status'), /Matches found: 1/);
    assert.match(await page.textContent('#id-results .id-facts'), /[0-9a-f]{64}/);

    // Review with the keyboard: true positive.
    const tp = `#id-results tr[data-content="${content.id}"] button[data-verdict=true_positive]`;
    await page.focus(tp);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${tp}[aria-pressed=true]`);
    assert.match(await page.textContent(`#id-results tr[data-content="${content.id}"] .id-state`), /Reviewed: True positive/);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset?.verdict), 'true_positive', 'focus stays on the button');

    // The bank's content, read from its row.
    await page.click(`#id-show-${bank.id}`);
    await page.waitForSelector(`#id-content tr[data-content="${content.id}"]`);
    assert.match(await page.textContent('#id-content'), /bars-2026/);

    // A blurred local preview on request.
    await page.click('#id-preview-toggle');
    await page.waitForSelector('#id-preview.blurred');
    assert.match(await page.getAttribute('#id-preview', 'src'), /^data:image\/png;base64,/);
    assert.deepEqual(imageResponses, [], 'no image or video came from the server');

    assert.deepEqual(await axe(page), [], 'axe on the identify view');
    await page.$eval('#identify-title', (h) => h.scrollIntoView());
    const shotFile = await shot(page, '30-identify');
    if (process.env.JIKIMI_UPDATE_DOCS_SHOT === '1') fs.copyFileSync(shotFile, path.join(ROOT, 'docs', 'identify-console.png'));

    await page.click('.lang-toggle >> visible=true');
    await page.waitForFunction(() => document.documentElement.lang === 'ko');
    assert.match(await page.textContent('#identify-title'), /식별/);
    assert.match(await page.textContent('#id-results'), /정탐/);
    assert.deepEqual(await axe(page), [], 'axe on the Korean identify view');
    await shot(page, '31-identify-ko');
    await page.click('.lang-toggle >> visible=true');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
  });

  test('a file dropped on the view is looked up too', async () => {
    const bytes = [...png];
    await page.evaluate((data) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
      document.getElementById('id-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForSelector('#id-file-name:has-text("dropped.png")');
    await page.click('#id-go');
    await page.waitForFunction(() => /Matches found: 1/.test(document.getElementById('id-status')?.textContent ?? ''));
    // A new lookup: a new match to review, not yet reviewed.
    const pressed = await page.$eval(`#id-results tr[data-content="${content.id}"] button[data-verdict=true_positive]`, (b) => b.getAttribute('aria-pressed'));
    assert.equal(pressed, 'false');
    assert.deepEqual(imageResponses, []);
  });

  test('a supervisor creates a bank and disables content; a dispatcher has no identify view', async () => {
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    const p = await ctx.newPage();
    await p.goto(server.url + '/');
    await p.evaluate(() => localStorage.setItem('jikimi.lang', 'en'));
    await p.fill('#login-user', 'supervisor');
    await p.fill('#login-pass', PASSWORD);
    await p.click('#login-form button[type=submit]');
    await p.waitForSelector('#identify-button:not([hidden])');
    await p.click('#identify-button');
    await p.waitForSelector('#id-create');
    await p.fill('#id-bank-name', 'Seizure 2026-07');
    await p.focus('#id-bank-name');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => document.querySelectorAll('#id-bank-table tbody tr').length === 3);
    await p.click(`#id-show-${bank.id}`);
    await p.waitForSelector(`#id-disable-${content.id}`);
    await p.click(`#id-disable-${content.id}`);
    await p.waitForSelector(`#id-enable-${content.id}`);
    assert.match(await p.textContent(`#id-content tr[data-content="${content.id}"]`), /disabled/);
    assert.deepEqual(await axe(p), [], 'axe on the supervisor view');
    await shot(p, '32-identify-supervisor');
    await p.click(`#id-enable-${content.id}`);
    await p.waitForSelector(`#id-disable-${content.id}`);
    await ctx.close();

    const ctx2 = await chrome.browser.newContext({ viewport: { width: 1200, height: 800 }, bypassCSP: true });
    await consoleFromDisk(ctx2);
    const d = await ctx2.newPage();
    await d.goto(server.url + '/');
    await d.fill('#login-user', 'dispatcher');
    await d.fill('#login-pass', PASSWORD);
    await d.click('#login-form button[type=submit]');
    await d.waitForSelector('#console-view:not([hidden])');
    await d.waitForFunction(() => window.__jikimi.state.permissions.length > 0);
    assert.equal(await d.isHidden('#identify-button'), true);
    const dispatcher = await Api.login(server.url, 'dispatcher', PASSWORD);
    await assert.rejects(dispatcher.call('GET', '/api/identify/banks'), /403/);
    await ctx2.close();
  });
});
