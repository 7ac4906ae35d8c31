// Address search for dispatchers, keyboard-first: `/` focuses the box; typing asks the server (debounced); ↓/↑
// choose; Enter moves the map to the chosen address (the first when none is chosen); Escape clears and returns to the
// queue. An older answer arriving after a newer one is dropped.

import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const geo = { results: [], active: -1, timer: null, seq: 0, api: null, centreOn: null };

export function focusAddressSearch() {
  if ($('geo-form').hidden) return;
  $('geo-q').focus();
  $('geo-q').select();
}

function renderGeoResults() {
  const list = $('geo-results');
  list.replaceChildren(...geo.results.map((r, i) => {
    const li = document.createElement('li');
    if (i === geo.active) li.className = 'active';
    li.textContent = r.address.label;
    li.id = `geo-r${i}`;
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', i === geo.active ? 'true' : 'false');
    li.addEventListener('mousedown', (e) => { e.preventDefault(); pickGeo(i); });
    return li;
  }));
  $('geo-q').setAttribute('aria-expanded', geo.results.length ? 'true' : 'false');
  if (geo.active >= 0) $('geo-q').setAttribute('aria-activedescendant', `geo-r${geo.active}`);
  else $('geo-q').removeAttribute('aria-activedescendant');
}

function clearGeo(status = '') {
  geo.results = [];
  geo.active = -1;
  $('geo-status').textContent = status;
  renderGeoResults();
}

async function searchGeo() {
  const q = $('geo-q').value.trim();
  const seq = ++geo.seq;
  if (!q) {
    clearGeo();
    return;
  }
  const res = await geo.api('GET', `/api/geocode?q=${encodeURIComponent(q.slice(0, 200))}&limit=8`);
  if (seq !== geo.seq) return;
  geo.results = res.results;
  geo.active = -1;
  $('geo-status').textContent = res.results.length ? '' : t('noAddressMatch');
  renderGeoResults();
}

function pickGeo(i) {
  const r = geo.results[i];
  if (!r) return;
  geo.centreOn(r.lat, r.lon);
  $('geo-q').value = r.address.label;
  clearGeo(r.address.label);
}

// Wires the search box: `api(method, path)` asks the server, `centreOn(lat, lon)` moves the map.
export function installAddressSearch(api, centreOn) {
  geo.api = api;
  geo.centreOn = centreOn;
  $('geo-form').addEventListener('submit', (e) => {
    e.preventDefault();
    pickGeo(geo.active >= 0 ? geo.active : 0);
  });
  $('geo-q').addEventListener('input', () => {
    clearTimeout(geo.timer);
    geo.timer = setTimeout(() => searchGeo().catch(() => {}), 150);
  });
  $('geo-q').addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!geo.results.length) return;
      const n = geo.results.length;
      geo.active = e.key === 'ArrowDown' ? (geo.active + 1) % n : (geo.active - 1 + n) % n;
      renderGeoResults();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      $('geo-q').value = '';
      clearGeo();
      $('geo-q').blur();
    }
  });
}
