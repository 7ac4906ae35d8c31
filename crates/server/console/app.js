// The dispatcher console: login, the live incident queue, the map, incident detail and actions with keyboard
// shortcuts. State arrives as a snapshot (GET /api/incidents, /api/units) and then as live events (live.js).
// Personal data is fetched only on an explicit, audited reveal, and never for analysts.
//
// Rendering cost is bounded by the screen, not by the city: live events are queued and applied once per animation
// frame; the queue is virtualised (only the rows in view, plus a few, exist in the DOM, so thousands of open
// incidents cost the same as twenty); ages tick only for those rows; the map is a canvas (map.js).

import { t, getLang, setLang, setTimeZone, getTimeZone, fmtTime, fmtAge } from './i18n.js';
import { LiveFeed } from './live.js';
import { MapView, UNIT_COLOURS } from './map.js';
import { askForm, twowayEventText } from './twoway.js';
import { MoneyView } from './money.js';
import { DisasterView, DISASTER_SHORTCUTS } from './disaster.js';
import { OperationsView } from './operations.js';
import { IdentifyView } from './identify.js';
import { installAddressSearch, focusAddressSearch } from './geosearch.js';

const $ = (id) => document.getElementById(id);
const OUTCOMES = ['arrest', 'rescue', 'assistance', 'false_alarm', 'abuse'];
const SHORTCUTS = [
  ['J / ↓, K / ↑', 'k_nav'], ['A', 'k_ack'], ['D', 'k_disp'], ['E', 'k_enr'], ['S', 'k_ons'],
  ['N', 'k_note'], ['Q', 'k_ask'], ['C', 'k_close'], ['R', 'k_reveal'], ['M', 'k_mute'], ['L', 'k_lang'], ['/', 'k_find'], ['W', 'k_dview'],
  ['O', 'k_ops'], ['?', 'k_help'],
];

const state = {
  token: sessionStorage.getItem('jikimi.token'),
  role: sessionStorage.getItem('jikimi.role'),
  username: sessionStorage.getItem('jikimi.user'),
  permissions: [],
  incidents: new Map(),
  units: new Map(),
  order: [],
  // Rendered rows by incident id: only the visible window of the queue.
  rows: new Map(),
  selected: null,
  detail: null,
  revealed: new Map(),
  muted: localStorage.getItem('jikimi.muted') === '1',
  feed: null,
  connected: false,
  snapshotLoading: false,
  pending: [],
};

// Test and benchmark hooks: when each incident first reached the DOM (epoch ms: its row was rendered, or, below the
// visible window, the queue and its count were updated), when its row was first rendered, and time spent applying
// events.
const hooks = { seen: new Map(), rendered: new Map(), applyMs: 0, events: 0, frames: 0, state };
window.__jikimi = hooks;

// What the role may do comes from the server's one role table (`GET /api/auth/me`), never a copy here.
const may = (permission) => state.permissions.includes(permission);
const canChange = () => may('change_operations');
const canReveal = () => may('reveal_personal_data');

// ---- HTTP ------------------------------------------------------------------------------------------------
// A Blob body (a file to upload) is sent as it is, FormData as multipart (the browser sets its type); anything else
// as JSON.
async function api(method, path, body) {
  const form = body instanceof FormData;
  const raw = body instanceof Blob || form;
  const res = await fetch(path, {
    method,
    headers: {
      ...(form ? {} : { 'content-type': raw ? (body.type || 'application/octet-stream') : 'application/json' }),
      ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}),
    },
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
  });
  if (res.status === 401 && state.token) {
    logout();
    throw new Error('unauthenticated');
  }
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const msg = json?.error?.message || `HTTP ${res.status}`;
    toast(msg);
    throw new Error(msg);
  }
  return json;
}

function toast(msg) {
  const el = document.createElement('div');
  el.className = 'toast';
  el.setAttribute('role', 'alert');
  el.textContent = msg;
  document.body.append(el);
  setTimeout(() => el.remove(), 5000);
}

// ---- audio -----------------------------------------------------------------------------------------------
let audio = null;
function beep(urgent) {
  if (state.muted) return;
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (let i = 0; i < (urgent ? 3 : 1); i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = urgent ? 1046 : 660;
      gain.gain.setValueAtTime(0.0001, now + i * 0.22);
      gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.22 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.22 + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.22);
      osc.stop(now + i * 0.22 + 0.2);
    }
  } catch {
    // No audio device: the visual highlight remains.
  }
}

