// Freeze and confiscation requests (freeze.html): the requests this agency sent and those partners sent to it, each
// with its signed status timeline; a supervisor records the status of an incoming request (frozen with an amount,
// refused or released with a reason). Uses the console's session (log in on the console first). Every list and read
// is audited by the server: the requests name accounts.

import { t, getLang, setLang, fmtTime } from './i18n.js';

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem('jikimi.token'),
  permissions: [],
  // Null until the first load answers: "no requests" is said only once the server has said so.
  requests: null,
  selected: null,
};
const may = (p) => state.permissions.includes(p);
window.__jikimiFreeze = state;

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(json?.error?.message || `HTTP ${res.status}`);
  return json;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// An exact amount: minor units as a decimal string, shown with its decimals (no floating point).
function fmtAmount(a) {
  if (!a) return '–';
  const d = Number(a.decimals) || 0;
  let units = String(a.minor_units);
  if (d > 0) {
    units = units.padStart(d + 1, '0');
    units = `${units.slice(0, -d)}.${units.slice(-d)}`;
  }
  return `${units} ${a.currency}`;
}

function fmtAccount(acc) {
  if (!acc) return '–';
  if (acc.type === 'iban') return `IBAN ${acc.iban}`;
  if (acc.type === 'bank_account') return `${acc.country} ${acc.account}`;
  const where = acc.exchange ? ` @ ${acc.exchange}${acc.exchange_country ? ` (${acc.exchange_country})` : ''}` : '';
  return `${acc.wallet?.chain} ${acc.wallet?.address}${where}`;
}

const stateOf = (h) => h.statuses.length ? h.statuses[h.statuses.length - 1].status.body.state : 'pending';
const stateLabel = (s) => t(`fz_s_${s}`);

function renderTable(table, list, direction) {
  const head = el('thead');
  const tr = el('tr');
  for (const k of ['fz_id', 'fz_kind', 'fz_account', 'fz_amount', 'fz_deadline', 'fz_status', direction === 'incoming' ? 'fz_from' : 'fz_to']) {
    const th = el('th', null, t(k));
    th.scope = 'col';
    tr.append(th);
  }
  head.append(tr);
  const body = el('tbody');
  const mine = (list ?? []).filter((h) => h.direction === direction);
  for (const h of mine) {
    const r = h.request.body;
    const row = el('tr');
    const open = el('button', null, r.id.slice(0, 8));
    open.type = 'button';
    open.setAttribute('aria-label', `${t('fz_open')} ${r.id}`);
    open.addEventListener('click', () => select(r.id));
    const first = el('td');
    first.append(open);
    const peer = direction === 'incoming' ? r.requester : r.recipient;
    row.append(first, el('td', null, t(`fz_k_${r.kind}`)), el('td', 'mono', fmtAccount(r.account)),
      el('td', 'mono', fmtAmount(r.amount)), el('td', null, fmtTime(r.deadline)),
      el('td', 'fz-state', stateLabel(stateOf(h)) + (h.delivered ? '' : ` (${t('fz_undelivered')})`)),
      el('td', 'mono', peer.slice(0, 12)));
    body.append(row);
  }
  if (list && !mine.length) {
    const row = el('tr');
    const td = el('td', 'muted', t('fz_none'));
    td.colSpan = 7;
    row.append(td);
    body.append(row);
  }
  table.replaceChildren(head, body);
}

function labelled(text, control) {
  const label = el('label');
  label.append(el('span', null, text), control);
  return label;
}

