// Joint operations (liaison officers, `joint_operations`): the operations this agency takes part in, and one
// operation's page: participants with their roles and legal bases, a live countdown to the day of action, the task
// board (a row per owning agency, a column per status, the consent step in its own column), the targets with the
// shared cases they come from, and the situation timeline of every signed event. Buttons appear only where the
// sovereignty rules (crates/exchange/src/operation/rules.rs) let this agency act; the server checks again.
//
// Updates: operation events are not on the console's live feed (it carries incidents and units), so the open view
// polls: the open operation every 2 s (its view and signed events), the list every 15 s (every 2 s when no operation
// is open), and only while the view is shown and the page visible. Each read is audited by the server.

import { t, getLang, fmtTime } from './i18n.js';
import {
  caseDialog, consentDialog, dayDialog, joinDialog, leaveDialog, logDialog, newOperationDialog, taskDialog,
} from './operations_forms.js';

const POLL_MS = 2000;
const LIST_MS = 15000;
const STATUSES = ['pending', 'planned', 'in_progress', 'done', 'closed'];
// What the owner may move a task to from each status (the rules allow any; the board offers the usual next steps).
const NEXT = { planned: ['in_progress', 'done', 'cancelled'], in_progress: ['done', 'cancelled'], done: [], cancelled: [] };
export const OPS_SHORTCUTS = [
  ['J / ↓, K / ↑', 'op_k_nav'], ['T', 'op_k_task'], ['N', 'op_k_log'], ['A', 'op_k_accept'], ['R', 'op_k_refuse'],
  ['D', 'op_k_day'], ['C', 'op_k_new'], ['X', 'op_k_export'], ['B', 'op_k_board'], ['L', 'k_lang'], ['?', 'k_help'],
  ['Esc', 'op_k_back'],
];

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function button(label, onClick, cls = 'small-btn', fk = null) {
  const b = el('button', cls, label);
  b.type = 'button';
  if (fk) b.dataset.fk = fk;
  b.addEventListener('click', onClick);
  return b;
}

// `2d 05:12:09` until `at` (or since it, with `since`): the day of action's countdown.
export function countdown(at, now = Date.now()) {
  const ms = Date.parse(at) - now;
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, '0')).join(':');
  const text = `${d ? `${d}${getLang() === 'ko' ? '일' : 'd'} ` : ''}${hms}`;
  return ms >= 0 ? { text: `T− ${text}`, past: false } : { text: `T+ ${text}`, past: true };
}

// A target's entity in one line (the entity is present only where an agreement lets this agency have it).
export function entityText(e) {
  if (!e) return null;
  switch (e.type) {
    case 'person': return [e.name, e.born && `${t('op_born')} ${e.born}`, e.nationality, e.passport && `${t('op_passport')} ${e.passport}`].filter(Boolean).join(' · ');
    case 'phone': return e.number;
    case 'bank_account': return [e.bank, e.country, e.account].filter(Boolean).join(' ');
    case 'iban': return e.iban;
    case 'crypto_wallet': return `${e.wallet?.chain} ${e.wallet?.address}`;
    case 'website': return e.domain;
    case 'company': return [e.name, e.country && `(${e.country})`, e.registration].filter(Boolean).join(' ');
    default: return JSON.stringify(e);
  }
}

const text = (v) => (typeof v === 'string' ? v : v == null ? null : JSON.stringify(v));
const consentOf = (task) => task.consent;
const exists = (task) => task.consent === 'not_needed' || task.consent === 'accepted';
const column = (task) => {
  if (task.consent === 'pending') return 'pending';
  if (task.consent === 'refused' || task.status === 'cancelled') return 'closed';
  return task.status;
};

export class OperationsView {
  constructor(root, api, { toggleLang = () => {}, close = () => {} } = {}) {
    this.root = root;
    this.api = api;
    this.toggleLang = toggleLang;
    this.close = close;
    this.me = null;
    this.agencies = new Map();
    this.cases = new Map();
    this.list = [];
    this.selectedId = null;
    this.held = null;
    this.listAt = 0;
    this.timer = null;
    this.ticker = null;
    this.busy = false;
    this.shownKey = '';
    this.seen = new Set();
    this.polls = 0;
    window.__jikimiOps = this;
    document.addEventListener('keydown', (e) => this.onKey(e));
  }

