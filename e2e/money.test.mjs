// End-to-end test of the console's money view (issue 22) in Debian's headless Chromium against the real
// `jikimi serve`: an agency and two shared cases, an analyst attaches a transfer file to a case and runs a trace from
// the view, reads the layered flow with the keyboard (arrows walk nodes and edges; each focus is announced), the
// endpoints table with holdings, jurisdictions and controllers, in English and Korean, axe-clean. Screenshots go to
// e2e/screenshots/; with JIKIMI_UPDATE_DOCS_SHOT=1 the English one also to docs/money.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ADMIN_PASSWORD, Api, PASSWORD, ROOT, Server, axe, consoleFromDisk, jikimiBin, launch, shot } from './lib.mjs';

const WALLET = 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t';
// A partner agency in Singapore (the RFC 8032 test key 1): the jurisdiction of the exchange holding the wallet.
const PARTNER_SG = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const STATEMENT = [
  'tx_id,timestamp,from_account,to_account,amount,currency',
  's1,1700000000,acct:1000001,GB82WEST12345698765432,1000,USDT',
  's2,1700000050,acct:1000002,GB82WEST12345698765432,400,USDT',
  't2,1700000100,iban:GB82WEST12345698765432,acct:110234567890,600,USDT',
  't3,1700000200,iban:GB82WEST12345698765432,acct:220345678901,500,USDT',
  `t4,1700000300,acct:110234567890,tron:${WALLET},500,USDT`,
  `t5,1700000400,acct:220345678901,tron:${WALLET},300,USDT`,
  't6,1700000500,acct:220345678901,acct:330456789012,150,USDT',
  't7,1700000600,acct:1000001,acct:1000002,oops,USDT',
].join('\n') + '\n';

