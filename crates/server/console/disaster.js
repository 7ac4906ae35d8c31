// The disaster view (issue 20): the declared disasters; for the one selected, its area on the map, the people it
// asked counted per administrative area (a choropleth with a legend, and the same counts as a table, its text
// alternative), the triage queue (trapped, then injured, then need_help; the more vulnerable and the longest silent
// first; stale positions flagged), the teams (units) and the road closures, drawn on the map too.
//
// Keyboard-first like the rest of the console: W opens and leaves it (Escape leaves too), J/K or the arrows walk the
// triage queue and centre the map on the person, [ and ] choose the disaster, B closes a road at the map's centre
// (marked by a crosshair), N declares a disaster and C closes it (supervisors). Every button is reachable by Tab.
// The view reads the API every ten seconds while it is open: welfare answers are not on the live feed.
//
// What a role may do comes from the server (`may`): triage needs reveal_personal_data (positions and vulnerability
// are personal data; the server audits the read), closing roads close_roads, declaring declare_disasters.

import { t, fmtTime, fmtAge } from './i18n.js';

export const DISASTER_SHORTCUTS = [
  ['W / Esc', 'k_dview'], ['J / ↓, K / ↑', 'k_dnav'], ['[ / ]', 'k_dlist'], ['B', 'k_dblock'], ['N', 'k_ddeclare'],
  ['C', 'k_dclose'], ['L', 'k_lang'], ['?', 'k_help'],
];

const STATUSES = ['trapped', 'injured', 'need_help', 'safe', 'no_answer'];
export const STATUS_COLOURS = {
  trapped: '#b91c1c', injured: '#c2410c', need_help: '#a16207', safe: '#15803d', no_answer: '#6b7280',
};
// ColorBrewer OrRd, five classes: people in need per area.
const CLASSES = ['#fef0d9', '#fdcc8a', '#fc8d59', '#e34a33', '#b30000'];
// Each refresh reads the triage queue, an audited read of personal data: every ten seconds, not faster.
const REFRESH_MS = 10000;
const FLAGS = ['child', 'elderly', 'disability', 'medical'];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// `focusKey` names the button across re-renders, so a refresh does not take the keyboard focus away.
function button(label, key, fn, { id, disabled = false, cls = 'action', focusKey } = {}) {
  const b = el('button', cls);
  b.type = 'button';
  if (id) b.id = id;
  b.dataset.k = focusKey ?? id ?? label;
  if (key) b.append(el('kbd', null, key), ` ${label}`); else b.textContent = label;
  b.disabled = disabled;
  b.addEventListener('click', fn);
  return b;
}

function inNeed(c) {
  return c.trapped + c.injured + c.need_help;
}

// Rings of a GeoJSON Polygon or MultiPolygon, flattened (the map fills them even-odd, so holes stay holes).
function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
  return [];
}

// A circle of `radiusM` around (lat, lon) as a closed GeoJSON ring.
function circle(lat, lon, radiusM, n = 48) {
  const ring = [];
  for (let i = 0; i < n; i++) {
    const a = (i * 2 * Math.PI) / n;
    ring.push([lon + (radiusM * Math.cos(a)) / (111320 * Math.cos((lat * Math.PI) / 180)), lat + (radiusM * Math.sin(a)) / 111320]);
  }
  ring.push(ring[0]);
  return ring;
}

// Class breaks: five equal steps up to the largest count (at least 5, so one person does not look like a crisis).
function classOf(n, max) {
  if (n <= 0) return 0;
  const top = Math.max(max, 5);
  return Math.min(4, 1 + Math.floor(((n - 1) * 4) / top));
}

function classRange(k, max) {
  const top = Math.max(max, 5);
  if (k === 0) return '0';
  const lo = Math.ceil(((k - 1) * top) / 4) + 1;
  const hi = k === 4 ? top : Math.ceil((k * top) / 4);
  return lo >= hi ? String(lo) : `${lo}–${hi}`;
}

export class DisasterView {
  constructor({ side, detail, legend, api, may, map, openDialog, labelled, toast, units }) {
    Object.assign(this, { side, detail, legend, api, may, map, openDialog, labelled, toast, units });
    this.list = [];
    this.selected = null;
    this.data = null;
    this.triage = null;
    this.closures = [];
    this.person = -1;
    this.personId = null;
    this.timer = null;
    this.fitted = null;
    window.__jikimiDisaster = this;
  }

  get open() { return !this.side.hidden; }

