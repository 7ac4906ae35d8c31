// End-to-end test of the freeze-requests page (issue 22, part 4) in headless Chromium against two real
// `jikimi serve` nodes (A in Korea, B in Germany) under an agreement permitting freeze requests: A's analyst's
// request appears as outgoing on A and incoming on B; B's supervisor records "frozen" with the keyboard only; A's
// page shows the status timeline. axe-core on both pages, in English and Korean. Screenshots in e2e/screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Api, PASSWORD, Server, axe, consoleFromDisk, jikimiBin, launch, login, seed, shot } from './lib.mjs';

const IBAN_DE = 'DE89370400440532013000';

function cli(server, args) {
  const out = execFileSync(jikimiBin(), args, { env: server.env, cwd: server.dir, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('freeze requests page', () => {
  let a;
  let b;
  let chrome;
  let requestId;

  before(async () => {
    a = new Server();
    b = new Server();
    await a.start();
    await b.start();
    await seed(a, { units: 1 });
    await seed(b, { units: 1 });
    const idA = cli(a, ['agency', 'init', '--name', 'KNPA', '--country', 'KR', '--endpoint', a.url]).id;
    const idB = cli(b, ['agency', 'init', '--name', 'BKA', '--country', 'DE', '--endpoint', b.url]).id;
    cli(a, ['peer', 'add', '--endpoint', b.url]);
    cli(b, ['peer', 'add', '--endpoint', a.url]);
    const agreement = cli(a, ['agreement', 'create', '--title', 'KR-DE', '--party', idB, '--category', 'scam',
      '--purpose', 'asset recovery', '--freeze-legal-basis', 'KR-DE MLAT art. 18']);
    const file = `${b.dir}/agreement.json`;
    (await import('node:fs')).writeFileSync(file, JSON.stringify(agreement));
    cli(b, ['agreement', 'import', file]);
    assert.ok(idA);
    const c = cli(a, ['case', 'create', '--category', 'scam', '--title', 'romance scam proceeds']);
    const analyst = await Api.login(a.url, 'analyst', PASSWORD);
    const held = await analyst.call('POST', '/api/exchange/freeze', {
      account: { type: 'iban', iban: IBAN_DE }, amount_minor: '1500000', currency: 'EUR', decimals: 2,
      case_id: c.id, deadline: new Date(Date.now() + 3 * 86400e3).toISOString(),
      evidence: { trace: 'romance-7', hops: 3 },
    });
    requestId = held.request.body.id;
    assert.equal(held.statuses[0].status.body.state, 'received');
    chrome = await launch();
  });

  after(async () => {
    await chrome?.close();
    await a?.dispose();
    await b?.dispose();
  });

  async function page(server, username) {
    const ctx = await chrome.browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    await consoleFromDisk(ctx);
    const p = await ctx.newPage();
    p.on('pageerror', (err) => console.error('page error:', err.message));
    await login(p, server.url, username);
    await p.click('#freeze-link');
    await p.waitForSelector('#fz-in tbody tr');
    return p;
  }

  test('B\'s supervisor sees the request and records "frozen" with the keyboard; A sees the timeline', async () => {
    const pb = await page(b, 'supervisor');
    assert.match(await pb.textContent('#fz-in'), /DE89370400440532013000/);
    assert.deepEqual(await axe(pb), [], 'axe on the incoming list');
    // Keyboard only: focus the request's button, open it, fill the form, submit.
    await pb.focus(`#fz-in button[aria-label$="${requestId}"]`);
    await pb.keyboard.press('Enter');
    await pb.waitForSelector('#fz-state');
    await pb.focus('#fz-state');
    await pb.keyboard.press('Tab');
    await pb.keyboard.press('Control+A');
    await pb.keyboard.type('1200000');
    await pb.keyboard.press('Enter');
    await pb.waitForFunction(() => document.querySelectorAll('.fz-timeline li').length === 2);
    assert.deepEqual(await axe(pb), [], 'axe on the detail with the status form');
    await shot(pb, 'freeze-01-recipient');
    await pb.click('.lang-toggle');
    assert.match(await pb.textContent('#fz-in-title'), /받은 요청/);
    assert.deepEqual(await axe(pb), [], 'axe on the Korean page');
    await shot(pb, 'freeze-02-recipient-ko');
    await pb.click('.lang-toggle');

    const pa = await page(a, 'analyst');
    await pa.waitForSelector('#fz-out tbody tr button');
    await pa.click(`#fz-out button[aria-label$="${requestId}"]`);
    await pa.waitForFunction(() => document.querySelectorAll('.fz-timeline li').length === 2);
    const timeline = await pa.textContent('.fz-timeline');
    assert.match(timeline, /received/);
    assert.match(timeline, /frozen.*12000\.00 EUR/);
    assert.equal(await pa.$('#fz-state'), null, 'the requester records no status');
    assert.deepEqual(await axe(pa), [], 'axe on the outgoing detail');
    await shot(pa, 'freeze-03-requester');
  });
});