  // ---- data --------------------------------------------------------------------------------------------------
  async show() {
    const [me, peers] = await Promise.all([
      this.api('GET', '/api/exchange/agency'),
      this.api('GET', '/api/exchange/peers').catch(() => []),
    ]);
    this.me = me;
    this.agencies = new Map([[me.id, me], ...peers.map((p) => [p.id, p])]);
    await this.loadCases();
    await this.loadList();
    if (!this.selectedId && this.list.length) this.selectedId = this.list[0].id;
    if (this.selectedId) await this.loadDetail();
    this.render();
    this.startPolling();
    this.focusKey(this.selectedId ? `op:${this.selectedId}` : 'op-new');
  }

  hide() {
    clearInterval(this.timer);
    clearInterval(this.ticker);
    this.timer = null;
    this.ticker = null;
  }

  // The shared cases held here (titles for the targets' "from case" links; audited by the server).
  async loadCases() {
    const records = await this.api('GET', '/api/exchange/records').catch(() => []);
    this.cases = new Map(records.filter((r) => r.body.kind === 'case').map((r) => [r.id, r]));
  }

  async loadList() {
    this.list = await this.api('GET', '/api/operations');
    this.listAt = Date.now();
  }

  async loadDetail() {
    const id = this.selectedId;
    if (!id) return;
    const held = await this.api('GET', `/api/operations/${id}`);
    if (this.selectedId !== id) return;
    this.announce(held);
    this.held = held;
    const i = this.list.findIndex((v) => v.id === id);
    if (i >= 0) this.list[i] = held.view;
  }

  // Says in the status region what arrived from other agencies since the last look (not on first load).
  announce(held) {
    const fresh = held.events.filter((h) => !this.seen.has(h.digest));
    const first = this.seen.size === 0 || this.held?.view.id !== held.view.id;
    for (const h of held.events) this.seen.add(h.digest);
    if (first) return;
    const theirs = fresh.filter((h) => h.event.head.body.origin !== this.me?.id);
    if (!theirs.length) return;
    const last = theirs[theirs.length - 1].event.head.body;
    const status = this.root.querySelector('#ops-status');
    if (status) status.textContent = `${fmtTime(Date.now())} ${this.name(last.origin)}: ${t(`op_ev_${last.change}`)}`;
  }

  startPolling() {
    this.timer ??= setInterval(() => this.poll(), POLL_MS);
    this.ticker ??= setInterval(() => this.tick(), 1000);
  }

  async poll() {
    if (this.busy || this.root.hidden || document.visibilityState !== 'visible') return;
    this.busy = true;
    try {
      if (this.selectedId) {
        await this.loadDetail();
        if (Date.now() - this.listAt > LIST_MS) await this.loadList();
      } else {
        await this.loadList();
      }
      this.polls++;
      this.render();
    } catch {
      // Offline for a moment: the next poll tries again.
    } finally {
      this.busy = false;
    }
  }

  // After one of our own changes: read back at once, so the next keystroke sees the new state.
  async refresh() {
    await this.loadDetail();
    await this.loadList();
    this.render();
  }

  async change(body, focus) {
    await this.api('POST', `/api/operations/${this.selectedId}/events`, body);
    await this.refresh();
    if (focus) this.focusKey(focus);
  }

  // ---- rules (mirrors rules.rs: the server refuses what this lets through by mistake) -------------------------
  member(view = this.held?.view) {
    return view?.participants[this.me?.id];
  }