// ---- static text -----------------------------------------------------------------------------------------
function applyStrings() {
  document.documentElement.lang = getLang();
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('map').setAttribute('aria-label', t('map'));
  $('mute').textContent = state.muted ? t('unmute') : t('mute');
  $('mute').setAttribute('aria-pressed', String(state.muted));
  const shortcuts = disaster?.open ? DISASTER_SHORTCUTS : SHORTCUTS;
  $('shortcut-bar').replaceChildren(...shortcuts.map(([k, key]) => {
    const span = document.createElement('span');
    const kbd = document.createElement('kbd');
    kbd.textContent = k;
    span.append(kbd, ` ${t(key)}`);
    return span;
  }));
  $('help-list').replaceChildren(...shortcuts.flatMap(([k, key]) => {
    const dt = document.createElement('dt');
    const kbd = document.createElement('kbd');
    kbd.textContent = k;
    dt.append(kbd);
    const dd = document.createElement('dd');
    dd.textContent = t(key);
    return [dt, dd];
  }));
  if (state.username) $('whoami').textContent = `${state.username} (${state.role})`;
  if (!$('money-view').hidden) money.render();
  if (disaster?.open) disaster.render();
  if (!$('ops-view').hidden) ops.render();
  if (!$('identify-view').hidden) identify.render();
  renderQueue();
  renderDetail();
  renderConn();
}

function renderConn() {
  $('conn').textContent = state.connected ? `● ${t('live')}` : `○ ${t('offline')}`;
  $('conn').className = state.connected ? 'conn ok' : 'conn down';
}

// ---- queue -----------------------------------------------------------------------------------------------
// Every row has the same height (style.css `.queue li`), so the window in view follows from scrollTop alone and
// nothing has to be measured.
const ROW_H = 46;
const OVERSCAN = 6;

