// End-to-end test of civic addresses in the console (issue 21, part 3): `jikimi serve --addresses-pbf` with the
// shipped central-Helsinki extract; an incident's detail shows its street address, and a dispatcher finds an
// address from the keyboard (`/`, type, ↓, Enter) and the map moves there. axe-core in English and Korean.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Api, ROOT, Server, axe, consoleFromDisk, launch, login, seed, shot } from './lib.mjs';

describe('civic addresses in the console', () => {
  let server;
  let seeded;
  let chrome;
  let page;

  before(async () => {
    server = new Server();
    server.env.JIKIMI_ADDRESSES_PBF = path.join(ROOT, 'data', 'helsinki.osm.pbf');
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

  test('the incident detail shows the street address; the address search moves the map', async () => {
    const dispatcher = await Api.login(server.url, 'dispatcher', 'e2e-staff-password');
    const found = await dispatcher.call('GET', '/api/geocode?q=aleksanterinkatu&limit=20');
    assert.equal(found.loaded, true);
    const target = found.results.find((r) => r.address.house_number);
    assert.ok(target, 'an address on Aleksanterinkatu');
    const answer = await seeded.device.alert(server.url, { lat: target.lat, lon: target.lon, priority: 1 });

    await login(page, server.url, 'dispatcher');
    await page.click(`#queue li[data-id="${answer.incident_id}"] button`);
    await page.waitForSelector('#detail .address');
    const shown = (await dispatcher.call('GET', `/api/incidents/${answer.incident_id}`)).incident.address;
    assert.ok(shown.house_number, JSON.stringify(shown));
    assert.ok((await page.textContent('#detail .address')).includes(shown.label), shown.label);
    await shot(page, 'g1-detail-address');

    // Keyboard only: `/` focuses the box, typing lists addresses, ↓ chooses, Enter moves the map.
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'geo-q');
    await page.keyboard.type('mannerh');
    await page.waitForSelector('#geo-results li');
    assert.match(await page.textContent('#geo-results'), /Mannerheimintie/);
    assert.deepEqual(await axe(page), [], 'axe with the address results open');
    await shot(page, 'g2-address-results');
    await page.keyboard.press('ArrowDown');
    const expected = await dispatcher.call('GET', '/api/geocode?q=mannerh&limit=8');
    await page.keyboard.press('Enter');
    const view = await page.evaluate(() => ({ ...window.__jikimi.map.view }));
    assert.ok(Math.abs(view.lat - expected.results[0].lat) < 1e-9 && Math.abs(view.lon - expected.results[0].lon) < 1e-9,
      `map centred on ${JSON.stringify(view)}`);
    assert.equal(await page.locator('#geo-results li').count(), 0);
    await shot(page, 'g3-map-moved');

    // Korean labels, still axe-clean.
    await page.keyboard.press('Escape');
    await page.keyboard.press('l');
    assert.match(await page.textContent('#geo-form label'), /주소 찾기/);
    assert.match(await page.textContent('#detail .address'), /주소/);
    assert.deepEqual(await axe(page), [], 'axe on the Korean console with an address');
    await shot(page, 'g4-korean');
    await page.keyboard.press('l');
  });

  test('analysts get no address search and no address', async () => {
    const analyst = await page.context().newPage();
    await login(analyst, server.url, 'analyst');
    assert.equal(await analyst.isVisible('#geo-form'), false);
    await analyst.click('#queue li button');
    await analyst.waitForSelector('#detail .detail-head');
    assert.equal(await analyst.locator('#detail .address').count(), 0);
    await analyst.close();
  });
});