  may(what, task) {
    const m = this.member();
    if (!m || m.left_after) return false;
    const role = m.participant.role;
    switch (what) {
      case 'join': return !m.joined;
      case 'leave': return m.joined && role !== 'lead';
      case 'write': return m.joined && role !== 'observer';
      case 'day': return m.joined && role === 'lead';
      case 'status': return m.joined && role !== 'observer' && task.owner === this.me.id && exists(task);
      case 'consent': return m.joined && task.jurisdiction === this.me.id && task.owner !== this.me.id && consentOf(task) === 'pending';
      default: return false;
    }
  }

  name(id) {
    const a = this.agencies.get(id);
    return a ? `${a.name} (${a.country})` : `${id.slice(0, 8)}…`;
  }

  short(id) {
    return this.agencies.get(id)?.name ?? `${id.slice(0, 8)}…`;
  }

  // ---- rendering ---------------------------------------------------------------------------------------------
  render() {
    // Nothing changed (a poll with no news): leave the DOM, and the officer's focus, alone.
    const key = `${getLang()}|${this.selectedId}|${JSON.stringify(this.list)}|${this.held?.events.length}|${JSON.stringify(this.held?.view)}|${this.cases.size}`;
    if (key === this.shownKey && this.root.firstChild) return;
    this.shownKey = key;
    // Focus survives the re-render: the same control, else its task card, else the operation's title.
    const active = document.activeElement;
    const inside = this.root.contains(active) && active !== document.body;
    const keys = [active?.closest?.('[data-fk]')?.dataset.fk, active?.closest?.('[data-task]')?.dataset.fk].filter(Boolean);
    const status = this.root.querySelector('#ops-status')?.textContent ?? '';
    const scroll = this.root.querySelector('.ops-main')?.scrollTop ?? 0;
    const head = el('h2', 'ops-heading');
    head.id = 'ops-title';
    head.append(el('span', null, t('op_title')), ' ', el('span', 'count', this.me ? `— ${this.name(this.me.id)}` : ''));
    const live = el('p', 'ops-status muted small', status);
    live.id = 'ops-status';
    live.setAttribute('role', 'status');
    const body = el('div', 'ops-body');
    const main = el('div', 'ops-main');
    main.append(...this.detail());
    body.append(this.listPane(), main);
    this.root.replaceChildren(head, body, this.footer(), live);
    main.scrollTop = scroll;
    if (inside) this.focusKey(keys);
  }

  // Focuses the first element found of `keys` (data-fk values), else the operation's title.
  focusKey(keys) {
    for (const k of [keys].flat()) {
      const target = this.root.querySelector(`[data-fk="${CSS.escape(k)}"]`);
      if (target) return target.focus();
    }
    return (this.root.querySelector('#op-detail-title') ?? this.root.querySelector('.ops-new'))?.focus();
  }

  listPane() {
    const nav = el('nav', 'ops-list');
    nav.setAttribute('aria-labelledby', 'ops-list-title');
    const h = el('h3', null, t('op_list'));
    h.id = 'ops-list-title';
    nav.append(h, button(t('op_new'), () => this.newOperation(), 'primary ops-new', 'op-new'));
    const ol = el('ol', 'ops-items');
    for (const v of this.list) {
      const li = el('li');
      const b = button('', () => this.select(v.id), 'ops-item', `op:${v.id}`);
      const m = v.participants[this.me?.id];
      const state = !m ? '' : m.left_after ? t('op_left') : m.joined ? t(`op_role_${m.participant.role}`) : t('op_invited');
      const open = Object.values(v.tasks).filter((x) => !['done', 'cancelled'].includes(x.status) && x.consent !== 'refused').length;
      const pending = Object.values(v.tasks).filter((x) => x.consent === 'pending' && x.jurisdiction === this.me?.id).length;
      b.append(el('strong', 'ops-item-title', v.title), el('span', 'ops-item-meta', `${t('op_lead')}: ${this.short(v.lead)} · ${state}`));
      const line = el('span', 'ops-item-meta');
      line.append(`${open} ${t('op_open_tasks')}`);
      if (pending) line.append(' · ', el('span', 'ops-await', `${pending} ${t('op_await_us')}`));
      if (v.day_of_action) line.append(' · ', el('span', 'ops-countdown mono', countdown(v.day_of_action).text));
      if (v.day_of_action) line.lastChild.dataset.at = v.day_of_action;
      b.append(line);
      if (v.id === this.selectedId) b.setAttribute('aria-current', 'true');
      li.append(b);
      ol.append(li);
    }
    nav.append(ol);
    if (!this.list.length) nav.append(el('p', 'muted', t('op_none')));
    return nav;
  }

