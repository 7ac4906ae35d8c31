// Follow the money (analysts, supervisors): pick a case, attach transfers, run a trace, and read where the money went.
// The flow is drawn as a layered SVG (victims, mule layers, endpoints) whose nodes and edges are focusable with a
// roving tab stop: arrows walk the graph (Up/Down within a column or among a node's edges, Right along the money,
// Left against it), and each focused element is announced in words. The same flow is in a table below, and the
// endpoints table says what each account holds, where it is (the jurisdiction of a freeze request) and who controls
// it according to shared cases. Every read of accounts is audited by the server.

import { t } from './i18n.js';
import { openFreezeDialog } from './money_freeze.js';

const SVG = 'http://www.w3.org/2000/svg';
const COL_W = 300;
const ROW_H = 64;
const NODE_W = 170;
const NODE_H = 44;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// `iban:GB82WEST12345698765432` -> `GB82…765432`: short enough for a node box; the full key is in the labels.
function short(account) {
  const value = account.includes(':') ? account.slice(account.indexOf(':') + 1) : account;
  return value.length > 14 ? `${value.slice(0, 5)}…${value.slice(-6)}` : value;
}

export class MoneyView {
  constructor(root, api, may = () => false) {
    this.root = root;
    this.api = api;
    this.may = may;
    this.cases = [];
    this.caseId = null;
    this.sets = [];
    this.runs = [];
    this.run = null;
    this.controllers = null;
    this.focus = null;
    window.__jikimiMoney = this;
  }

  async show() {
    this.cases = await this.api('GET', '/api/funds/cases');
    if (!this.caseId && this.cases.length) this.caseId = this.cases[0].case_id;
    await this.loadCase();
  }

  async loadCase() {
    if (this.caseId) {
      [this.sets, this.runs] = await Promise.all([
        this.api('GET', `/api/funds/cases/${this.caseId}/sets`),
        this.api('GET', `/api/funds/cases/${this.caseId}/runs`),
      ]);
    } else {
      this.sets = [];
      this.runs = [];
    }
    if (this.runs.length && (!this.run || this.run.case_id !== this.caseId)) await this.openRun(this.runs[0].id);
    else this.render();
  }

  async openRun(id) {
    this.run = await this.api('GET', `/api/funds/runs/${id}`);
    this.controllers = await this.api('GET', `/api/funds/runs/${id}/controllers`).catch(() => null);
    this.focus = null;
    this.render();
  }

  async upload(file, format) {
    const query = new URLSearchParams({ format, name: file.name.slice(0, 120) || 'upload' });
    const set = await this.api('POST', `/api/funds/cases/${this.caseId}/sets?${query}`, file);
    this.lastUpload = set;
    await this.loadCase();
  }