function cmp(a, b) {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.opened_at !== b.opened_at) return a.opened_at < b.opened_at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function insertPos(inc) {
  let lo = 0;
  let hi = state.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(state.incidents.get(state.order[mid]), inc) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Fills a row from its incident; skips the DOM when nothing it shows has changed.
function renderRow(li, inc, pos) {
  const selected = inc.id === state.selected;
  const key = `${inc.last_seq}|${inc.priority}|${inc.status}|${inc.n_fixes}|${inc.assigned_unit}|${inc.duress}|${selected}|${getLang()}`;
  if (li.dataset.key !== key) {
    li.dataset.key = key;
    li.className = `q p${inc.priority} s-${inc.status}${inc.duress ? ' duress' : ''}${selected ? ' selected' : ''}`;
    const b = li.firstChild;
    b.setAttribute('aria-current', selected ? 'true' : 'false');
    const st = el('span', 'st');
    if (inc.duress) st.append(el('span', 'duress-tag', t('duress')), ' ');
    st.append(t(`s_${inc.status}`));
    if (inc.assigned_unit) st.append(' ', el('span', 'unit', inc.assigned_unit));
    b.replaceChildren(
      el('span', 'badge', `${t('code')} ${inc.priority}`),
      st,
      el('span', 'age', fmtAge(inc.opened_at)),
      el('span', 'iid', inc.id.slice(-8)),
      el('span', 'rep', reportText(Math.max(1, inc.n_fixes || 1))),
    );
  }
  const posinset = String(pos + 1);
  const setsize = String(state.order.length);
  if (li.getAttribute('aria-posinset') !== posinset) li.setAttribute('aria-posinset', posinset);
  if (li.getAttribute('aria-setsize') !== setsize) li.setAttribute('aria-setsize', setsize);
}

function newRow(id) {
  const li = el('li');
  li.dataset.id = id;
  const b = el('button', 'row-button');
  b.type = 'button';
  b.addEventListener('click', () => select(id));
  li.append(b);
  return li;
}

function reportText(n) {
  if (getLang() === 'ko') return `신고 ${n}건`;
  return `${n} report${n === 1 ? '' : 's'}`;
}

const queueView = { scrollTop: 0, height: 0, first: -1 };

// Puts the rows of the visible window (and a few either side) into the list, in queue order; removes the rest.
function renderQueue() {
  const n = state.order.length;
  const first = Math.max(0, Math.floor(queueView.scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(n, Math.ceil((queueView.scrollTop + Math.max(queueView.height, ROW_H)) / ROW_H) + OVERSCAN);
  const list = $('queue');
  const want = new Set(state.order.slice(first, last));
  for (const [id, li] of state.rows) {
    if (!want.has(id)) {
      li.remove();
      state.rows.delete(id);
    }
  }
  const now = Date.now();
  let cursor = list.firstChild;
  for (let i = first; i < last; i++) {
    const id = state.order[i];
    let li = state.rows.get(id);
    if (!li) {
      li = newRow(id);
      state.rows.set(id, li);
      if (!hooks.rendered.has(id)) hooks.rendered.set(id, now);
    }
    renderRow(li, state.incidents.get(id), i);
    if (li !== cursor) list.insertBefore(li, cursor);
    else cursor = cursor.nextSibling;
  }
  if (queueView.first !== first) {
    queueView.first = first;
    list.style.transform = `translateY(${first * ROW_H}px)`;
  }
  const height = `${n * ROW_H}px`;
  if ($('queue-sizer').style.height !== height) $('queue-sizer').style.height = height;
  const count = `(${n})`;
  if ($('queue-count').textContent !== count) $('queue-count').textContent = count;
  $('queue-empty').hidden = n > 0;
}

function scrollQueueTo(id) {
  const idx = state.order.indexOf(id);
  if (idx < 0) return;
  const top = idx * ROW_H;
  const scroller = $('queue-scroll');
  if (top < queueView.scrollTop) scroller.scrollTop = top;
  else if (top + ROW_H > queueView.scrollTop + queueView.height) scroller.scrollTop = top + ROW_H - queueView.height;
  queueView.scrollTop = scroller.scrollTop;
}

function installQueue() {
  const scroller = $('queue-scroll');
  scroller.addEventListener('scroll', () => {
    queueView.scrollTop = scroller.scrollTop;
    scheduleFlush();
  }, { passive: true });
  new ResizeObserver((entries) => {
    queueView.height = entries[entries.length - 1].contentRect.height;
    scheduleFlush();
  }).observe(scroller);
}

// Applies one incident to the model; returns whether the queue's order or content changed.
function upsertIncident(inc, fresh, quiet) {
  const old = state.incidents.get(inc.id);
  if (old && old.last_seq > inc.last_seq) return false;
  state.incidents.set(inc.id, inc);
  map.setIncident(inc);
  const wasOpen = old && old.status !== 'closed';
  const isOpen = inc.status !== 'closed';
  if (wasOpen && (!isOpen || cmp(old, inc) !== 0)) {
    const idx = state.order.indexOf(inc.id);
    if (idx >= 0) state.order.splice(idx, 1);
  }
  if (isOpen && (!wasOpen || cmp(old, inc) !== 0)) state.order.splice(insertPos(inc), 0, inc.id);
  if (isOpen && !hooks.seen.has(inc.id)) fresh.push(inc.id);
  if (!old && isOpen && !quiet && inc.status === 'received') fresh.cue = Math.min(fresh.cue ?? 9, inc.priority);
  // A duress PIN on an incident already on screen is as urgent as a new code 0: sound the cue again.
  if (old && !old.duress && inc.duress && isOpen && !quiet) fresh.cue = 0;
  if (inc.id === state.selected) scheduleDetail();
  return true;
}

function upsertUnit(unit) {
  state.units.set(unit.id, unit);
  map.setUnit(unit);
  const inc = state.detail?.incident;
  // The assigned unit's status is shown at once (a dispatcher must never read "available" for the unit just sent);
  // the recommendation table can wait for the next batched render.
  if (inc?.assigned_unit === unit.id) renderDetail();
  else if (inc?.recommendations.some((r) => r.unit === unit.id)) scheduleDetailRender();
}

// ---- per-frame batching ----------------------------------------------------------------------------------
// Incident events wait in `inbox` for the next animation frame (or a timer, should frames be throttled) and are
// then applied together: one queue render per frame, however many arrived. Unit positions, hundreds a second, are
// only drawn on the map, which redraws at most every UNIT_MS: they wait in `unitInbox` (latest per unit) and are
// applied on that beat, so they never cost a frame of their own.
const inbox = [];
let flushPending = false;
let flushTimer = null;
const UNIT_MS = 250;
const unitInbox = new Map();
let unitTimer = null;

function queueUnit(unit) {
  unitInbox.set(unit.id, unit);
  unitTimer ??= setTimeout(flushUnits, UNIT_MS);
}

function flushUnits() {
  unitTimer = null;
  const t0 = performance.now();
  for (const unit of unitInbox.values()) upsertUnit(unit);
  hooks.events += unitInbox.size;
  unitInbox.clear();
  hooks.applyMs += performance.now() - t0;
}

function scheduleFlush() {
  if (flushPending) return;
  flushPending = true;
  requestAnimationFrame(flush);
  flushTimer = setTimeout(flush, 200);
}

function flush() {
  if (!flushPending) return;
  flushPending = false;
  clearTimeout(flushTimer);
  const t0 = performance.now();
  const events = inbox.splice(0);
  const fresh = [];
  for (const [kind, payload, quiet] of events) {
    if (kind === 'incident') upsertIncident(payload, fresh, quiet);
    else if (kind === 'unit') upsertUnit(payload);
  }
  renderQueue();
  // One audible cue per frame however many alerts arrived in it, urgent if any was code 0.
  if (fresh.cue !== undefined) beep(fresh.cue === 0);
  if (fresh.length) {
    const now = Date.now();
    for (const id of fresh) hooks.seen.set(id, hooks.rendered.get(id) ?? now);
  }
  hooks.applyMs += performance.now() - t0;
  hooks.events += events.length;
  hooks.frames++;
}

// ---- live feed -------------------------------------------------------------------------------------------
function onEvent(kind, payload) {
  if (state.snapshotLoading) {
    state.pending.push([kind, payload]);
    return;
  }
  if (kind === 'unit') {
    // The selected incident's own unit skips the map's beat: its status is read from the detail panel.
    if (state.detail?.incident.assigned_unit === payload.id) {
      unitInbox.delete(payload.id); // an older queued state must not overwrite this one on the next beat
      upsertUnit(payload);
    } else queueUnit(payload);
    return;
  }
  inbox.push([kind, payload]);
  scheduleFlush();
}

// An answer to one of our own actions: applied at once, so the next keystroke sees the new state.
function applyNow(kind, payload) {
  inbox.push([kind, payload]);
  flushPending = true;
  flush();
}

async function loadSnapshot() {
  // Positions received before the snapshot are older than it: apply them first, never after.
  clearTimeout(unitTimer);
  flushUnits();
  state.snapshotLoading = true;
  try {
    const [incidents, units] = await Promise.all([
      api('GET', '/api/incidents?status=open&limit=10000'),
      api('GET', '/api/units'),
    ]);
    const open = new Set(incidents.map((i) => i.id));
    for (const id of state.order) {
      if (!open.has(id)) {
        // Closed while we were away: the queue and map drop it.
        const gone = state.incidents.get(id);
        inbox.push(['incident', { ...gone, status: 'closed', last_seq: gone.last_seq + 1 }, true]);
      }
    }
    // The snapshot is what is already there: no audible cue for it.
    for (const inc of incidents) inbox.push(['incident', inc, true]);
    for (const u of units) inbox.push(['unit', u]);
  } finally {
    state.snapshotLoading = false;
    inbox.push(...state.pending);
    state.pending = [];
    flushPending = true;
    flush();
  }
  if (state.selected) loadDetail();
}

function startFeed() {
  state.feed?.stop();
  state.feed = new LiveFeed({
    token: state.token,
    onEvent,
    onResync: () => loadSnapshot().catch(() => {}),
    onState: (up, why) => {
      state.connected = up;
      renderConn();
      if (why === 'unauthenticated') logout();
    },
  });
  state.feed.start();
}

// ---- detail ----------------------------------------------------------------------------------------------
let detailTimer = null;
function scheduleDetail() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(loadDetail, 100);
}
let renderTimer = null;
function scheduleDetailRender() {
  if (renderTimer) return;
  renderTimer = setTimeout(() => { renderTimer = null; renderDetail(); }, 500);
}

function select(id) {
  state.selected = id;
  scrollQueueTo(id);
  renderQueue();
  map.select(id);
  state.detail = null;
  renderDetail();
  loadDetail();
}

async function loadDetail() {
  const id = state.selected;
  if (!id) return;
  const detail = await api('GET', `/api/incidents/${id}`);
  if (state.selected !== id) return;
  state.detail = detail;
  if (detail.incident.last_seq >= (state.incidents.get(id)?.last_seq ?? 0)) {
    state.incidents.set(id, detail.incident);
  }
  const inc = detail.incident;
  if (canChange() && inc.status !== 'closed' && inc.location && inc.recommendations.length === 0 && !inc.assigned_unit) {
    api('POST', `/api/incidents/${id}/recommend`, {}).then((dto) => applyNow('incident', dto)).catch(() => {});
  }
  renderDetail();
}

function fmtEta(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.round(s % 60)).padStart(2, '0')}`;
}

function section(title, ...children) {
  const s = el('section', 'block');
  s.append(el('h3', null, title), ...children);
  return s;
}

function actionButton(label, key, enabled, fn, id) {
  const b = el('button', 'action');
  b.type = 'button';
  if (id) b.id = id;
  const k = el('kbd', null, key);
  b.append(k, ` ${label}`);
  b.disabled = !enabled;
  b.addEventListener('click', fn);
  return b;
}

function eventText(ev) {
  const e = ev.event;
  switch (e.type) {
    case 'alert_received':
      return `${t('code')} ${e.priority}${e.silent ? `, ${t('silent')}` : ''}`;
    case 'location_added':
      return e.fix ? `${e.fix.coords.lat.toFixed(5)}, ${e.fix.coords.lon.toFixed(5)} ±${Math.round(e.fix.accuracy_m)} m` : '';
    case 'unit_recommended':
      return (e.recommendations || []).map((r) => r.unit).join(', ');
    case 'dispatched': case 'en_route': case 'on_scene':
      return e.unit || '';
    case 'note_added':
      return e.text || '';
    case 'closed':
      return t(`o_${e.outcome}`);
    case 'escalated':
      return `${t('code')} ${e.priority}${e.reason === 'duress' ? `, ${t('duressReason')}` : ''}`;
    case 'referred':
      return `${t('referredFrom')} ${e.from_agency}, ${t('code')} ${e.priority}${e.address ? `, ${e.address}` : ''}`;
    case 'report_added':
      return e.fix ? `${e.fix.coords.lat.toFixed(5)}, ${e.fix.coords.lon.toFixed(5)} ±${Math.round(e.fix.accuracy_m)} m` : '';
    case 'question_sent': case 'answer_received':
      return twowayEventText(ev, state.detail?.events || []);
    default:
      return '';
  }
}

// "1 attempt", "2 attempts": the count with its noun in the right number (Korean has one form).
function attemptCount(n) {
  return `${n} ${t(n === 1 ? 'nAttempt' : 'nAttempts')}`;
}

// Guardian notification status, one entry per notifying event: "Alert received: delivered 09:01 · Dispatched: pending (2 attempts)".
function notifyText(list) {
  if (!list.length) return t('notNotified');
  return list.map((n) => {
    const st = n.status === 'delivered' ? `${t('nDelivered')} ${fmtTime(n.delivered_at)}`
      : n.status === 'dead_lettered' ? `${t('nDead')} (${attemptCount(n.attempts)}${n.last_error ? `, ${n.last_error}` : ''})`
      : `${t('nPending')}${n.attempts ? ` (${attemptCount(n.attempts)}${n.last_error ? `, ${n.last_error}` : ''})` : ''}`;
    return `${t(`e_${n.event}`)}: ${st}`;
  }).join(' · ');
}

// "Caller's language: Vietnamese · Tiếng Việt": the name in the console's language, then in its own (marked with its
// language, so a screen reader says it right); a language the service lacks shows its tag.
function callerLanguageLine(cl) {
  const p = el('p', 'caller-lang');
  p.id = 'caller-language';
  p.append(el('span', 'muted', `${t('callerLanguage')}: `));
  if (cl.supported) {
    const name = el('strong', null, t(`lang-${cl.supported}`));
    p.append(name);
    if (cl.native && cl.native !== name.textContent) {
      const native = el('span', null, cl.native);
      native.lang = cl.supported;
      p.append(' · ', native);
    }
  } else {
    p.append(el('strong', 'mono', cl.tag));
  }
  return p;
}

function renderDetail() {
  const root = $('detail');
  const d = state.detail;
  if (!state.selected) {
    root.replaceChildren(el('p', 'muted', t('noSelection')));
    return;
  }
  if (!d) {
    root.replaceChildren(el('p', 'muted', '…'));
    return;
  }
  const inc = d.incident;
  const open = inc.status !== 'closed';
  const head = el('div', `detail-head p${inc.priority}`);
  head.append(
    el('span', 'badge big', `${t('code')} ${inc.priority}`),
    el('span', 'st', t(`s_${inc.status}`)),
    el('span', 'muted', `${t('opened')} ${fmtTime(inc.opened_at)} (${getTimeZone()})`),
  );
  const idLine = el('p', 'mono small', inc.id);
  // The language the caller reads (from registration), so the dispatcher can answer in it or call an interpreter.
  const callerLang = d.caller_language ? callerLanguageLine(d.caller_language) : null;
  // The caller was answered as for a genuine cancel; only staff know. Say so where no one can miss it.
  const duress = inc.duress ? el('p', 'duress-banner', t('duressBanner')) : null;
  if (duress) duress.setAttribute('role', 'alert');
  const rec = inc.recommendations[0];
  const actions = el('div', 'actions');
  const cc = canChange();
  actions.append(
    actionButton(t('acknowledge'), 'A', cc && inc.status === 'received', () => act('acknowledge'), 'act-ack'),
    actionButton(`${t('dispatch')}${rec ? ` ${rec.unit}` : ''}`, 'D', cc && ['received', 'acknowledged'].includes(inc.status), dispatchRecommended, 'act-dispatch'),
    actionButton(t('enRoute'), 'E', cc && inc.status === 'dispatched', () => act('en-route'), 'act-enroute'),
    actionButton(t('onScene'), 'S', cc && ['dispatched', 'en_route'].includes(inc.status), () => act('on-scene'), 'act-onscene'),
    actionButton(t('note'), 'N', cc && open, addNote, 'act-note'),
    actionButton(t('ask'), 'Q', cc && open, ask, 'act-ask'),
    actionButton(t('close'), 'C', cc && open, closeIncident, 'act-close'),
  );
  const blocks = [head, duress, idLine, callerLang, actions].filter(Boolean);
  if (inc.assigned_unit) {
    const u = state.units.get(inc.assigned_unit);
    blocks.push(el('p', 'assigned', `${t('assigned')}: ${inc.assigned_unit}${u ? ` (${t(`u_${u.status}`)})` : ''}`));
  }
  if (inc.outcome) blocks.push(el('p', 'assigned', `${t('outcome')}: ${t(`o_${inc.outcome}`)}`));
  if (inc.address) {
    // From the OpenStreetMap address data; a street answer (no house number) also names the nearest crossing.
    const a = inc.address;
    const cross = a.method === 'street' && a.cross_street ? ` (${t('crossStreet')} ${a.cross_street})` : '';
    const p = el('p', 'address');
    p.append(el('strong', null, `${t('addressL')}: `), `${a.label}${cross}`, el('span', 'muted small', ` ${t('osmAttribution')}`));
    blocks.push(p);
  }

  // Recommended units with ETA and distance.
  const table = el('table', 'recs');
  const thead = el('tr');
  for (const h of ['#', t('units'), t('eta'), t('distance'), t('status'), '']) thead.append(el('th', null, h));
  table.append(thead);
  inc.recommendations.forEach((r, i) => {
    const tr = el('tr');
    const u = state.units.get(r.unit);
    const btn = el('button', 'small-btn', t('dispatch'));
    btn.type = 'button';
    btn.disabled = !(cc && ['received', 'acknowledged'].includes(inc.status));
    btn.setAttribute('aria-label', `${t('dispatch')} ${r.unit}`);
    btn.addEventListener('click', () => dispatch(r.unit));
    const st = el('td');
    if (u) {
      const sw = el('span', `sw u-${u.status}`);
      st.append(sw, ` ${t(`u_${u.status}`)}`);
    }
    const act = el('td');
    act.append(btn);
    tr.append(el('td', null, String(i + 1)), el('td', 'mono', r.unit), el('td', null, fmtEta(r.eta_s)),
      el('td', null, `${(r.distance_m / 1000).toFixed(2)} km`), st, act);
    table.append(tr);
  });
  blocks.push(section(t('recommended'), inc.recommendations.length ? table : el('p', 'muted', open ? t('noUnits') : t('none'))));

  // Subscriber: personal data only on an explicit, audited click, never for analysts.
  // Analysts get no subscriber id at all (the analyst view), so the role is asked first.
  const sub = el('div');
  if (!canReveal()) {
    sub.append(el('p', 'muted', t('noPersonalData')));
    // Without personal data: guardians by ordinal, with their notification status.
    const ns = d.notifications || [];
    for (const g of [...new Set(ns.map((n) => n.guardian))]) {
      sub.append(el('p', 'notify', `${t('guardianN')} ${g} — ${notifyText(ns.filter((n) => n.guardian === g))}`));
    }
  } else if (!inc.subscriber_id) {
    sub.append(el('p', 'muted', t('none')));
  } else {
    const shown = state.revealed.get(inc.subscriber_id);
    if (!shown) {
      // The server reveals only for an open incident of this subscriber.
      sub.append(actionButton(t('reveal'), 'R', open, reveal, 'act-reveal'));
    } else {
      const dl = el('dl', 'fields');
      for (const f of ['name', 'phone', 'birth_date', 'address', 'notes']) {
        if (shown.fields[f] === undefined) continue;
        dl.append(el('dt', null, t(`${f}F`)), el('dd', `pd-${f}`, shown.fields[f]));
      }
      const gl = el('ul', 'guardians');
      for (const g of shown.guardians) {
        const li = el('li');
        const ch = (g.channels || []).map((c) => `${c.kind}: ${c.address}`).join(', ');
        li.append(el('strong', null, g.name), ` ${g.relation ? `(${g.relation}) ` : ''}${ch} `, el('span', 'notify', `— ${notifyText((d.notifications || []).filter((n) => n.guardian_id === g.id))}`));
        gl.append(li);
      }
      sub.append(dl, el('h4', null, t('guardians')), shown.guardians.length ? gl : el('p', 'muted', t('none')));
    }
  }
  blocks.push(section(t('subscriber'), sub));

  // Location history.
  const locs = el('ol', 'locs');
  for (const ev of d.events) {
    const fix = ev.event.fix;
    if (!fix) continue;
    const where = fix.address ? ` — ${fix.address.label}` : '';
    locs.append(el('li', null, `${fmtTime(fix.at)} — ${fix.coords.lat.toFixed(5)}, ${fix.coords.lon.toFixed(5)} ±${Math.round(fix.accuracy_m)} m (${fix.method})${where}`));
  }
  blocks.push(section(t('locations'), locs));

  // Timeline.
  const tl = el('ol', 'timeline');
  for (const ev of d.events) {
    const li = el('li', ev.event.type === 'answer_received' ? 'answer' : null);
    li.append(el('time', null, fmtTime(ev.at)), ' ', el('strong', null, t(`e_${ev.event.type}`)), ` ${eventText(ev)} `, el('span', 'muted', ev.actor));
    tl.append(li);
  }
  blocks.push(section(t('timeline'), tl));
  root.replaceChildren(...blocks);
}

// ---- actions ---------------------------------------------------------------------------------------------
async function act(action, body = {}) {
  const id = state.selected;
  if (!id || !canChange()) return;
  const dto = await api('POST', `/api/incidents/${id}/${action}`, body);
  applyNow('incident', dto);
  loadDetail();
}

async function dispatch(unit) {
  await act('dispatch', { unit });
}

async function dispatchRecommended() {
  const inc = state.incidents.get(state.selected);
  if (!inc || !canChange() || !['received', 'acknowledged'].includes(inc.status)) return;
  let rec = inc.recommendations.find((r) => state.units.get(r.unit)?.status !== 'dispatched');
  if (!rec) {
    const fresh = await api('POST', `/api/incidents/${inc.id}/recommend`, {});
    applyNow('incident', fresh);
    rec = fresh.recommendations[0];
  }
  if (!rec) {
    toast(t('noUnits'));
    return;
  }
  await dispatch(rec.unit);
}

function openDialog(title, okLabel, body) {
  return new Promise((resolve) => {
    const dlg = $('dialog');
    $('dialog-title').textContent = title;
    $('dialog-ok').textContent = okLabel;
    $('dialog-cancel').textContent = t('cancel');
    $('dialog-body').replaceChildren(body);
    const done = (ok) => {
      dlg.onclose = null;
      if (dlg.open) dlg.close();
      resolve(ok);
    };
    $('dialog-cancel').onclick = () => done(false);
    dlg.onclose = () => resolve(dlg.returnValue === 'ok');
    dlg.returnValue = '';
    dlg.showModal();
    body.querySelector('input, textarea, select')?.focus();
  });
}

function labelled(id, label, control) {
  const wrap = el('div', 'field');
  const l = el('label', null, label);
  l.htmlFor = id;
  control.id = id;
  wrap.append(l, control);
  return wrap;
}

async function addNote() {
  if (!state.selected || !canChange()) return;
  const ta = el('textarea');
  ta.rows = 4;
  ta.maxLength = 4000;
  if (!(await openDialog(t('note'), t('save'), labelled('note-text', t('note'), ta)))) return;
  if (ta.value.trim()) await act('notes', { text: ta.value.trim() });
}

// A silent question to the caller's device (app or terminal); the answer arrives in the timeline by the live feed.
async function ask() {
  const inc = state.incidents.get(state.selected);
  if (!inc || !canChange() || inc.status === 'closed') return;
  const form = askForm(inc);
  if (!(await openDialog(t('ask'), t('askSend'), form.body))) return;
  const { req, error } = form.read();
  if (!req) {
    toast(error);
    return;
  }
  try {
    const sent = await api('POST', `/api/incidents/${inc.id}/messages`, req);
    applyNow('incident', sent.incident);
    toast(sent.device_text ? `${t('askShown')}: ${sent.device_text}` : t('askWithheld'));
    loadDetail();
  } catch {
    // api() has shown the server's message.
  }
}

async function closeIncident() {
  if (!state.selected || !canChange()) return;
  const sel = el('select');
  for (const o of OUTCOMES) {
    const opt = el('option', null, t(`o_${o}`));
    opt.value = o;
    sel.append(opt);
  }
  if (!(await openDialog(t('close'), t('close'), labelled('close-outcome', t('outcome'), sel)))) return;
  await act('close', { outcome: sel.value });
}

async function reveal() {
  const inc = state.incidents.get(state.selected);
  if (!inc?.subscriber_id || !canReveal() || inc.status === 'closed') return;
  const input = el('input');
  input.value = `incident ${inc.id} open (${t(`s_${inc.status}`)}): contacting the subscriber`;
  if (!(await openDialog(t('reveal'), t('reveal'), labelled('reveal-reason', t('revealReason'), input)))) return;
  // Tied to this incident: the server checks it is open and this subscriber's.
  const details = await api('POST', `/api/subscribers/${inc.subscriber_id}/reveal`, { reason: input.value, incident_id: inc.id });
  state.revealed.set(inc.subscriber_id, details);
  renderDetail();
}

// ---- keyboard --------------------------------------------------------------------------------------------
function move(delta) {
  if (!state.order.length) return;
  const idx = state.order.indexOf(state.selected);
  const next = idx < 0 ? 0 : Math.min(Math.max(idx + delta, 0), state.order.length - 1);
  select(state.order[next]);
}

document.addEventListener('keydown', (e) => {
  if ($('console-view').hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  // The money, operations and identify views have their own keys; the queue's shortcuts are not for them.
  if (['money-view', 'ops-view', 'identify-view'].some((v) => !$(v).hidden)) return;
  if (e.target.closest?.('input, textarea, select, dialog')) return;
  const k = e.key;
  // The disaster view has its own keys (disaster.js); W or Escape leaves it.
  if (disaster.open && !['m', 'l', '?', '/'].includes(k.toLowerCase())) {
    if (k === 'Escape' || k.toLowerCase() === 'w' || disaster.key(k)) e.preventDefault();
    if (k === 'Escape' || k.toLowerCase() === 'w') toggleDisaster().catch(() => {});
    return;
  }
  const handlers = {
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    a: () => act('acknowledge'), d: dispatchRecommended, e: () => act('en-route'), s: () => act('on-scene'),
    n: addNote, q: ask, c: closeIncident, r: reveal, m: toggleMute, l: toggleLang, '?': () => $('help').showModal(),
    '/': focusAddressSearch, w: () => toggleDisaster(),
    o: () => may('joint_operations') && toggleView('ops'),
  };
  const h = handlers[k] || handlers[k.toLowerCase()];
  if (!h) return;
  e.preventDefault();
  Promise.resolve(h()).catch(() => {});
});

function toggleMute() {
  state.muted = !state.muted;
  localStorage.setItem('jikimi.muted', state.muted ? '1' : '0');
  applyStrings();
}

function toggleLang() {
  setLang(getLang() === 'ko' ? 'en' : 'ko');
  applyStrings();
}

// ---- address search (dispatchers): geosearch.js ----------------------------------------------------------
installAddressSearch(api, (lat, lon) => map.centreOn(lat, lon));

// ---- login -----------------------------------------------------------------------------------------------
function logout() {
  if (state.token) fetch('/api/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${state.token}` } }).catch(() => {});
  state.feed?.stop();
  state.token = null;
  sessionStorage.clear();
  location.reload();
}