  detail() {
    const v = this.held?.view;
    if (!v) return [el('p', 'muted ops-pick', this.list.length ? t('op_pick') : t('op_none'))];
    const title = el('h3', 'ops-op-title', v.title);
    title.id = 'op-detail-title';
    title.tabIndex = -1;
    // The timeline runs down the right; the structure of the operation on the left.
    const split = el('div', 'ops-split');
    const left = el('div', 'ops-col');
    const pair = el('div', 'ops-pair');
    pair.append(this.participants(v), this.targets(v));
    left.append(this.board(v), pair);
    split.append(left, this.timeline(v));
    return [this.header(v, title), split];
  }

  header(v, title) {
    const box = el('section', 'ops-card ops-header');
    box.setAttribute('aria-labelledby', 'op-detail-title');
    const left = el('div', 'ops-header-main');
    const meta = el('p', 'muted small mono', `${t('op_id')} ${v.id} · ${t('op_created')} ${fmtTime(v.created_at)} · ${this.held.events.length} ${t('op_signed_events')}`);
    const actions = el('div', 'actions');
    if (this.may('join')) actions.append(button(t('op_join'), () => this.join(), 'primary', 'act-join'));
    if (this.may('write')) {
      actions.append(button(`${t('op_new_task')} (T)`, () => this.newTask(), 'small-btn', 'act-task'));
      actions.append(button(`${t('op_new_log')} (N)`, () => this.newLog(), 'small-btn', 'act-log'));
    }
    if (this.may('day')) actions.append(button(`${t('op_set_day')} (D)`, () => this.setDay(), 'small-btn', 'act-day'));
    actions.append(button(`${t('op_export')} (X)`, () => this.exportBundle(), 'small-btn', 'act-export'));
    if (this.may('leave')) actions.append(button(t('op_leave'), () => this.leave(), 'small-btn', 'act-leave'));
    left.append(title, meta, actions);
    const day = el('div', 'ops-day');
    day.append(el('span', 'ops-day-label', t('op_day')));
    if (v.day_of_action) {
      const c = countdown(v.day_of_action);
      const timer = el('span', `ops-countdown ops-big mono${c.past ? ' past' : ''}`, c.text);
      timer.dataset.at = v.day_of_action;
      timer.setAttribute('role', 'timer');
      timer.setAttribute('aria-label', `${t('op_day')} ${fmtTime(v.day_of_action)}`);
      day.append(timer, el('span', 'ops-day-at', fmtTime(v.day_of_action)));
    } else {
      day.append(el('span', 'muted', t('op_day_unset')));
    }
    box.append(left, day);
    return box;
  }

  participants(v) {
    const box = el('section', 'ops-card');
    box.setAttribute('aria-labelledby', 'ops-part-title');
    const h = el('h4', null, t('op_participants'));
    h.id = 'ops-part-title';
    const table = el('table', 'ops-table');
    const tr = el('tr');
    for (const k of ['op_agency', 'op_role', 'op_state', 'op_basis']) {
      const th = el('th', null, t(k));
      th.scope = 'col';
      tr.append(th);
    }
    const thead = el('thead');
    thead.append(tr);
    const tbody = el('tbody');
    const order = { lead: 0, participant: 1, observer: 2 };
    const members = Object.values(v.participants).sort((a, b) => order[a.participant.role] - order[b.participant.role]);
    for (const m of members) {
      const row = el('tr', m.participant.agency === this.me?.id ? 'ops-me' : null);
      const who = el('th', null, this.name(m.participant.agency));
      who.scope = 'row';
      if (m.participant.agency === this.me?.id) who.append(' ', el('span', 'ops-tag', t('op_us')));
      const state = m.left_after ? t('op_left') : m.joined ? t('op_joined') : t('op_invited');
      row.append(who, el('td', 'nowrap', t(`op_role_${m.participant.role}`)), el('td', `nowrap ops-m-${m.left_after ? 'left' : m.joined ? 'joined' : 'invited'}`, state),
        el('td', null, m.participant.legal_basis));
      tbody.append(row);
    }
    table.append(thead, tbody);
    box.append(h, table);
    return box;
  }