  async trace(setId, seeds, policy, cashoutText) {
    const cashout = cashoutText.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const [account, kind, name, country] = l.split(',').map((s) => s.trim());
      return { account, kind: kind || null, name: name || null, country: country || null };
    });
    const run = await this.api('POST', `/api/funds/sets/${setId}/runs`, { seeds, policy, cashout });
    this.runs = await this.api('GET', `/api/funds/cases/${this.caseId}/runs`);
    await this.openRun(run.id);
  }

  render() {
    const r = this.root;
    r.replaceChildren();
    r.append(el('h2', { id: 'money-title', text: t('moneyTitle') }));
    const body = el('div', { class: 'money-body' });
    r.append(body);
    body.append(this.pickers(), this.forms());
    if (this.run) body.append(this.flowSection(), this.endpointsSection());
    else body.append(el('p', { class: 'muted', text: t('mNoRun') }));
  }

  pickers() {
    const box = el('div', { class: 'money-pickers' });
    const caseSel = el('select', { id: 'money-case' });
    for (const c of this.cases) {
      const o = el('option', { value: c.case_id, text: `${c.title} (${c.case_id.slice(0, 8)})` });
      if (c.case_id === this.caseId) o.selected = true;
      caseSel.append(o);
    }
    caseSel.addEventListener('change', () => { this.caseId = caseSel.value; this.run = null; this.loadCase(); });
    const runSel = el('select', { id: 'money-run' });
    for (const run of this.runs) {
      const o = el('option', { value: run.id, text: `${run.policy} · ${run.created_at.slice(0, 16)} · ${run.summary.seeded} ${run.summary.currency}` });
      if (this.run?.id === run.id) o.selected = true;
      runSel.append(o);
    }
    runSel.addEventListener('change', () => this.openRun(runSel.value));
    box.append(
      el('label', { for: 'money-case', text: t('mCase') }), caseSel,
      el('label', { for: 'money-run', text: t('mRun') }), runSel,
    );
    if (!this.cases.length) box.append(el('p', { class: 'muted', text: t('mNoCase') }));
    return box;
  }

  forms() {
    const wrap = el('div', { class: 'money-forms' });
    // Upload.
    const up = el('form', { id: 'money-upload', class: 'money-form', 'aria-labelledby': 'money-upload-title' });
    const file = el('input', { id: 'money-file', type: 'file', accept: '.csv,.xml,.txt' });
    const fmt = el('select', { id: 'money-format' });
    for (const f of ['csv', 'camt053', 'tron_export', 'ethereum_export', 'bitcoin_export']) fmt.append(el('option', { value: f, text: t(`f_${f}`) }));
    up.append(
      el('h3', { id: 'money-upload-title', text: t('mUpload') }),
      el('label', { for: 'money-file', text: t('mFile') }), file,
      el('label', { for: 'money-format', text: t('mFormat') }), fmt,
      el('button', { type: 'submit', class: 'primary', text: t('mUploadGo') }),
    );
    up.addEventListener('submit', (e) => {
      e.preventDefault();
      if (file.files[0]) this.upload(file.files[0], fmt.value).catch(() => {});
    });
    const sets = el('ul', { class: 'money-sets', 'aria-label': t('mSets') });
    for (const s of this.sets) {
      sets.append(el('li', { text: `${s.name} · ${s.format} · ${s.transfers} ${t('mTransfers')} · ${s.bad_rows} ${t('mBadRows')} · ${s.currency}` }));
    }
    const report = el('div', { id: 'money-report', role: 'status' });
    if (this.lastUpload?.bad_rows) {
      const list = el('ul', { class: 'small' });
      for (const b of this.lastUpload.bad_row_samples) list.append(el('li', { text: `${t('mLine')} ${b.line}: ${b.reason}` }));
      report.append(el('p', { text: `${this.lastUpload.bad_rows} ${t('mBadRows')}` }), list);
    }
    up.append(el('h4', { text: t('mSets') }), sets, report);
    // Trace.
    const tr = el('form', { id: 'money-trace', class: 'money-form', 'aria-labelledby': 'money-trace-title' });
    const setSel = el('select', { id: 'money-set' });
    for (const s of this.sets) setSel.append(el('option', { value: s.id, text: s.name }));
    const seeds = el('textarea', { id: 'money-seeds', rows: '3' });
    const policy = el('select', { id: 'money-policy' });
    for (const p of ['haircut', 'fifo']) policy.append(el('option', { value: p, text: t(`p_${p}`) }));
    const cashout = el('textarea', { id: 'money-cashout', rows: '2', placeholder: 'tron:T…, exchange, Name, SG' });
    tr.append(
      el('h3', { id: 'money-trace-title', text: t('mTrace') }),
      el('label', { for: 'money-set', text: t('mSet') }), setSel,
      el('label', { for: 'money-seeds', text: t('mSeeds') }), seeds,
      el('label', { for: 'money-policy', text: t('mPolicy') }), policy,
      el('label', { for: 'money-cashout', text: t('mCashout') }), cashout,
      el('button', { type: 'submit', class: 'primary', text: t('mTraceGo') }),
    );
    tr.addEventListener('submit', (e) => {
      e.preventDefault();
      const list = seeds.value.split(/[\s,]+/).filter(Boolean);
      if (setSel.value && list.length) this.trace(setSel.value, list, policy.value, cashout.value).catch(() => {});
    });
    wrap.append(up, tr);
    return wrap;
  }

  // ---- the layered flow --------------------------------------------------------------------------------------
  flowSection() {
    const run = this.run;
    const section = el('section', { class: 'money-flow', 'aria-labelledby': 'flow-title' });
    const s = run.summary;
    section.append(
      el('h3', { id: 'flow-title', text: t('mFlow') }),
      el('p', { class: 'small', text: `${t(`p_${run.policy}`)} · ${t('mSeeded')} ${s.seeded} ${s.currency} · ${t('mHeld')} ${s.tainted_balances} · ${s.transfers} ${t('mTransfers')}${s.seeds_missing.length ? ` · ${t('mMissing')}: ${s.seeds_missing.join(', ')}` : ''}` }),
      el('p', { class: 'small muted', id: 'flow-help', text: t('mKeys') }),
    );
    const nodes = run.flow.nodes;
    const edges = run.flow.edges;
    const columns = new Map();
    for (const n of nodes) {
      if (!columns.has(n.layer)) columns.set(n.layer, []);
      columns.get(n.layer).push(n);
    }
    const layers = [...columns.keys()].sort((a, b) => a - b);
    const pos = new Map();
    layers.forEach((layer, ci) => columns.get(layer).forEach((n, ri) => pos.set(n.account, { x: 20 + ci * COL_W, y: 44 + ri * ROW_H, col: ci, row: ri })));
    const rows = Math.max(1, ...[...columns.values()].map((c) => c.length));
    const width = Math.max(600, 40 + layers.length * COL_W);
    const height = 60 + rows * ROW_H;
    const root = svg('svg', { id: 'flow', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group', 'aria-labelledby': 'flow-title', 'aria-describedby': 'flow-help' });
    root.append(Object.assign(svg('title'), { textContent: t('mFlow') }));
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#374151' }));
    defs.append(marker);
    root.append(defs);
    layers.forEach((layer, ci) => {
      const head = columns.get(layer)[0].role;
      const label = head === 'victim' ? t('r_victim') : head === 'endpoint' ? t('r_endpoint') : `${t('r_mule')} ${layer}`;
      const txt = svg('text', { x: 20 + ci * COL_W, y: 24, class: 'col-head' });
      txt.textContent = label;
      root.append(txt);
    });
    this.items = [];
    edges.forEach((e, i) => {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (!a || !b) return;
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const back = x2 <= x1;
      const d = back
        ? `M ${x1} ${y1} C ${x1 + 60} ${y1 - 50}, ${x2 - 60} ${y2 - 50}, ${x2} ${y2}`
        : `M ${x1} ${y1} C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}, ${x2} ${y2}`;
      const g = svg('g', { class: 'edge', tabindex: '-1', role: 'img', 'data-edge': String(i), 'aria-label': this.describeEdge(e) });
      g.append(svg('path', { d, 'marker-end': 'url(#arrow)' }));
      const mx = (x1 + x2) / 2;
      const my = (y1 + y2) / 2 - (back ? 38 : 0);
      const label = `${e.tainted}`;
      g.append(svg('rect', { x: mx - 4 - label.length * 3.6, y: my - 11, width: 8 + label.length * 7.2, height: 16, rx: 3, class: 'edge-label-bg' }));
      const tx = svg('text', { x: mx, y: my + 1, 'text-anchor': 'middle', class: 'edge-label' });
      tx.textContent = label;
      g.append(tx);
      root.append(g);
      this.items.push({ type: 'edge', edge: e, index: i, g });
    });
    for (const n of nodes) {
      const p = pos.get(n.account);
      const g = svg('g', { class: `node ${n.role}`, tabindex: '-1', role: 'img', 'data-account': n.account, 'aria-label': this.describeNode(n) });
      g.append(svg('rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6 }));
      const a = svg('text', { x: p.x + 8, y: p.y + 18, class: 'node-account' });
      a.textContent = short(n.account);
      const b = svg('text', { x: p.x + 8, y: p.y + 36, class: 'node-amount' });
      b.textContent = n.role === 'victim' ? `${t('mSent')} ${this.sentBy(n.account)}` : `${t('mHolds')} ${n.tainted_balance}`;
      g.append(a, b);
      root.append(g);
      this.items.push({ type: 'node', node: n, g, col: p.col, row: p.row });
    }
    for (const item of this.items) {
      item.g.addEventListener('click', () => this.setFocus(item));
      item.g.addEventListener('keydown', (ev) => this.key(ev, item));
    }
    const scroller = el('div', { class: 'flow-scroll' });
    scroller.append(root);
    const live = el('p', { id: 'flow-focus', class: 'flow-focus', 'aria-live': 'polite' });
    section.append(scroller, live, this.edgeTable());
    const first = this.items.find((i) => i.type === 'node');
    if (first) first.g.setAttribute('tabindex', '0');
    this.columns = layers.map((l) => columns.get(l).map((n) => n.account));
    return section;
  }

  // What a victim sent into the traced flow: the sum of its tainted edges (decimal text summed exactly).
  sentBy(account) {
    const d = this.run.decimals;
    const toUnits = (text) => {
      const [whole, frac = ''] = text.split('.');
      return BigInt(whole + frac.padEnd(d, '0').slice(0, d));
    };
    let total = 0n;
    for (const e of this.run.flow.edges) if (e.from === account) total += toUnits(e.tainted);
    if (!d) return total.toString();
    const s = total.toString().padStart(d + 1, '0');
    return `${s.slice(0, -d)}.${s.slice(-d)}`;
  }

  describeNode(n) {
    const role = n.role === 'victim' ? t('r_victim') : n.role === 'endpoint' ? t('r_endpoint') : `${t('r_mule')} ${n.layer}`;
    return `${role}: ${n.account}. ${t('mReceived')} ${n.tainted_received}, ${t('mHolds')} ${n.tainted_balance} ${this.run.summary.currency}.`;
  }

  describeEdge(e) {
    return `${t('mEdge')}: ${e.from} → ${e.to}. ${t('mTainted')} ${e.tainted} ${t('mOf')} ${e.amount} ${this.run.summary.currency}, ${e.transfers} ${t('mTransfers')}.`;
  }

  setFocus(item) {
    for (const i of this.items) i.g.setAttribute('tabindex', '-1');
    item.g.setAttribute('tabindex', '0');
    item.g.focus();
    this.focus = item;
    const live = document.getElementById('flow-focus');
    if (live) live.textContent = item.g.getAttribute('aria-label');
  }

  nodeItem(account) {
    return this.items.find((i) => i.type === 'node' && i.node.account === account);
  }

  key(ev, item) {
    const go = (next) => {
      if (!next) return;
      ev.preventDefault();
      this.setFocus(next);
    };
    const edgesFrom = (acc) => this.items.filter((i) => i.type === 'edge' && i.edge.from === acc);
    const edgesTo = (acc) => this.items.filter((i) => i.type === 'edge' && i.edge.to === acc);
    if (item.type === 'node') {
      const column = this.columns[item.col];
      const near = (col) => {
        const list = this.columns[col];
        return list ? this.nodeItem(list[Math.min(item.row, list.length - 1)]) : null;
      };
      switch (ev.key) {
        case 'ArrowDown': return go(this.nodeItem(column[item.row + 1]));
        case 'ArrowUp': return go(this.nodeItem(column[item.row - 1]));
        case 'ArrowRight': return go(edgesFrom(item.node.account)[0] || near(item.col + 1));
        case 'ArrowLeft': return go(edgesTo(item.node.account)[0] || near(item.col - 1));
        case 'Home': return go(this.nodeItem(this.columns[0][0]));
        case 'End': { const last = this.columns[this.columns.length - 1]; return go(this.nodeItem(last[last.length - 1])); }
        default: return undefined;
      }
    }
    const siblings = edgesFrom(item.edge.from);
    const at = siblings.indexOf(item);
    switch (ev.key) {
      case 'ArrowRight': case 'Enter': return go(this.nodeItem(item.edge.to));
      case 'ArrowLeft': return go(this.nodeItem(item.edge.from));
      case 'ArrowDown': return go(siblings[at + 1]);
      case 'ArrowUp': return go(siblings[at - 1]);
      default: return undefined;
    }
  }

  edgeTable() {
    const details = el('details', { class: 'flow-table' });
    details.append(el('summary', { text: t('mFlowTable') }));
    const table = el('table', { class: 'money-table' });
    table.append(el('caption', { text: t('mFlowTable') }));
    const head = el('tr');
    for (const h of ['mFrom', 'mTo', 'mTainted', 'mAmount', 'mTransfers']) head.append(el('th', { scope: 'col', text: t(h) }));
    table.append(el('thead', {}, head));
    const tbody = el('tbody');
    for (const e of this.run.flow.edges) {
      tbody.append(el('tr', {}, el('td', { class: 'mono', text: e.from }), el('td', { class: 'mono', text: e.to }),
        el('td', { class: 'num', text: e.tainted }), el('td', { class: 'num', text: e.amount }), el('td', { class: 'num', text: String(e.transfers) })));
    }
    table.append(tbody);
    details.append(table);
    return details;
  }

  // ---- endpoints ---------------------------------------------------------------------------------------------
  endpointsSection() {
    const section = el('section', { class: 'money-endpoints', 'aria-labelledby': 'endpoints-title' });
    section.append(el('h3', { id: 'endpoints-title', text: t('mEndpoints') }));
    const byAccount = new Map((this.controllers?.endpoints ?? []).map((e) => [e.account, e]));
    const table = el('table', { id: 'endpoints', class: 'money-table' });
    const head = el('tr');
    const freeze = this.may('request_freeze');
    for (const h of ['mAccount', 'mType', 'mCountry', 'mRole', 'mHolding', 'mReceived', 'mCashoutPoint', 'mController']) head.append(el('th', { scope: 'col', text: t(h) }));
    if (freeze) head.append(el('th', { scope: 'col', text: t('mf_actions') }));
    table.append(el('thead', {}, head));
    const tbody = el('tbody');
    for (const e of this.run.endpoints) {
      const resolved = byAccount.get(e.account);
      const who = resolved?.controllers?.length
        ? resolved.controllers.map((c) => (c.kind === 'company' ? `${c.name}${c.country ? ` (${c.country})` : ''}` : `${t('mPerson')} ${c.entity_id.slice(0, 8)}`)).join('; ')
        : (resolved?.matched_entities?.length ? t('mNamedNoController') : '–');
      const org = resolved?.organisation ?? null;
      const tr = el('tr', { 'data-account': e.account, 'data-account-type': e.account_type, 'data-country': e.country ?? '' },
        el('td', { class: 'mono', text: e.account }),
        el('td', { text: e.chain ? `${t(`t_${e.account_type}`)} (${e.chain})` : t(`t_${e.account_type}`) }),
        el('td', { text: e.country ? `${e.country} (${t(`cs_${e.country_source}`)})` : '–' }),
        el('td', { text: e.role === 'mule' ? t('r_mule') : t('r_endpoint') }),
        el('td', { class: 'num', text: `${e.holding} ${this.run.summary.currency}` }),
        el('td', { class: 'num', text: e.tainted_received }),
        el('td', { text: e.cashout || '–' }),
        el('td', { text: org === null ? who : `${who} · ${t('mOrg')} ${org}` }));
      if (freeze) {
        const button = el('button', { type: 'button', class: 'mf-open', 'aria-label': `${t('mf_request')}: ${e.account}`, text: t('mf_request') });
        button.addEventListener('click', () => openFreezeDialog(this.api, this.run, e, button));
        tr.append(el('td', {}, button));
      }
      tbody.append(tr);
    }
    table.append(tbody);
    section.append(table);
    if (this.controllers?.organisations?.length) {
      const list = el('ul', { id: 'organisations', 'aria-label': t('mOrgs') });
      for (const o of this.controllers.organisations) {
        list.append(el('li', { text: `${t('mOrg')} ${o.id}: ${o.companies.join(', ') || '–'} · ${o.endpoints.length} ${t('mEndpointsN')} · ${o.records.length} ${t('mRecords')} · ${o.money_links} ${t('mMoneyLinks')}` }));
      }
      section.append(el('h4', { text: t('mOrgs') }), list);
    }
    return section;
  }
}