  async show() {
    this.side.hidden = false;
    this.detail.hidden = false;
    this.legend.hidden = false;
    this.map.canvas.setAttribute('aria-describedby', 'd-areas-caption');
    await this.refresh();
    this.timer = setInterval(() => this.refresh().catch(() => {}), REFRESH_MS);
    this.side.querySelector('[aria-current="true"]')?.focus();
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
    this.side.hidden = true;
    this.detail.hidden = true;
    this.legend.hidden = true;
    this.map.canvas.removeAttribute('aria-describedby');
    this.fitted = null;
    this.map.setOverlay(null);
  }

  async refresh() {
    this.list = (await this.api('GET', '/api/disasters')).disasters;
    if (!this.list.some((d) => d.id === this.selected)) {
      this.selected = (this.list.find((d) => !d.closed_at) || this.list[0])?.id ?? null;
    }
    const id = this.selected;
    if (id) {
      const [data, triage, closures] = await Promise.all([
        this.api('GET', `/api/disasters/${id}`),
        this.may('reveal_personal_data') ? this.api('GET', `/api/disasters/${id}/triage`) : null,
        this.api('GET', '/api/closures'),
      ]);
      if (id !== this.selected) return;
      this.data = data;
      this.triage = triage;
      this.closures = closures;
      // The selection follows the person, not the row: the queue reorders as answers arrive.
      this.person = triage?.queue.findIndex((e) => e.subscriber_id === this.personId) ?? -1;
    } else {
      this.data = null;
      this.triage = null;
      this.closures = await this.api('GET', '/api/closures');
    }
    this.render();
  }

  select(id) {
    if (!id || id === this.selected) return;
    this.selected = id;
    this.person = -1;
    this.data = null;
    this.triage = null;
    this.refresh().catch(() => {});
  }

  move(delta) {
    const n = this.triage?.queue.length ?? 0;
    if (!n) return;
    this.person = this.person < 0 ? 0 : Math.min(Math.max(this.person + delta, 0), n - 1);
    this.personId = this.triage.queue[this.person].subscriber_id;
    const p = this.triage.queue[this.person].position;
    if (p) this.map.centreOn(p.coords?.lat ?? p.lat, p.coords?.lon ?? p.lon);
    this.renderDetail();
    this.updateOverlay();
    this.detail.querySelector('tr.selected button')?.focus();
  }

  moveDisaster(delta) {
    if (!this.list.length) return;
    const idx = this.list.findIndex((d) => d.id === this.selected);
    const next = this.list[Math.min(Math.max(idx + delta, 0), this.list.length - 1)];
    this.select(next.id);
  }

  // Keys while the view is open; returns whether the key was the view's.
  key(k) {
    const handlers = {
      j: () => this.move(1), ArrowDown: () => this.move(1), k: () => this.move(-1), ArrowUp: () => this.move(-1),
      '[': () => this.moveDisaster(-1), ']': () => this.moveDisaster(1), b: () => this.closeRoad(),
      n: () => this.declare(), c: () => this.closeDisaster(),
    };
    const h = handlers[k] || handlers[k.toLowerCase()];
    if (!h) return false;
    Promise.resolve(h()).catch(() => {});
    return true;
  }

  // ---- rendering -------------------------------------------------------------------------------------------
  render() {
    const focused = document.activeElement?.dataset?.k;
    this.renderSide();
    this.renderDetail();
    this.renderLegend();
    this.updateOverlay();
    if (focused && document.activeElement === document.body) {
      [...this.side.querySelectorAll('button'), ...this.detail.querySelectorAll('button')]
        .find((b) => b.dataset.k === focused)?.focus();
    }
  }

  renderSide() {
    const root = el('div', 'd-body');
    const head = el('div', 'actions');
    if (this.may('declare_disasters')) head.append(button(t('d_declare'), 'N', () => this.declare(), { id: 'd-declare' }));
    root.append(head);
    const list = el('ul', 'd-list');
    list.setAttribute('aria-label', t('d_disasters'));
    for (const d of this.list) {
      const li = el('li');
      const b = button('', null, () => this.select(d.id), { cls: 'd-item', focusKey: `disaster:${d.id}` });
      b.setAttribute('aria-current', d.id === this.selected ? 'true' : 'false');
      b.replaceChildren(el('strong', null, d.title), el('span', 'muted small', ` ${t(`d_kind_${d.kind}`)} · ${fmtTime(d.declared_at)}`),
        ...(d.closed_at ? [' ', el('span', 'd-closed', t('d_closedTag'))] : []));
      li.append(b);
      list.append(li);
    }
    root.append(this.list.length ? list : el('p', 'muted', t('d_none')));
    const d = this.data;
    if (d) {
      const s = el('section', 'block');
      s.append(el('h3', null, `${d.title}`));
      const counts = el('dl', 'd-counts');
      for (const st of STATUSES) {
        const dt = el('dt');
        dt.append(el('span', `sw d-${st}`), t(`d_${st}`));
        counts.append(dt, el('dd', `d-n-${st}`, String(d.counts[st])));
      }
      counts.append(el('dt', null, t('d_total')), el('dd', 'd-n-total', String(d.counts.total)));
      s.append(counts);
      if (this.may('declare_disasters') && !d.closed_at) s.append(button(t('d_closeDisaster'), 'C', () => this.closeDisaster(), { id: 'd-close' }));
      root.append(s);
      root.append(this.areaTable(d));
    }
    this.side.querySelector('.d-scroll').replaceChildren(root);
  }