  // The task board: a row per owning agency (participants first, in role order), a column per status.
  board(v) {
    const box = el('section', 'ops-card');
    box.setAttribute('aria-labelledby', 'ops-board-title');
    const h = el('h4', null, t('op_board'));
    h.id = 'ops-board-title';
    h.tabIndex = -1;
    h.dataset.fk = 'board';
    const table = el('table', 'ops-board');
    const head = el('tr');
    const corner = el('th', null, t('op_owner'));
    corner.scope = 'col';
    head.append(corner);
    for (const s of STATUSES) {
      const th = el('th', `col-${s}`, t(`op_col_${s}`));
      th.scope = 'col';
      head.append(th);
    }
    const thead = el('thead');
    thead.append(head);
    const tbody = el('tbody');
    const tasks = Object.values(v.tasks).sort((a, b) => a.deadline.localeCompare(b.deadline));
    const owners = [...new Set([v.lead, ...Object.keys(v.participants), ...tasks.map((x) => x.owner)])]
      .filter((id) => tasks.some((x) => x.owner === id) || (v.participants[id]?.joined && v.participants[id].participant.role !== 'observer'));
    for (const owner of owners) {
      const row = el('tr');
      const th = el('th', 'ops-lane', this.name(owner));
      th.scope = 'row';
      row.append(th);
      for (const s of STATUSES) {
        const td = el('td', `col-${s}`);
        for (const task of tasks.filter((x) => x.owner === owner && column(x) === s)) td.append(this.card(task));
        row.append(td);
      }
      tbody.append(row);
    }
    table.append(thead, tbody);
    box.append(h, tasks.length ? table : el('p', 'muted', t('op_no_tasks')));
    return box;
  }

  card(task) {
    const c = el('div', `ops-task k-${task.kind}${task.consent === 'refused' ? ' refused' : ''}`);
    c.dataset.task = task.id;
    c.dataset.fk = `task:${task.id}`;
    c.tabIndex = -1;
    c.setAttribute('role', 'group');
    const label = `${t(`op_kind_${task.kind}`)} — ${this.short(task.owner)}`;
    c.setAttribute('aria-label', label);
    const top = el('div', 'ops-task-top');
    const where = el('span', 'ops-where', `${t('op_in')} ${this.agencies.get(task.jurisdiction)?.country ?? this.short(task.jurisdiction)}`);
    where.title = this.name(task.jurisdiction);
    top.append(el('span', 'ops-kind', t(`op_kind_${task.kind}`)), where);
    c.append(top);
    const desc = text(task.description);
    c.append(el('p', desc ? 'ops-desc' : 'ops-desc muted', desc ?? t('op_withheld')));
    const due = el('p', 'ops-due small');
    due.append(`${t('op_deadline')} `, el('time', 'mono', fmtTime(task.deadline)));
    c.append(due);
    if (task.consent === 'accepted') c.append(el('p', 'ops-consent ok small', `✓ ${t('op_accepted_by')} ${this.short(task.jurisdiction)}`));
    if (task.consent === 'pending') c.append(el('p', 'ops-consent wait small', `${t('op_awaits')} ${this.short(task.jurisdiction)}`));
    if (task.consent === 'refused') c.append(el('p', 'ops-consent no small', `✗ ${t('op_refused_by')} ${this.short(task.jurisdiction)}: ${task.reason ?? ''}`));
    if (task.status === 'cancelled') c.append(el('p', 'ops-consent no small', t('op_st_cancelled')));
    const acts = el('div', 'ops-task-acts');
    if (this.may('consent', task)) {
      acts.append(button(`${t('op_accept')} (A)`, () => this.consent(task, true), 'small-btn primary', `accept:${task.id}`));
      acts.append(button(`${t('op_refuse')} (R)`, () => this.consent(task, false), 'small-btn', `refuse:${task.id}`));
    }
    if (this.may('status', task)) {
      for (const next of NEXT[task.status] ?? []) {
        const b = button(t(`op_to_${next}`), () => this.setStatus(task, next), 'small-btn', `status:${task.id}:${next}`);
        b.setAttribute('aria-label', `${t(`op_to_${next}`)}: ${label}`);
        acts.append(b);
      }
    }
    for (const b of acts.querySelectorAll('button')) {
      if (!b.getAttribute('aria-label')) b.setAttribute('aria-label', `${b.textContent}: ${label}`);
    }
    if (acts.childElementCount) c.append(acts);
    return c;
  }