async function enterConsole() {
  $('login-view').hidden = true;
  $('console-view').hidden = false;
  applyStrings();
  const [me, cfg, base] = await Promise.all([
    api('GET', '/api/auth/me'),
    api('GET', '/api/console/config'),
    api('GET', '/api/map/base'),
  ]);
  state.role = me.role;
  state.permissions = me.permissions;
  $('money-button').hidden = !may('trace_funds');
  $('ops-button').hidden = !may('joint_operations');
  $('identify-button').hidden = !may('identify');
  $('geo-form').hidden = !canChange();
  $('freeze-link').hidden = !may('request_freeze');
  $('disaster-button').hidden = !may('read_operations');
  setTimeZone(cfg.time_zone);
  map.setBase(base);
  startFeed();
  setInterval(tick, 1000);
  tick();
}

// Once a second: the clock and the ages of the rendered rows (never the thousands outside the window).
function tick() {
  $('clock').textContent = `${fmtTime(Date.now())} ${getTimeZone()}`;
  const now = Date.now();
  for (const [id, li] of state.rows) {
    const age = li.firstChild.children[2];
    const text = fmtAge(state.incidents.get(id).opened_at, now);
    if (age && age.textContent !== text) age.textContent = text;
  }
  renderSummary();
}

function renderSummary() {
  const text = `${map.drawn.incidents.size} ${t('open')} · ${map.drawn.units.size} ${t('units')}`;
  if ($('map-summary').textContent !== text) $('map-summary').textContent = text;
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    audio ??= new AudioContext();
  } catch {
    // No audio.
  }
  try {
    const res = await api('POST', '/api/auth/login', { username: $('login-user').value, password: $('login-pass').value });
    state.token = res.token;
    state.role = res.role;
    state.username = $('login-user').value;
    sessionStorage.setItem('jikimi.token', res.token);
    sessionStorage.setItem('jikimi.role', res.role);
    sessionStorage.setItem('jikimi.user', state.username);
    await enterConsole();
  } catch {
    $('login-error').textContent = t('loginFailed');
  }
});