describe('money view', () => {
  let server;
  let chrome;
  let page;

  before(async () => {
    server = new Server();
    await server.start();
    const admin = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    for (const [username, role] of [['analyst', 'analyst'], ['supervisor', 'supervisor']]) {
      await admin.call('POST', '/api/staff', { username, password: PASSWORD, role });
    }
    await admin.call('POST', '/api/exchange/agency', { name: 'KNPA', country: 'kr' });
    const supervisor = await Api.login(server.url, 'supervisor', PASSWORD);
    const content = (title, entities) => ({ title, summary: null, entities, events: [], attachments: [] });
    await supervisor.call('POST', '/api/exchange/cases', {
      category: 'scam',
      content: content('Romance scam ring', [
        { type: 'company', id: crypto.randomUUID(), name: 'Golden Lotus Exchange Ltd', country: 'SG', registration: null },
        { type: 'crypto_wallet', id: crypto.randomUUID(), wallet: { chain: 'tron', address: WALLET } },
      ]),
    });
    await supervisor.call('POST', '/api/exchange/cases', {
      category: 'scam',
      content: content('Mule recruitment', [
        { type: 'bank_account', id: crypto.randomUUID(), bank: null, country: 'KR', account: '110-234-567890' },
      ]),
    });
    chrome = await launch();
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    page = await ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
  });

  after(async () => {
    await chrome?.close();
    await server?.dispose();
  });

  test('an analyst uploads transfers, runs a trace and reads the flow with the keyboard', async () => {
    await page.goto(server.url + '/');
    await page.evaluate(() => localStorage.setItem('jikimi.lang', 'en'));
    await page.goto(server.url + '/');
    await page.fill('#login-user', 'analyst');
    await page.fill('#login-pass', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#console-view:not([hidden])');
    await page.waitForSelector('#money-button:not([hidden])');
    await page.click('#money-button');
    await page.waitForSelector('#money-case option', { state: 'attached' });
    const romance = await page.$eval('#money-case', (s) => [...s.options].find((o) => o.text.includes('Romance')).value);
    await page.selectOption('#money-case', romance);
    await page.waitForSelector('#money-upload');

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jikimi-money-')), 'statement.csv');
    fs.writeFileSync(file, STATEMENT);
    await page.setInputFiles('#money-file', file);
    await page.click('#money-upload button[type=submit]');
    await page.waitForSelector('#money-report li');
    assert.match(await page.textContent('#money-report'), /line 9/);

    await page.fill('#money-seeds', 's1\ns2');
    await page.selectOption('#money-policy', 'fifo');
    await page.fill('#money-cashout', `tron:${WALLET}, exchange, Golden Lotus, SG`);
    await page.click('#money-trace button[type=submit]');
    await page.waitForSelector('#flow .node.endpoint');
    await page.waitForSelector('#endpoints tbody tr');

    // The layered columns: victims, two mule layers, endpoints.
    const heads = await page.$$eval('#flow .col-head', (els) => els.map((e) => e.textContent));
    assert.deepEqual(heads, ['Victims', 'Mule layer 1', 'Mule layer 2', 'Endpoints']);
    // The endpoints table: largest holding first, with the jurisdiction hook and the controlling company.
    const first = await page.$eval('#endpoints tbody tr', (tr) => ({
      account: tr.dataset.account, type: tr.dataset.accountType, country: tr.dataset.country, text: tr.textContent,
    }));
    assert.equal(first.account, `tron:${WALLET}`);
    assert.equal(first.type, 'wallet');
    assert.equal(first.country, 'SG');
    assert.match(first.text, /Golden Lotus Exchange Ltd/);
    assert.match(await page.textContent('#organisations'), /money links/);

    // Keyboard: Tab reaches the graph's one tab stop (a victim); Right goes along the money to an edge, Right again
    // to its target; Down moves within a column; each focus is announced in words.
    await page.focus('#flow .node.victim');
    await page.keyboard.press('ArrowRight');
    let focused = await page.evaluate(() => document.activeElement.getAttribute('data-edge'));
    assert.notEqual(focused, null, 'Right from a victim focuses its outgoing edge');
    assert.match(await page.textContent('#flow-focus'), /Transfers: acct:1000001 → iban:GB82WEST12345698765432/);
    await page.keyboard.press('ArrowRight');
    focused = await page.evaluate(() => document.activeElement.getAttribute('data-account'));
    assert.equal(focused, 'iban:GB82WEST12345698765432');
    assert.match(await page.textContent('#flow-focus'), /Mule layer 1/);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    assert.match(await page.textContent('#flow-focus'), /Transfers: iban:GB82WEST12345698765432 → acct:/);
    const tabStops = await page.$$eval('#flow [tabindex="0"]', (els) => els.length);
    assert.equal(tabStops, 1, 'one roving tab stop in the graph');

    const violations = await axe(page);
    assert.deepEqual(violations, [], 'axe on the money view');
    await page.$eval('#flow-title', (h) => h.scrollIntoView());
    const shotFile = await shot(page, '20-money');
    fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    if (process.env.JIKIMI_UPDATE_DOCS_SHOT === '1') fs.copyFileSync(shotFile, path.join(ROOT, 'docs', 'money.png'));

    await page.click('.lang-toggle >> visible=true');
    await page.waitForFunction(() => document.documentElement.lang === 'ko');
    assert.match(await page.textContent('#money-title'), /자금 추적/);
    assert.match(await page.textContent('#flow'), /종착 계좌/);
    const violationsKo = await axe(page);
    assert.deepEqual(violationsKo, [], 'axe on the Korean money view');
    await shot(page, '21-money-ko');
  });

  test('an analyst requests a freeze from an endpoint row with the keyboard', async () => {
    // A partner in Singapore under an agreement permitting freeze requests (it has no endpoint: the request is held
    // and delivered after a later sync, which is not an error).
    const admin = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    await admin.call('POST', '/api/exchange/peers', { id: PARTNER_SG, name: 'SPF', country: 'SG' });
    execFileSync(jikimiBin(), ['agreement', 'create', '--title', 'KR-SG', '--party', PARTNER_SG, '--category', 'scam',
      '--purpose', 'asset recovery', '--freeze-legal-basis', 'KR-SG MLAT art. 9'], { env: server.env, cwd: server.dir, encoding: 'utf8' });
    if (await page.evaluate(() => document.documentElement.lang) !== 'en') {
      await page.click('.lang-toggle >> visible=true');
      await page.waitForFunction(() => document.documentElement.lang === 'en');
    }
    const button = `#endpoints tbody tr[data-account="tron:${WALLET}"] .mf-open`;
    await page.focus(button);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#mf-dialog[open] #mf-partner li', { state: 'attached' });
    assert.equal(await page.inputValue('#mf-account'), `tron:${WALLET}`);
    assert.match(await page.inputValue('#mf-amount'), /^[1-9][0-9]*$/);
    assert.equal(await page.inputValue('#mf-currency'), 'USDT');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'mf-amount');
    assert.match(await page.textContent('#mf-partner'), /SPF \(SG\)/);
    assert.deepEqual(await axe(page), [], 'axe with the freeze dialog open');
    await shot(page, '22-money-freeze-dialog');
    // Escape closes it and gives the focus back to the row's button.
    await page.keyboard.press('Escape');
    await page.waitForSelector('#mf-dialog', { state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('mf-open')), true);
    // Again, and send with Enter: the request is shown with a link to the freeze requests page.
    await page.keyboard.press('Enter');
    await page.waitForSelector('#mf-dialog[open]');
    await page.focus('#mf-amount');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#mf-link');
    assert.equal(await page.getAttribute('#mf-link', 'href').then((h) => h.split('#')[0]), '/console/freeze.html');
    assert.deepEqual(await axe(page), [], 'axe after the request is sent');
    await shot(page, '23-money-freeze-sent');
    const analyst = await Api.login(server.url, 'analyst', PASSWORD);
    const held = await analyst.call('GET', '/api/exchange/freeze?direction=outgoing');
    assert.equal(held.length, 1);
    assert.equal(held[0].request.body.recipient, PARTNER_SG);
    assert.ok(held[0].request.body.evidence.trace_run);
    await page.keyboard.press('Escape');
  });

  test('a dispatcher has no money view and the API refuses them', async () => {
    const admin = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
    await admin.call('POST', '/api/staff', { username: 'dispatcher', password: PASSWORD, role: 'dispatcher' });
    const ctx = await chrome.browser.newContext({ viewport: { width: 1200, height: 800 }, bypassCSP: true });
    await consoleFromDisk(ctx);
    const p = await ctx.newPage();
    await p.goto(server.url + '/');
    await p.fill('#login-user', 'dispatcher');
    await p.fill('#login-pass', PASSWORD);
    await p.click('#login-form button[type=submit]');
    await p.waitForSelector('#console-view:not([hidden])');
    await p.waitForFunction(() => window.__jikimi.state.permissions.length > 0);
    assert.equal(await p.isHidden('#money-button'), true);
    const dispatcher = await Api.login(server.url, 'dispatcher', PASSWORD);
    await assert.rejects(dispatcher.call('GET', '/api/funds/cases'), /403/);
    await ctx.close();
  });
});