  targets(v) {
    const box = el('section', 'ops-card');
    box.setAttribute('aria-labelledby', 'ops-targets-title');
    const h = el('h4', null, t('op_targets'));
    h.id = 'ops-targets-title';
    const list = Object.values(v.targets).sort((a, b) => a.kind.localeCompare(b.kind));
    if (!list.length) {
      box.append(h, el('p', 'muted', t('op_no_targets')));
      return box;
    }
    const table = el('table', 'ops-table');
    const tr = el('tr');
    for (const k of ['op_t_kind', 'op_t_entity', 'op_t_from', 'op_t_case']) {
      const th = el('th', null, t(k));
      th.scope = 'col';
      tr.append(th);
    }
    const thead = el('thead');
    thead.append(tr);
    const tbody = el('tbody');
    for (const target of list) {
      const row = el('tr');
      const ent = entityText(target.entity);
      const kase = el('td');
      if (target.source_case) {
        const rec = this.cases.get(target.source_case);
        const b = button(rec ? rec.body.title : `${target.source_case.slice(0, 8)}…`, () => this.openCase(target.source_case), 'link-btn', `case:${target.id}`);
        b.setAttribute('aria-label', `${t('op_open_case')}: ${rec ? rec.body.title : target.source_case}`);
        kase.append(b);
      } else {
        kase.append(el('span', 'muted', '–'));
      }
      row.append(el('td', null, t(`op_tk_${target.kind}`) === `op_tk_${target.kind}` ? target.kind : t(`op_tk_${target.kind}`)),
        el('td', ent ? 'mono' : 'muted', ent ?? t('op_withheld')), el('td', null, this.short(target.origin)), kase);
      tbody.append(row);
    }
    table.append(thead, tbody);
    box.append(h, table);
    return box;
  }

  // Every applied signed event, newest first; log entries carry their text (where this agency may have it).
  timeline(v) {
    const box = el('section', 'ops-card');
    box.setAttribute('aria-labelledby', 'ops-log-title');
    const h = el('h4', null, t('op_timeline'));
    h.id = 'ops-log-title';
    const ol = el('ol', 'ops-timeline');
    ol.setAttribute('aria-labelledby', 'ops-log-title');
    ol.tabIndex = 0; // scrolls: reachable by keyboard
    const texts = new Map(v.log.map((l) => [`${l.origin}|${l.seq}`, text(l.text)]));
    const events = this.held.events.filter((x) => x.applied != null).sort((a, b) => b.event.head.body.at.localeCompare(a.event.head.body.at));
    for (const hEv of events) {
      const b = hEv.event.head.body;
      const li = el('li', `ev-${b.change}`);
      li.append(el('time', 'mono', fmtTime(b.at)), ' ', el('span', 'ops-who', this.short(b.origin)), ' ');
      if (b.change === 'log') {
        const k = `${b.origin}|${b.seq}`;
        li.append(el('span', texts.has(k) ? 'ops-logtext' : 'muted', texts.has(k) ? (texts.get(k) ?? t('op_withheld')) : t('op_withdrawn')));
      } else {
        li.append(el('strong', null, t(`op_ev_${b.change}`)), ` ${this.eventDetail(b, v)}`);
      }
      if (b.marking?.tlp && b.change === 'log') li.append(' ', el('span', `tlp tlp-${b.marking.tlp.replace('TLP:', '').replace('+', '-').toLowerCase()}`, b.marking.tlp));
      ol.append(li);
    }
    box.append(h, ol);
    return box;
  }