  // The choropleth's text alternative: every area with its counts, most people in need first.
  areaTable(d) {
    const table = el('table', 'd-table');
    const caption = el('caption', null, d.area_kind === 'admin' ? t('d_perArea') : t('d_perCell'));
    caption.id = 'd-areas-caption';
    table.append(caption);
    const hr = el('tr');
    for (const h of ['d_area', 'd_trapped', 'd_injured', 'd_need_help', 'd_safe', 'd_no_answer']) {
      const th = el('th', null, t(h));
      th.scope = 'col';
      hr.append(th);
    }
    const thead = el('thead');
    thead.append(hr);
    table.append(thead);
    const body = el('tbody');
    const areas = [...d.areas].sort((a, b) => inNeed(b.counts) - inNeed(a.counts) || b.counts.total - a.counts.total);
    const max = Math.max(0, ...areas.map((a) => inNeed(a.counts)));
    for (const a of areas) {
      const tr = el('tr');
      const th = el('th', null, a.area === 'outside' ? t('d_outside') : a.area === 'unknown' ? t('d_unknown') : a.area);
      th.scope = 'row';
      const sw = el('span', 'sw');
      sw.style.background = CLASSES[classOf(inNeed(a.counts), max)];
      th.prepend(sw);
      tr.append(th);
      for (const st of STATUSES) tr.append(el('td', 'num', String(a.counts[st])));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  renderLegend() {
    const d = this.data;
    const ul = el('ul', 'd-legend-list');
    if (d) {
      const max = Math.max(0, ...d.areas.map((a) => inNeed(a.counts)));
      ul.append(el('li', 'd-legend-title', t('d_legendNeed')));
      for (let k = 0; k < CLASSES.length; k++) {
        const li = el('li');
        const sw = el('span', 'sw');
        sw.style.background = CLASSES[k];
        li.append(sw, classRange(k, max));
        ul.append(li);
      }
    }
    const items = [
      ['d-lg-area', t('d_legendArea')], ['d-lg-closed', t('d_legendClosed')],
      ['d-trapped', t('d_trapped')], ['d-injured', t('d_injured')], ['d-need_help', t('d_need_help')],
    ];
    for (const [cls, label] of items) {
      const li = el('li');
      li.append(el('span', `sw ${cls}`), label);
      ul.append(li);
    }
    this.legend.replaceChildren(ul);
    this.legend.setAttribute('aria-label', t('d_legend'));
  }

  renderDetail() {
    const blocks = [];
    // Triage queue.
    const tq = el('section', 'block');
    tq.append(el('h3', null, `${t('d_triage')}${this.triage ? ` (${this.triage.queue.length})` : ''}`));
    if (!this.may('reveal_personal_data')) {
      tq.append(el('p', 'muted', t('d_triageDenied')));
    } else if (!this.triage?.queue.length) {
      tq.append(el('p', 'muted', t('d_triageEmpty')));
    } else {
      const table = el('table', 'd-table d-triage');
      const cap = el('caption', 'sr-only', t('d_triage'));
      table.append(cap);
      const hr = el('tr');
      for (const h of ['d_rank', 'd_status', 'd_vulnerable', 'd_silent', 'd_battery', 'd_people', 'd_area']) {
        const th = el('th', null, t(h));
        th.scope = 'col';
        hr.append(th);
      }
      const thead = el('thead');
      thead.append(hr);
      const body = el('tbody');
      this.triage.queue.forEach((e, i) => {
        const tr = el('tr', i === this.person ? 'selected' : null);
        const rank = el('td');
        const b = button(String(e.rank), null, () => { this.person = i - 1; this.move(1); }, { cls: 'small-btn', focusKey: `person:${e.subscriber_id}` });
        b.setAttribute('aria-label', `${t('d_rank')} ${e.rank}: ${t(`d_${e.status}`)}`);
        if (i === this.person) b.setAttribute('aria-current', 'true');
        rank.append(b);
        const st = el('td');
        st.append(el('span', `d-badge d-${e.status}`, t(`d_${e.status}`)));
        if (e.stale_position) st.append(' ', el('span', 'd-stale', t('d_stale')));
        const flags = FLAGS.filter((f) => e.vulnerability?.[f]).map((f) => t(`d_v_${f}`)).join(', ');
        tr.append(rank, st, el('td', null, flags || '–'),
          el('td', 'num', e.silent_s === null || e.silent_s === undefined ? '–' : fmtAge(new Date(Date.now() - e.silent_s * 1000).toISOString())),
          el('td', `num${e.battery_pct !== null && e.battery_pct < 20 ? ' d-low' : ''}`, e.battery_pct === null || e.battery_pct === undefined ? '–' : `${e.battery_pct}%`),
          el('td', 'num', e.people ? String(e.people) : '–'), el('td', 'small', e.area ?? '–'));
        body.append(tr);
      });
      table.append(thead, body);
      tq.append(table);
    }
    blocks.push(tq);

    // Teams: the units, with whatever the server says of them.
    const teams = el('section', 'block');
    const units = [...this.units().values()].sort((a, b) => a.id.localeCompare(b.id));
    teams.append(el('h3', null, `${t('d_teams')} (${units.length})`));
    if (units.length) {
      const table = el('table', 'd-table');
      const hr = el('tr');
      for (const h of ['d_unit', 'd_unitStatus', 'd_unitKind']) {
        const th = el('th', null, t(h));
        th.scope = 'col';
        hr.append(th);
      }
      const thead = el('thead');
      thead.append(hr);
      const body = el('tbody');
      for (const u of units) {
        const st = el('td');
        st.append(el('span', `sw u-${u.status}`), t(`u_${u.status}`));
        const kind = [u.unit_type ?? u.kind ?? u.type, ...(u.capabilities || [])].filter(Boolean).join(', ');
        const tr = el('tr');
        tr.append(el('td', 'mono', u.id), st, el('td', null, kind || '–'));
        body.append(tr);
      }
      table.append(thead, body);
      teams.append(table);
    } else {
      teams.append(el('p', 'muted', t('none')));
    }
    blocks.push(teams);

    // Road closures.
    const rc = el('section', 'block');
    rc.append(el('h3', null, `${t('d_closures')} (${this.closures.length})`));
    const canClose = this.may('close_roads');
    if (canClose) rc.append(button(t('d_closeRoad'), 'B', () => this.closeRoad(), { id: 'd-close-road' }));
    if (this.closures.length) {
      const ul = el('ul', 'd-closures');
      for (const c of this.closures) {
        const li = el('li');
        li.append(el('strong', null, c.reason), el('span', 'muted small',
          ` ${fmtTime(c.closed_at)} · ${c.closed_by}${c.segments !== null && c.segments !== undefined ? ` · ${c.segments} ${t('d_segments')}` : ''} `));
        if (canClose) {
          const b = button(t('d_reopen'), null, () => this.reopen(c), { cls: 'small-btn', focusKey: `reopen:${c.id}` });
          b.setAttribute('aria-label', `${t('d_reopen')}: ${c.reason}`);
          li.append(b);
        }
        ul.append(li);
      }
      rc.append(ul);
    } else {
      rc.append(el('p', 'muted', t('d_noClosures')));
    }
    blocks.push(rc);
    this.detail.querySelector('.d-scroll').replaceChildren(...blocks);
  }

  updateOverlay() {
    const d = this.data;
    const polygons = [];
    const markers = [];
    if (d) {
      const max = Math.max(0, ...d.areas.map((a) => inNeed(a.counts)));
      for (const a of d.areas) {
        if (!a.boundary) continue;
        polygons.push({ rings: rings(a.boundary), fill: `${CLASSES[classOf(inNeed(a.counts), max)]}b3`, stroke: '#9a3412', width: 1 });
      }
      polygons.push({ rings: rings(d.area), stroke: '#7f1d1d', width: 3, dash: [10, 6] });
    }
    for (const c of this.closures) {
      const g = c.geometry;
      if (g?.type === 'Point') markers.push({ lon: g.coordinates[0], lat: g.coordinates[1], shape: 'x', colour: '#111827', size: 8 });
      else if (g?.type === 'MultiPoint') for (const [lon, lat] of g.coordinates) markers.push({ lon, lat, shape: 'x', colour: '#111827', size: 8 });
      else polygons.push({ rings: rings(g), fill: 'rgba(17,24,39,0.35)', stroke: '#111827', width: 2, dash: [4, 3] });
    }
    (this.triage?.queue || []).forEach((e, i) => {
      const p = e.position;
      if (!p) return;
      const sel = i === this.person;
      markers.push({ lat: p.coords?.lat ?? p.lat, lon: p.coords?.lon ?? p.lon, shape: 'diamond', colour: STATUS_COLOURS[e.status], size: sel ? 10 : 6, ring: sel ? '#111827' : null });
    });
    this.map.setOverlay({ polygons, markers, crosshair: true });
    // The first time a disaster is shown, the map frames its area.
    if (d && this.fitted !== d.id) {
      this.fitted = d.id;
      this.map.fit(rings(d.area).flat());
    }
  }

  // ---- actions ---------------------------------------------------------------------------------------------
  async declare() {
    if (!this.may('declare_disasters')) return;
    const [lat, lon] = [this.map.view.lat, this.map.view.lon];
    const form = el('div');
    const title = el('input');
    title.maxLength = 200;
    title.required = true;
    const kind = el('select');
    for (const k of ['earthquake', 'flood', 'other']) {
      const o = el('option', null, t(`d_kind_${k}`));
      o.value = k;
      kind.append(o);
    }
    const radius = el('input');
    radius.type = 'number';
    radius.min = '100';
    radius.max = '50000';
    radius.value = '1000';
    const cap = el('textarea');
    cap.rows = 4;
    form.append(this.labelled('d-title', t('d_title'), title), this.labelled('d-kind', t('d_kind'), kind),
      this.labelled('d-radius', t('d_radius'), radius), this.labelled('d-cap', t('d_cap'), cap));
    if (!(await this.openDialog(t('d_declare'), t('d_declare'), form))) return;
    let res;
    if (cap.value.trim()) {
      res = await this.api('POST', '/api/disasters', new Blob([cap.value.trim()], { type: 'application/cap+xml' }));
    } else {
      const r = Number(radius.value) || 1000;
      res = await this.api('POST', '/api/disasters', {
        kind: kind.value, title: title.value.trim(), area: { type: 'Polygon', coordinates: [circle(lat, lon, r)] },
      });
    }
    this.toast(`${t('d_declared')}: ${res.welfare.asked} ${t('d_asked')}`);
    this.selected = res.id;
    this.fitted = null;
    await this.refresh();
  }

  async closeDisaster() {
    const d = this.data;
    if (!d || d.closed_at || !this.may('declare_disasters')) return;
    if (!(await this.openDialog(t('d_closeDisaster'), t('d_closeDisaster'), el('p', null, `${d.title}: ${t('d_closeConfirm')}`)))) return;
    await this.api('POST', `/api/disasters/${d.id}/close`, {});
    await this.refresh();
  }

  async closeRoad() {
    if (!this.may('close_roads')) return;
    const [lat, lon] = [this.map.view.lat, this.map.view.lon];
    const form = el('div');
    form.append(el('p', 'muted small', `${t('d_atCentre')} ${lat.toFixed(5)}, ${lon.toFixed(5)}`));
    const shape = el('select');
    for (const k of ['point', 'area']) {
      const o = el('option', null, t(`d_shape_${k}`));
      o.value = k;
      shape.append(o);
    }
    const radius = el('input');
    radius.type = 'number';
    radius.min = '10';
    radius.max = '5000';
    radius.value = '100';
    const reason = el('input');
    reason.maxLength = 500;
    form.append(this.labelled('d-road-reason', t('d_reason'), reason), this.labelled('d-road-shape', t('d_shape'), shape),
      this.labelled('d-road-radius', t('d_radius'), radius));
    if (!(await this.openDialog(t('d_closeRoad'), t('d_closeRoad'), form))) return;
    const geometry = shape.value === 'point'
      ? { type: 'Point', coordinates: [lon, lat] }
      : { type: 'Polygon', coordinates: [circle(lat, lon, Number(radius.value) || 100, 24)] };
    await this.api('POST', '/api/closures', { geometry, reason: reason.value.trim() || t('d_closeRoad') });
    await this.refresh();
  }

  async reopen(c) {
    if (!this.may('close_roads')) return;
    const reason = el('input');
    reason.maxLength = 500;
    reason.value = t('d_reopenDefault');
    if (!(await this.openDialog(`${t('d_reopen')}: ${c.reason}`, t('d_reopen'), this.labelled('d-reopen-reason', t('d_reason'), reason)))) return;
    await this.api('POST', `/api/closures/${c.id}/reopen`, { reason: reason.value.trim() || t('d_reopenDefault') });
    await this.refresh();
  }
}