for (const b of document.querySelectorAll('.lang-toggle')) b.addEventListener('click', toggleLang);
$('mute').addEventListener('click', toggleMute);
$('logout').addEventListener('click', logout);
$('help-button').addEventListener('click', () => $('help').showModal());

// The money, operations and identify views each replace the queue, map and detail panes while open (one at a time).
const money = new MoneyView($('money-view'), api, may);
const ops = new OperationsView($('ops-view'), api, { toggleLang, close: () => toggleView('ops').then(() => $('ops-button').focus()) });
const identify = new IdentifyView($('identify-view'), api, may);
async function toggleView(name) {
  const views = {
    money: [$('money-view'), $('money-button'), money],
    ops: [$('ops-view'), $('ops-button'), ops],
    identify: [$('identify-view'), $('identify-button'), identify],
  };
  const open = views[name][0].hidden;
  if (open && disaster.open) await toggleDisaster();
  for (const [n, [section, button, view]] of Object.entries(views)) {
    section.hidden = !(open && n === name);
    button.setAttribute('aria-pressed', String(open && n === name));
    if (section.hidden) view.hide?.();
  }
  document.querySelector('.panes').hidden = open;
  $('shortcut-bar').hidden = open;
  if (open) await views[name][2].show();
}
for (const name of ['money', 'ops', 'identify']) {
  $(`${name}-button`).addEventListener('click', () => toggleView(name).catch(() => {}));
}

const map = new MapView($('map'), { onSelect: select });
hooks.map = map;
installQueue();
$('map').addEventListener('drawn', renderSummary);
hooks.unitColours = UNIT_COLOURS;
// The disaster view replaces the queue and detail panes beside the same map.
const disaster = new DisasterView({ side: $('disaster-side'), detail: $('disaster-detail'), legend: $('d-legend'), api, may, map, openDialog, labelled, toast, units: () => state.units });
async function toggleDisaster() {
  const open = !disaster.open;
  for (const pane of document.querySelectorAll('.queue-pane, .detail-pane')) pane.hidden = open;
  $('disaster-button').setAttribute('aria-pressed', String(open));
  if (open) await disaster.show(); else disaster.hide();
  applyStrings();
}
$('disaster-button').addEventListener('click', () => toggleDisaster().catch(() => {}));

applyStrings();
if (state.token) {
  enterConsole().catch(() => logout());
} else {
  $('login-view').hidden = false;
}