  eventDetail(b, v) {
    const task = (id) => v.tasks[id];
    switch (b.change) {
      case 'create': return `“${b.title}”`;
      case 'invite': return `${this.short(b.participant.agency)} (${t(`op_role_${b.participant.role}`)})`;
      case 'join': return `— ${b.legal_basis}`;
      case 'leave': return `— ${b.reason}`;
      case 'day_of_action': return b.day ? fmtTime(b.day) : t('op_day_unset');
      case 'target': return t(`op_tk_${b.kind}`) === `op_tk_${b.kind}` ? b.kind : t(`op_tk_${b.kind}`);
      case 'task': return `${t(`op_kind_${b.kind}`)} ${t('op_in')} ${this.short(b.jurisdiction)}, ${t('op_deadline')} ${fmtTime(b.deadline)}`;
      case 'task_status': return `${task(b.task) ? t(`op_kind_${task(b.task).kind}`) : ''} → ${t(`op_st_${b.status}`)}`;
      case 'consent': return `${task(b.task) ? `${t(`op_kind_${task(b.task).kind}`)} (${this.short(task(b.task).owner)})` : ''}: ${b.accept ? t('op_accepted') : `${t('op_refused')} — ${b.reason}`}`;
      case 'withdraw': return `#${b.event}`;
      default: return '';
    }
  }

  footer() {
    const f = el('footer', 'shortcuts ops-keys');
    f.setAttribute('aria-label', t('shortcuts'));
    for (const [k, key] of OPS_SHORTCUTS) {
      const span = el('span');
      span.append(el('kbd', null, k), ` ${t(key)}`);
      f.append(span);
    }
    return f;
  }

  // The console's help dialog, listing this view's keys while it is open (the queue's again once it closes).
  help() {
    const dlg = document.getElementById('help');
    const list = document.getElementById('help-list');
    const before = [...list.childNodes];
    list.replaceChildren(...OPS_SHORTCUTS.flatMap(([k, key]) => {
      const dt = el('dt');
      dt.append(el('kbd', null, k));
      return [dt, el('dd', null, t(key))];
    }));
    dlg.addEventListener('close', () => list.replaceChildren(...before), { once: true });
    dlg.showModal();
  }

  tick() {
    if (this.root.hidden) return;
    for (const e of this.root.querySelectorAll('.ops-countdown[data-at]')) {
      const c = countdown(e.dataset.at);
      if (e.textContent !== c.text) e.textContent = c.text;
      e.classList.toggle('past', c.past);
    }
  }

  // ---- actions -----------------------------------------------------------------------------------------------
  async select(id) {
    if (this.selectedId !== id) {
      this.selectedId = id;
      this.held = null;
      this.seen = new Set();
    }
    await this.loadDetail();
    this.render();
    this.focusKey('__title');
  }

  async move(delta) {
    if (!this.list.length) return;
    const i = this.list.findIndex((v) => v.id === this.selectedId);
    const next = this.list[Math.min(Math.max(i < 0 ? 0 : i + delta, 0), this.list.length - 1)];
    await this.select(next.id);
    this.focusKey(`op:${next.id}`);
  }

  async newOperation() {
    const agreements = await this.api('GET', '/api/exchange/agreements').catch(() => []);
    const body = await newOperationDialog(this, agreements);
    if (!body) return this.focusKey('op-new');
    const held = await this.api('POST', '/api/operations', body);
    this.selectedId = held.view.id;
    await this.refresh();
    this.focusKey('__title');
  }

