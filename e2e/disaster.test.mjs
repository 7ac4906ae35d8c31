// End-to-end test of the console's disaster view (issue 20, part 7) in Debian's headless Chromium against the real
// `jikimi demo --disaster`: the demo declares an earthquake over its city and its residents answer the welfare check
// through the signed app path. The supervisor opens the view with W and walks it by keyboard only: the triage queue
// (J/K), a road closed at the map centre (B) and reopened (Tab to its button), a disaster declared (N) and closed
// (C); axe finds nothing serious in English or Korean; an analyst sees counts but not the triage queue. The
// screenshot of the filled view goes to docs/disaster-console.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Api, ROOT, axe, consoleFromDisk, freePort, jikimiBin, launch, shot } from './lib.mjs';

// `jikimi demo --disaster` on a free port in a temporary directory; its staff passwords are read from its banner.
class Demo {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jikimi-e2e-demo-'));
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.child = spawn(jikimiBin(), ['demo', '--disaster', '--data-dir', this.dir, '--listen', `127.0.0.1:${this.port}`], {
      env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.passwords = {};
    await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`jikimi demo did not declare: ${out}`)), 180000);
      this.child.stdout.on('data', (d) => {
        out += d;
        for (const m of out.matchAll(/^\s+(\w+)\s+\w+\s+password (\S+)$/gm)) this.passwords[m[1]] = m[2];
        const declared = out.match(/earthquake declared: disaster ([0-9a-f-]{36});/);
        if (declared) {
          this.disaster = declared[1];
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`jikimi demo exited with ${code}: ${out}`));
      });
    });
    this.child.removeAllListeners('exit');
    this.child.stdout.resume();
  }

  async dispose() {
    if (this.child) {
      const done = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await done;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function consoleLogin(page, base, username, password) {
  await page.goto(base + '/');
  await page.fill('#login-user', username);
  await page.fill('#login-pass', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#console-view:not([hidden])');
}

// Presses Tab until the focused element matches `selector`; fails after `max` presses.
async function tabTo(page, selector, max = 300) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

describe('disaster view', () => {
  let demo;
  let chrome;
  let page;
  let supervisor;

  before(async () => {
    demo = new Demo();
    await demo.start();
    supervisor = await Api.login(demo.url, 'supervisor', demo.passwords.supervisor);
    // Residents answer over the first minutes: wait for the six trapped in the collapsed building and more.
    for (let i = 0; ; i++) {
      const d = await supervisor.call('GET', `/api/disasters/${demo.disaster}`);
      if (d.counts.total - d.counts.no_answer >= 60 && d.counts.trapped >= 6) break;
      assert.ok(i < 120, `too few answers: ${JSON.stringify(d.counts)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    chrome = await launch();
    const ctx = await chrome.browser.newContext({ viewport: { width: 1600, height: 1000 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.addInitScript(() => localStorage.setItem('jikimi.lang', 'en'));
    await consoleLogin(page, demo.url, 'supervisor', demo.passwords.supervisor);
  });

  after(async () => {
    await chrome?.close();
    await demo?.dispose();
  });

  test('W opens the view: counts, choropleth, triage, teams and closures from the demo', async () => {
    await page.keyboard.press('w');
    await page.waitForSelector('#disaster-side:not([hidden]) .d-counts');
    await page.waitForSelector('.d-triage tbody tr');
    assert.equal(await page.isHidden('.queue-pane'), true);
    const api = await supervisor.call('GET', `/api/disasters/${demo.disaster}`);
    // The counts shown are the server's (the view may have refreshed since: compare to a fresh read).
    const shownTotal = Number(await page.textContent('.d-n-total'));
    assert.equal(shownTotal, api.counts.total);
    // Every sector with people is a row of the choropleth's text alternative, with the map's colour swatch.
    const rows = await page.$$eval('#disaster-side .d-table tbody tr', (trs) => trs.length);
    assert.equal(rows, api.areas.length);
    assert.equal(await page.getAttribute('#map', 'aria-describedby'), 'd-areas-caption');
    const legend = await page.$$eval('#d-legend li', (lis) => lis.length);
    assert.ok(legend >= 10, `legend items: ${legend}`);
    const overlay = await page.evaluate(() => ({
      polygons: window.__jikimi.map.overlay.polygons.length, markers: window.__jikimi.map.overlay.markers.length,
    }));
    assert.ok(overlay.polygons >= api.areas.filter((a) => a.boundary).length + 1, JSON.stringify(overlay));
    assert.ok(overlay.markers > 6, JSON.stringify(overlay));
    // Triage: trapped first.
    const first = await page.textContent('.d-triage tbody tr:first-child .d-badge');
    assert.equal(first, 'trapped');
    // Teams: the demo's patrol cars and rescue teams.
    await page.waitForFunction(() => [...document.querySelectorAll('#disaster-detail td.mono')].some((td) => td.textContent === 'R-201'));
    // Closures: the demo closed roads after the earthquake.
    assert.ok((await page.$$('.d-closures li')).length >= 1);
    await page.waitForTimeout(600);
    const file = await shot(page, 'disaster-console');
    fs.copyFileSync(file, path.join(ROOT, 'docs', 'disaster-console.png'));
    assert.deepEqual(await axe(page), []);
  });

  test('J and K walk the triage queue and centre the map on the person', async () => {
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.waitForSelector('.d-triage tbody tr.selected');
    const rank = await page.textContent('.d-triage tr.selected button');
    assert.equal(rank, '2');
    await page.keyboard.press('k');
    assert.equal(await page.textContent('.d-triage tr.selected button'), '1');
    const [view, pos] = await page.evaluate(() => [window.__jikimi.map.view, window.__jikimiDisaster.triage.queue[0].position]);
    const lat = pos.coords?.lat ?? pos.lat;
    assert.ok(Math.abs(view.lat - lat) < 1e-9, `${view.lat} vs ${lat}`);
  });

  test('B closes the roads around the map centre; Tab reaches Reopen, Enter reopens', async () => {
    const before = (await supervisor.call('GET', '/api/closures')).length;
    await page.keyboard.press('b');
    await page.waitForSelector('#dialog[open] #d-road-reason');
    await page.keyboard.type('e2e: collapsed facade');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown'); // every road within the radius
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+a');
    await page.keyboard.type('200');
    await page.keyboard.press('Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.d-closures li').length === n + 1, before);
    const closures = await supervisor.call('GET', '/api/closures');
    const mine = closures.find((c) => c.reason === 'e2e: collapsed facade');
    assert.ok(mine, JSON.stringify(closures));
    assert.equal(mine.geometry.type, 'Polygon');
    assert.ok(mine.segments > 0);
    await tabTo(page, 'button[aria-label="Reopen: e2e: collapsed facade"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#dialog[open] #d-reopen-reason');
    await page.keyboard.press('Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.d-closures li').length === n, before);
    const all = await supervisor.call('GET', '/api/closures?all=true');
    assert.ok(all.find((c) => c.id === mine.id).reopened_at);
  });

  test('N declares a disaster at the map centre, ] and [ choose it, C closes it', async () => {
    await page.keyboard.press('n');
    await page.waitForSelector('#dialog[open] #d-title');
    await page.keyboard.type('e2e flood');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('.d-list li').length === 2);
    const list = (await supervisor.call('GET', '/api/disasters')).disasters;
    const mine = list.find((d) => d.title === 'e2e flood');
    assert.ok(mine);
    assert.equal(await page.textContent('.d-list [aria-current="true"] strong'), 'e2e flood');
    await page.keyboard.press(']');
    await page.waitForFunction(() => document.querySelector('.d-list [aria-current="true"] strong')?.textContent !== 'e2e flood');
    await page.keyboard.press('[');
    await page.waitForFunction(() => document.querySelector('.d-list [aria-current="true"] strong')?.textContent === 'e2e flood');
    await page.waitForSelector('#d-close');
    await page.keyboard.press('c');
    await page.waitForSelector('#dialog[open]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.d-list [aria-current="true"] .d-closed');
    const closed = (await supervisor.call('GET', '/api/disasters')).disasters.find((d) => d.id === mine.id);
    assert.ok(closed.closed_at);
  });

  test('Korean: L switches the language; axe stays clean; W leaves the view', async () => {
    await page.keyboard.press(']');
    await page.keyboard.press('l');
    await page.waitForFunction(() => document.documentElement.lang === 'ko');
    assert.equal(await page.textContent('#d-side-title'), '재난');
    assert.match(await page.textContent('.d-triage thead'), /순위/);
    await shot(page, 'disaster-console-ko');
    assert.deepEqual(await axe(page), []);
    await page.keyboard.press('l');
    await page.keyboard.press('w');
    await page.waitForSelector('.queue-pane:not([hidden])');
    assert.equal(await page.isHidden('#disaster-side'), true);
    assert.equal(await page.evaluate(() => window.__jikimi.map.overlay), null);
  });

  test('an analyst sees the counts but not the triage queue, and cannot declare or close roads', async () => {
    const ctx = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    const p = await ctx.newPage();
    await p.addInitScript(() => localStorage.setItem('jikimi.lang', 'en'));
    await consoleLogin(p, demo.url, 'analyst', demo.passwords.analyst);
    await p.keyboard.press('w');
    await p.waitForSelector('#disaster-side:not([hidden]) .d-counts');
    assert.match(await p.textContent('#disaster-detail'), /does not show the triage queue/);
    assert.equal(await p.$('#d-declare'), null);
    assert.equal(await p.$('#d-close-road'), null);
    assert.deepEqual(await axe(p), []);
    await ctx.close();
  });
});