function renderDetail() {
  const box = $('fz-detail');
  const h = state.requests?.find((x) => x.request.body.id === state.selected);
  if (!h) {
    box.replaceChildren(el('p', 'muted', t('fz_pick')));
    return;
  }
  const r = h.request.body;
  const dl = el('dl', 'kv');
  const rows = [
    ['fz_id', r.id], ['fz_kind', t(`fz_k_${r.kind}`)], ['fz_account', fmtAccount(r.account)],
    ['fz_amount', fmtAmount(r.amount)], ['fz_deadline', fmtTime(r.deadline)], ['fz_case', r.case_id],
    ['fz_basis', r.legal_basis], ['fz_evidence', `sha256 ${r.evidence.attachment.sha256} (${r.evidence.attachment.size_bytes} B)`],
    ['fz_signature', h.request.signature.slice(0, 32) + '…'],
  ];
  for (const [k, v] of rows) dl.append(el('dt', null, t(k)), el('dd', 'mono', v));
  const heading = el('h3', null, t('fz_timeline'));
  const ol = el('ol', 'fz-timeline');
  for (const s of h.statuses) {
    const b = s.status.body;
    const li = el('li');
    const extra = b.state === 'frozen' ? ` ${fmtAmount(b.amount)}` : (b.reason ? ` — ${b.reason}` : '');
    li.append(el('span', 'fz-state', stateLabel(b.state)), ` ${fmtTime(b.at)}${extra} `,
      el('span', 'muted small mono', `${t('fz_signed')} ${s.status.signature.slice(0, 16)}…${s.delivered ? '' : ` (${t('fz_undelivered')})`}`));
    ol.append(li);
  }
  if (!h.statuses.length) ol.append(el('li', 'muted', t('fz_s_pending')));
  const parts = [dl, heading, ol];
  const last = stateOf(h);
  if (h.direction === 'incoming' && may('decide_freeze') && (last === 'received' || last === 'frozen')) {
    parts.push(statusForm(h, last));
  }
  box.replaceChildren(...parts);
}

function statusForm(h, last) {
  const form = el('form', 'fz-form');
  form.setAttribute('aria-label', t('fz_record'));
  const select = el('select');
  select.id = 'fz-state';
  const choices = last === 'received' ? ['frozen', 'refused'] : ['frozen', 'released'];
  for (const c of choices) {
    const o = el('option', null, stateLabel(c));
    o.value = c;
    select.append(o);
  }
  const amount = el('input');
  amount.id = 'fz-amount';
  amount.inputMode = 'numeric';
  amount.pattern = '[0-9]+';
  amount.value = h.request.body.amount.minor_units;
  const reason = el('input');
  reason.id = 'fz-reason';
  const submit = el('button', 'primary', t('fz_record'));
  submit.type = 'submit';
  const msg = el('p', 'error');
  msg.setAttribute('role', 'alert');
  form.append(labelled(t('fz_new_state'), select), labelled(`${t('fz_amount_minor')} (${h.request.body.amount.currency})`, amount),
    labelled(t('fz_reason'), reason), submit, msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { state: select.value };
    if (select.value === 'frozen') body.amount_minor = amount.value.trim();
    else body.reason = reason.value.trim();
    try {
      const updated = await api('POST', `/api/exchange/freeze/${h.request.body.id}/status`, body);
      state.requests = state.requests.map((x) => (x.request.body.id === updated.request.body.id ? updated : x));
      render();
      $('fz-message').textContent = `${t('fz_recorded')}: ${stateLabel(select.value)}`;
      $('fz-detail').querySelector('h3')?.focus?.();
    } catch (err) {
      msg.textContent = err.message;
    }
  });
  return form;
}

function select(id) {
  state.selected = id;
  renderDetail();
  $('fz-detail-title').scrollIntoView({ block: 'nearest' });
}

function render() {
  renderTable($('fz-in'), state.requests, 'incoming');
  renderTable($('fz-out'), state.requests, 'outgoing');
  renderDetail();
}

function applyStrings() {
  document.documentElement.lang = getLang();
  document.title = t('fz_title');
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  render();
}

async function load() {
  try {
    state.requests = await api('GET', '/api/exchange/freeze');
    $('fz-message').textContent = '';
  } catch (err) {
    $('fz-message').textContent = err.message;
  }
  render();
}

async function start() {
  applyStrings();
  if (!state.token) {
    $('fz-message').textContent = t('fz_login');
    return;
  }
  try {
    const me = await api('GET', '/api/auth/me');
    state.permissions = me.permissions;
    $('fz-whoami').textContent = `${me.username ?? ''} (${me.role})`;
  } catch (err) {
    $('fz-message').textContent = err.message;
    return;
  }
  if (!may('request_freeze')) {
    $('fz-message').textContent = t('fz_denied');
    return;
  }
  await load();
  // `freeze.html#<request id>` (the money view's link after a request): open that request.
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted && state.requests?.some((x) => x.request.body.id === wanted)) select(wanted);
}

for (const b of document.querySelectorAll('.lang-toggle')) {
  b.addEventListener('click', () => {
    setLang(getLang() === 'ko' ? 'en' : 'ko');
    applyStrings();
  });
}
$('fz-refresh').addEventListener('click', load);
start();