  async newTask() {
    if (!this.may('write')) return;
    const body = await taskDialog(this, this.held.view);
    if (body) await this.change({ change: 'task', ...body }, 'board');
    else this.focusKey('act-task');
  }

  async newLog() {
    if (!this.may('write')) return;
    const body = await logDialog(this);
    if (body) await this.change({ change: 'log', ...body }, 'act-log');
    else this.focusKey('act-log');
  }

  async setDay() {
    if (!this.may('day')) return;
    const at = await dayDialog(this, this.held.view.day_of_action);
    if (at !== undefined) await this.change({ change: 'day_of_action', at }, 'act-day');
    else this.focusKey('act-day');
  }

  async setStatus(task, status) {
    await this.change({ change: 'task_status', task: task.id, status });
    const card = this.root.querySelector(`[data-task="${task.id}"]`);
    (card?.querySelector('button') ?? card ?? this.root.querySelector('#ops-board-title'))?.focus();
  }

  async consent(task, accept) {
    let reason = null;
    if (!accept) {
      reason = await consentDialog(this, task);
      if (reason === null) return this.focusKey(`refuse:${task.id}`);
    }
    await this.change({ change: 'consent', task: task.id, accept, ...(reason ? { reason } : {}) });
    // The card moved column (and lost its consent buttons): focus stays with it.
    const card = this.root.querySelector(`[data-task="${task.id}"]`);
    (card?.querySelector('button') ?? card ?? this.root.querySelector('#ops-board-title'))?.focus();
  }

  // The task awaiting our consent that holds focus, else the first one (the A and R keys).
  pendingTask() {
    const tasks = Object.values(this.held?.view.tasks ?? {}).filter((x) => this.may('consent', x));
    const focused = document.activeElement?.closest?.('[data-task]')?.dataset.task;
    return tasks.find((x) => x.id === focused) ?? tasks[0];
  }

  async join() {
    const basis = await joinDialog(this);
    if (basis) await this.change({ change: 'join', legal_basis: basis }, 'act-task');
  }

  async leave() {
    const reason = await leaveDialog(this);
    if (reason) await this.change({ change: 'leave', reason }, 'act-export');
  }

  async openCase(id) {
    const records = await this.api('GET', `/api/exchange/cases/${id}`);
    await caseDialog(this, records);
  }

  // The signed court bundle, saved as a file (events whose handling code forbids court use are listed as refused).
  async exportBundle() {
    const v = this.held?.view;
    if (!v) return;
    const bundle = await this.api('GET', `/api/operations/${v.id}/export`);
    const blob = new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = `operation-${v.id}-court-bundle.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    const status = this.root.querySelector('#ops-status');
    if (status) status.textContent = `${t('op_exported')}: ${bundle.body.events.length} ${t('op_signed_events')}, ${bundle.body.refused.length} ${t('op_refused_items')}`;
  }

  // ---- keyboard ----------------------------------------------------------------------------------------------
  onKey(e) {
    if (this.root.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    if (e.target.closest?.('input, textarea, select')) return;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const pending = () => this.pendingTask();
    const handlers = {
      j: () => this.move(1), ArrowDown: () => this.move(1), k: () => this.move(-1), ArrowUp: () => this.move(-1),
      t: () => this.newTask(), n: () => this.newLog(), d: () => this.setDay(), c: () => this.newOperation(),
      x: () => this.exportBundle(), b: () => this.focusKey('board'), l: () => this.toggleLang(), '?': () => this.help(),
      a: () => pending() && this.consent(pending(), true), r: () => pending() && this.consent(pending(), false),
      Escape: () => this.close(),
    };
    // Arrows move between operations only from the list (elsewhere they scroll).
    if ((k === 'ArrowDown' || k === 'ArrowUp') && !e.target.closest?.('.ops-list')) return;
    const h = handlers[k];
    if (!h) return;
    e.preventDefault();
    Promise.resolve(h()).catch(() => {});
  }
}
